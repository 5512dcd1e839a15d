package shipevents

import (
	"fmt"
	"strings"
	"time"

	"github.com/shipevents/shipevents/internal/xmlscan"
)

// DHL Parcel DE Shipment Tracking (Post & Parcel Germany), the business
// query d-get-piece-detail: a data element named piece-shipment-list
// (code "0" on success) holding data elements named piece-shipment, each
// with its piece-event-list of piece-event elements, oldest first. All
// values are attributes. The envelope carrier is "dhl".
//
// Each piece-event carries three codes: the ICE (International Coded
// Event, "SRTED"), the RIC (Reason Instruction Code, "NRQRD") and DHL's
// standard event code ("PO"), the milestone. They are looked up as ICE
// and RIC together ("SRTED:NRQRD", namespace ice_ric), then the ICE alone
// (ice), then the standard event code (standard_event_code): the ICE
// names what happened, but for movements (sorted, loaded, unloaded) only
// the standard event code says whether that was in the network or onto
// the delivery vehicle. The raw code is the ICE with the RIC as its type.
// A piece-shipment with an error-status other than "0" is skipped; one
// without events gives one event from its own status attributes.
//
// Times: event-timestamp is "DD.MM.YYYY HH:MM", German wall time without
// an offset; the API does not state a zone, so it is read as UTC
// (TimeAssumedUTC) and kept as written in the carrier time.

type dhlDEShipment struct {
	errorStatus string
	pieceCode   string
	product     string
	deliveryDay string
	returning   bool
	status      dhlDEEvent // the shipment's own latest status
	events      []dhlDEEvent
}

type dhlDEEvent struct {
	timestamp, description, shortStatus string
	ice, ric, standardCode              string
	location, country                   string
}

func parseDHLParcelDE(b *batch, raw []byte) error {
	d, root, err := b.openXML(raw)
	if err != nil {
		return err
	}
	defer d.close()
	if string(root.Local) != "data" {
		return b.fail("root element %s is not data", shortName(string(root.Local)))
	}
	var name, code, errText string
	for i := range root.Attrs {
		a := &root.Attrs[i]
		if a.Prefix != nil {
			continue
		}
		switch string(a.Local) {
		case "name":
			name = attrString(a)
		case "code":
			code = attrString(a)
		case "error":
			errText = attrString(a)
		}
	}
	if name != "piece-shipment-list" {
		return b.fail("root data element is named %s, not piece-shipment-list", shortName(name))
	}
	if code != "" && code != "0" {
		return b.fail("DHL tracking error (%s)", strings.Join(appendMessage(nil, code, errText), ""))
	}
	var shipments []dhlDEShipment
	nScans := 0
	for {
		tok, ok, err := d.child()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if !isData(&tok, "piece-shipment") {
			if err := d.skip(); err != nil {
				return err
			}
			continue
		}
		b.at("piece-shipment[%d]", len(shipments))
		shipments = append(shipments, dhlDEShipment{})
		if err := readDHLDEShipment(d, &tok, &shipments[len(shipments)-1], &nScans); err != nil {
			return err
		}
	}
	if err := d.end(); err != nil {
		return err
	}
	reserveEvents(b, nScans)
	var skipped []string
	for i := range shipments {
		sh := &shipments[i]
		if sh.errorStatus != "" && sh.errorStatus != "0" {
			skipped = appendMessage(skipped, sh.errorStatus, "no tracking data for "+sh.pieceCode)
			continue
		}
		b.at("piece-shipment[%d]", i)
		if sh.pieceCode == "" {
			return b.fail("missing tracking number")
		}
		base := scan{carrier: "dhl", trackingNumber: sh.pieceCode}
		if sh.returning {
			base.direction = DirectionReturn
		}
		base.data.Service = sh.product
		base.data.EstimatedDelivery = dhlDEEstimate(sh.deliveryDay)
		events := sh.events
		if len(events) == 0 && sh.status.timestamp != "" {
			events = []dhlDEEvent{sh.status}
		}
		for j := range events {
			if len(sh.events) > 0 {
				b.at("piece-shipment[%d].piece-event-list.piece-event[%d]", i, j)
			}
			if err := addDHLDEEvent(b, &base, &events[j]); err != nil {
				return err
			}
		}
	}
	if len(b.events) == 0 {
		b.at("piece-shipment")
		if len(skipped) > 0 {
			return b.fail("no piece events (%s)", strings.Join(skipped, "; "))
		}
		return b.fail("no piece events")
	}
	return nil
}

// isData reports whether tok is a data element with the given name
// attribute.
func isData(tok *xmlscan.Token, name string) bool {
	if string(tok.Local) != "data" {
		return false
	}
	for i := range tok.Attrs {
		a := &tok.Attrs[i]
		if a.Prefix == nil && string(a.Local) == "name" {
			return string(a.Value) == name
		}
	}
	return false
}

func readDHLDEShipment(d *xmlDoc, tok *xmlscan.Token, sh *dhlDEShipment, nScans *int) error {
	for i := range tok.Attrs {
		a := &tok.Attrs[i]
		if a.Prefix != nil {
			continue
		}
		switch string(a.Local) {
		case "error-status":
			sh.errorStatus = attrString(a)
		case "piece-code":
			sh.pieceCode = pickNonBlank(attrString(a), sh.pieceCode)
		case "searched-piece-code", "piece-identifier":
			if sh.pieceCode == "" {
				sh.pieceCode = attrString(a)
			}
		case "product-name":
			sh.product = attrString(a)
		case "delivery-date":
			sh.deliveryDay = attrString(a)
		case "ruecksendung":
			sh.returning = attrString(a) == "true"
		case "status-timestamp":
			sh.status.timestamp = attrString(a)
		case "status":
			sh.status.description = attrString(a)
		case "short-status":
			sh.status.shortStatus = attrString(a)
		default:
			readDHLDEEventAttr(a, &sh.status)
		}
	}
	for {
		tok, ok, err := d.child()
		if err != nil || !ok {
			return err
		}
		if !isData(&tok, "piece-event-list") {
			if err := d.skip(); err != nil {
				return err
			}
			continue
		}
		for {
			ev, ok, err := d.child()
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			if isData(&ev, "piece-event") {
				*nScans++
				if err := d.b.tooManyScans(*nScans); err != nil {
					return err
				}
				var e dhlDEEvent
				for i := range ev.Attrs {
					a := &ev.Attrs[i]
					if a.Prefix != nil {
						continue
					}
					switch string(a.Local) {
					case "event-timestamp":
						e.timestamp = attrString(a)
					case "event-status":
						e.description = pickNonBlank(attrString(a), e.description)
					case "event-text":
						if e.description == "" {
							e.description = attrString(a)
						}
					case "event-short-status":
						e.shortStatus = attrString(a)
					default:
						readDHLDEEventAttr(a, &e)
					}
				}
				sh.events = append(sh.events, e)
			}
			if err := d.skip(); err != nil {
				return err
			}
		}
	}
}

// readDHLDEEventAttr reads the attributes a piece-event shares with its
// piece-shipment's status.
func readDHLDEEventAttr(a *xmlscan.Attr, e *dhlDEEvent) {
	switch string(a.Local) {
	case "ice":
		e.ice = attrString(a)
	case "ric":
		e.ric = attrString(a)
	case "standard-event-code":
		e.standardCode = attrString(a)
	case "event-location":
		e.location = attrString(a)
	case "event-country":
		e.country = attrString(a)
	}
}

func addDHLDEEvent(b *batch, base *scan, ev *dhlDEEvent) error {
	if ev.timestamp == "" {
		return b.fail("piece event has no event-timestamp")
	}
	code := pickNonBlank(ev.ice, ev.standardCode)
	if code == "" {
		return b.fail("piece event has neither ice nor standard-event-code")
	}
	s := *base
	s.raw = CarrierStatus{Code: code, Type: ev.ric, Description: pickNonBlank(ev.description, ev.shortStatus)}
	if ev.ice != "" && ev.ric != "" {
		s.lookup("dhl_parcel_de", "ice_ric", ev.ice+":"+ev.ric)
	}
	s.lookup("dhl_parcel_de", "ice", ev.ice)
	s.lookup("dhl_parcel_de", "standard_event_code", ev.standardCode)
	at, err := dhlDETime(ev.timestamp)
	if err != nil {
		return b.fail("event-timestamp: %v", err)
	}
	s.occurredAt, s.timeSource, s.carrierTime = at, TimeAssumedUTC, ev.timestamp
	s.loc = locationOf(ev.location, "", "", ev.country, "")
	s.data.Description = s.raw.Description
	if ev.standardCode != "" || ev.shortStatus != "" {
		s.data.Extra = make(map[string]any, 2)
		if ev.standardCode != "" {
			s.data.Extra["standard_event_code"] = ev.standardCode
		}
		if ev.shortStatus != "" {
			s.data.Extra["short_status"] = ev.shortStatus
		}
	}
	return b.add(&s)
}

// dhlDETime reads "DD.MM.YYYY HH:MM" (seconds optional) as UTC.
func dhlDETime(v string) (time.Time, error) {
	date, clock, _ := strings.Cut(v, " ")
	if len(date) != 10 || date[2] != '.' || date[5] != '.' {
		return time.Time{}, fmt.Errorf("%s is not DD.MM.YYYY HH:MM", quote(v))
	}
	clock = strings.ReplaceAll(clock, ":", "")
	if len(clock) == 0 || len(clock) == 4 || len(clock) == 6 {
		if t, err := parseCompactDateTime(date[6:]+date[3:5]+date[:2], clock); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%s is not DD.MM.YYYY HH:MM", quote(v))
}

// dhlDEEstimate reads delivery-date (DD.MM.YYYY), nil when it does not
// parse.
func dhlDEEstimate(v string) *time.Time {
	if v == "" {
		return nil
	}
	date, _, _ := strings.Cut(v, " ")
	t, err := dhlDETime(date)
	if err != nil || checkInstant(t) != nil {
		return nil
	}
	return &t
}
