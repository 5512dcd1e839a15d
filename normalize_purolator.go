package shipevents

import (
	"fmt"
	"strings"
	"time"
)

// Purolator Tracking Service (E-Ship web services, SOAP): the
// TrackPackagesByPinResponse (or TrackPackagesByReferenceResponse) in the
// body of a SOAP envelope, in a http://purolator.com/pws/datatypes/
// namespace; a bare response element is read as well. One event per
// TrackingInformationList/TrackingInformation/Scans/Scan, newest first in
// Purolator responses. The scan's ScanType (Delivery, OnDelivery,
// Undeliverable, ProofOfPickUp, Other, ...) is looked up in the scan_type
// table. A response whose tracking information has no scans reports
// ResponseInformation/Errors; a SOAP fault reports its code and text.
//
// Times: ScanDate (YYYY-MM-DD) and ScanTime (HHMMSS) are the depot's
// local wall time and Purolator gives no zone (its depots span six), so
// they are read as UTC (TimeAssumedUTC); the carrier time keeps both as
// written.

const purolatorNSPrefix = "http://purolator.com/pws/datatypes/"

func isPurolatorTracking(space, local string) bool {
	return strings.HasPrefix(space, purolatorNSPrefix) &&
		(local == "TrackPackagesByPinResponse" || local == "TrackPackagesByReferenceResponse")
}

type purolatorInfo struct {
	pin    string
	scans  []purolatorScan
	errors []string
}

type purolatorScan struct {
	scanType, pin, depot, date, clock string
	description, comment, signature   string
	summary                           bool
}

type purolatorResponse struct {
	infos  []purolatorInfo
	errors []string
	nScans int
}

func parsePurolator(b *batch, raw []byte) error {
	d, root, err := b.openXML(raw)
	if err != nil {
		return err
	}
	defer d.close()
	switch string(root.Local) {
	case "TrackPackagesByPinResponse", "TrackPackagesByReferenceResponse":
	case "Fault":
		return soapFault(d)
	default:
		return b.fail("element %s is not a TrackPackagesByPinResponse", shortName(string(root.Local)))
	}
	var p purolatorResponse
	if err := readPurolatorResponse(d, &p); err != nil {
		return err
	}
	if err := d.end(); err != nil {
		return err
	}
	b.newestFirst = true
	reserveEvents(b, p.nScans)
	var skipped []string
	for i := range p.infos {
		info := &p.infos[i]
		if len(info.scans) == 0 {
			skipped = append(skipped, info.errors...)
			continue
		}
		for j := range info.scans {
			sc := &info.scans[j]
			b.at("TrackingInformationList.TrackingInformation[%d].Scans.Scan[%d]", i, j)
			tn := pickNonBlank(info.pin, sc.pin)
			if tn == "" {
				return b.fail("missing tracking number")
			}
			if sc.scanType == "" {
				return b.fail("scan has no ScanType")
			}
			s := scan{carrier: "purolator", trackingNumber: tn}
			s.raw = CarrierStatus{Code: sc.scanType, Description: sc.description}
			s.lookup("purolator", "scan_type", sc.scanType)
			at, err := purolatorInstant(sc)
			if err != nil {
				return b.fail("%v", err)
			}
			s.occurredAt, s.timeSource = at, TimeAssumedUTC
			s.carrierTime = strings.TrimSpace(sc.date + " " + sc.clock)
			s.loc = locationOf("", "", "", "", sc.depot)
			s.data.Description = sc.description
			s.data.SignedBy = sc.signature
			if sc.comment != "" || sc.summary {
				s.data.Extra = make(map[string]any, 2)
				if sc.comment != "" {
					s.data.Extra["comment"] = sc.comment
				}
				if sc.summary {
					s.data.Extra["summary_scan"] = true
				}
			}
			if err := b.add(&s); err != nil {
				return err
			}
		}
	}
	if len(b.events) == 0 {
		b.at("TrackingInformationList")
		skipped = append(skipped, p.errors...)
		if len(skipped) > 0 {
			return b.fail("no scans (%s)", strings.Join(skipped, "; "))
		}
		return b.fail("no scans")
	}
	return nil
}

func readPurolatorResponse(d *xmlDoc, p *purolatorResponse) error {
	for {
		tok, ok, err := d.child()
		if err != nil || !ok {
			return err
		}
		switch string(tok.Local) {
		case "ResponseInformation":
			err = readPurolatorErrors(d, &p.errors)
		case "TrackingInformationList":
			err = readPurolatorInfos(d, p)
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
}

func readPurolatorInfos(d *xmlDoc, p *purolatorResponse) error {
	for {
		tok, ok, err := d.child()
		if err != nil || !ok {
			return err
		}
		if string(tok.Local) != "TrackingInformation" {
			if err := d.skip(); err != nil {
				return err
			}
			continue
		}
		d.b.at("TrackingInformationList.TrackingInformation[%d]", len(p.infos))
		p.infos = append(p.infos, purolatorInfo{})
		info := &p.infos[len(p.infos)-1]
		for {
			f, ok, err := d.child()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			switch string(f.Local) {
			case "PIN":
				info.pin, err = d.childText("Value")
			case "Scans":
				err = readPurolatorScans(d, p, info)
			case "ResponseInformation":
				err = readPurolatorErrors(d, &info.errors)
			default:
				err = d.skip()
			}
			if err != nil {
				return err
			}
		}
	}
}

func readPurolatorScans(d *xmlDoc, p *purolatorResponse, info *purolatorInfo) error {
	for {
		tok, ok, err := d.child()
		if err != nil || !ok {
			return err
		}
		if string(tok.Local) != "Scan" {
			if err := d.skip(); err != nil {
				return err
			}
			continue
		}
		d.b.at("TrackingInformationList.TrackingInformation[%d].Scans.Scan[%d]", len(p.infos)-1, len(info.scans))
		p.nScans++
		if err := d.b.tooManyScans(p.nScans); err != nil {
			return err
		}
		info.scans = append(info.scans, purolatorScan{})
		sc := &info.scans[len(info.scans)-1]
		for {
			f, ok, err := d.child()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			switch string(f.Local) {
			case "ScanType":
				sc.scanType, err = d.text()
			case "PIN":
				sc.pin, err = d.childText("Value")
			case "Depot":
				sc.depot, err = d.childText("Name")
			case "ScanDate":
				sc.date, err = d.text()
			case "ScanTime":
				sc.clock, err = d.text()
			case "Description":
				sc.description, err = d.text()
			case "Comment":
				sc.comment, err = d.text()
			case "SummaryScanIndicator":
				var v string
				v, err = d.text()
				sc.summary = v == "true" || v == "1"
			case "ScanDetails":
				sc.signature, err = d.childText("DeliverySignature")
			default:
				err = d.skip()
			}
			if err != nil {
				return err
			}
		}
	}
}

// readPurolatorErrors reads ResponseInformation/Errors/Error into msgs.
func readPurolatorErrors(d *xmlDoc, msgs *[]string) error {
	for {
		tok, ok, err := d.child()
		if err != nil || !ok {
			return err
		}
		if string(tok.Local) != "Errors" {
			if err := d.skip(); err != nil {
				return err
			}
			continue
		}
		for {
			e, ok, err := d.child()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			if string(e.Local) != "Error" {
				if err := d.skip(); err != nil {
					return err
				}
				continue
			}
			var code, desc string
			for {
				f, ok, err := d.child()
				if err != nil {
					return err
				}
				if !ok {
					break
				}
				switch string(f.Local) {
				case "Code":
					code, err = d.text()
				case "Description":
					desc, err = d.text()
				default:
					err = d.skip()
				}
				if err != nil {
					return err
				}
			}
			*msgs = appendMessage(*msgs, code, desc)
		}
	}
}

// purolatorInstant reads ScanDate and ScanTime (HHMMSS, or H:MM:SS
// style), as UTC.
func purolatorInstant(sc *purolatorScan) (time.Time, error) {
	if sc.date == "" {
		return time.Time{}, fmt.Errorf("scan has no ScanDate")
	}
	clock := strings.ReplaceAll(sc.clock, ":", "")
	switch len(clock) {
	case 0:
		clock = "000000"
	case 3, 5: // a leading zero lost on the way (83704 for 08:37:04)
		clock = "0" + clock
	}
	if len(clock) == 4 {
		clock += "00"
	}
	date := strings.ReplaceAll(sc.date, "-", "")
	t, err := parseCompactDateTime(date, clock)
	if err != nil {
		return time.Time{}, fmt.Errorf("ScanDate and ScanTime %s %s: %v", quote(sc.date), quote(sc.clock), err)
	}
	return t, nil
}

// soapFault reports a SOAP 1.1 (faultcode, faultstring) or 1.2 (Code,
// Reason) fault.
func soapFault(d *xmlDoc) error {
	var code, text string
	for {
		tok, ok, err := d.child()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch string(tok.Local) {
		case "faultcode":
			code, err = d.text()
		case "faultstring":
			text, err = d.text()
		case "Code":
			code, err = d.childText("Value")
		case "Reason":
			text, err = d.childText("Text")
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
	d.b.at("Envelope.Body.Fault")
	return d.b.fail("SOAP fault (%s)", strings.Join(appendMessage(nil, code, text), ""))
}
