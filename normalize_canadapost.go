package shipevents

import (
	"fmt"
	"strings"
	"time"
)

// Canada Post Get Tracking Details (REST, GET vis/track/pin/{pin}/detail):
// a tracking-detail document in the http://www.canadapost.ca/ws/track
// namespace, with the pin and significant-events/occurrence[] newest first.
// Each occurrence's event-identifier is looked up as sent, keeping Canada
// Post's zero padding ("0174"); an identifier of fewer than four digits
// (a relay that read it as a number) is also tried padded to four. An
// error response (a messages document) becomes a PayloadError naming
// Canada Post's codes.
//
// Times: event-date and event-time are local wall time, and
// event-time-zone names the zone. The North American abbreviations
// (NST, NDT, AST, ADT, EST, EDT, CST, CDT, MST, MDT, PST, PDT, AKST, AKDT,
// HST) and UTC/GMT give an explicit instant; any other zone (Canada Post
// writes foreign ones as country names, "ISRAEL") or none is read as UTC
// (TimeAssumedUTC). The carrier time keeps date, time and zone as written.

const (
	canadaPostTrackNS  = "http://www.canadapost.ca/ws/track"
	canadaPostNSPrefix = "http://www.canadapost.ca/ws/"
)

// canadaPostZones are the offsets of the zone abbreviations Canada Post
// writes in event-time-zone, in seconds east of UTC.
var canadaPostZones = map[string]int{
	"UTC": 0, "GMT": 0, "Z": 0,
	"NST": -(3*3600 + 1800), "NDT": -(2*3600 + 1800),
	"AST": -4 * 3600, "ADT": -3 * 3600,
	"EST": -5 * 3600, "EDT": -4 * 3600,
	"CST": -6 * 3600, "CDT": -5 * 3600,
	"MST": -7 * 3600, "MDT": -6 * 3600,
	"PST": -8 * 3600, "PDT": -7 * 3600,
	"AKST": -9 * 3600, "AKDT": -8 * 3600,
	"HST": -10 * 3600,
}

type canadaPostDetail struct {
	pin, service, expected, changedExpected string
	events                                  []canadaPostEvent
}

type canadaPostEvent struct {
	identifier, date, clock, zone, description string
	signatory, site, province                  string
	retailLocationID, retailName               string
}

func parseCanadaPost(b *batch, raw []byte) error {
	d, root, err := b.openXML(raw)
	if err != nil {
		return err
	}
	defer d.close()
	switch {
	case string(root.Local) == "messages":
		return canadaPostMessages(d)
	case string(root.Local) != "tracking-detail":
		return b.fail("root element %s is not tracking-detail", shortName(string(root.Local)))
	}
	var p canadaPostDetail
	if err := readCanadaPostDetail(d, &p); err != nil {
		return err
	}
	if err := d.end(); err != nil {
		return err
	}
	b.at("pin")
	if p.pin == "" {
		return b.fail("missing tracking number")
	}
	if len(p.events) == 0 {
		b.at("significant-events")
		return b.fail("no significant events")
	}
	b.newestFirst = true
	reserveEvents(b, len(p.events))
	eta := estimateInstant(pickNonBlank(p.changedExpected, p.expected))
	for i := range p.events {
		ev := &p.events[i]
		b.at("significant-events.occurrence[%d]", i)
		if ev.identifier == "" {
			return b.fail("occurrence has no event-identifier")
		}
		s := scan{carrier: "canadapost", trackingNumber: p.pin}
		s.raw = CarrierStatus{Code: ev.identifier, Description: ev.description}
		s.lookup("canadapost", "event_identifier", ev.identifier)
		if padded := padIdentifier(ev.identifier); padded != "" {
			s.lookup("canadapost", "event_identifier", padded)
		}
		at, src, err := canadaPostInstant(ev)
		if err != nil {
			return b.fail("%v", err)
		}
		s.occurredAt, s.timeSource = at, src
		s.carrierTime = strings.TrimSpace(ev.date + " " + ev.clock + " " + ev.zone)
		s.loc = locationOf(ev.site, ev.province, "", "", ev.retailName)
		s.data.Description = ev.description
		s.data.Service = p.service
		s.data.EstimatedDelivery = eta
		s.data.SignedBy = ev.signatory
		if ev.retailLocationID != "" {
			s.data.Extra = map[string]any{"retail_location_id": ev.retailLocationID}
		}
		if err := b.add(&s); err != nil {
			return err
		}
	}
	return nil
}

// readCanadaPostDetail reads the children of tracking-detail, which the
// schema allows in any order.
func readCanadaPostDetail(d *xmlDoc, p *canadaPostDetail) error {
	for {
		tok, ok, err := d.child()
		if err != nil || !ok {
			return err
		}
		switch string(tok.Local) {
		case "pin":
			p.pin, err = d.text()
		case "service-name":
			p.service, err = d.text()
		case "expected-delivery-date":
			p.expected, err = d.text()
		case "changed-expected-date":
			p.changedExpected, err = d.text()
		case "significant-events":
			err = readCanadaPostEvents(d, p)
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
}

func readCanadaPostEvents(d *xmlDoc, p *canadaPostDetail) error {
	for {
		tok, ok, err := d.child()
		if err != nil || !ok {
			return err
		}
		if string(tok.Local) != "occurrence" {
			if err := d.skip(); err != nil {
				return err
			}
			continue
		}
		d.b.at("significant-events.occurrence[%d]", len(p.events))
		if err := d.b.tooManyScans(len(p.events) + 1); err != nil {
			return err
		}
		p.events = append(p.events, canadaPostEvent{})
		if err := readCanadaPostEvent(d, &p.events[len(p.events)-1]); err != nil {
			return err
		}
	}
}

func readCanadaPostEvent(d *xmlDoc, ev *canadaPostEvent) error {
	for {
		tok, ok, err := d.child()
		if err != nil || !ok {
			return err
		}
		var dst *string
		switch string(tok.Local) {
		case "event-identifier":
			dst = &ev.identifier
		case "event-date":
			dst = &ev.date
		case "event-time":
			dst = &ev.clock
		case "event-time-zone":
			dst = &ev.zone
		case "event-description":
			dst = &ev.description
		case "signatory-name":
			dst = &ev.signatory
		case "event-site":
			dst = &ev.site
		case "event-province":
			dst = &ev.province
		case "event-retail-location-id":
			dst = &ev.retailLocationID
		case "event-retail-name":
			dst = &ev.retailName
		}
		if dst == nil {
			err = d.skip()
		} else {
			*dst, err = d.text()
		}
		if err != nil {
			return err
		}
	}
}

// padIdentifier returns an all-digit identifier of one to three digits
// padded to four, as Canada Post writes them, or "".
func padIdentifier(id string) string {
	if len(id) == 0 || len(id) >= 4 {
		return ""
	}
	for i := 0; i < len(id); i++ {
		if id[i] < '0' || id[i] > '9' {
			return ""
		}
	}
	return "0000"[len(id):] + id
}

// canadaPostInstant returns the instant of an occurrence: event-date and
// event-time in the named zone when it is known, else read as UTC.
func canadaPostInstant(ev *canadaPostEvent) (time.Time, string, error) {
	if ev.date == "" {
		return time.Time{}, "", fmt.Errorf("occurrence has no event-date")
	}
	stamp := ev.date
	if ev.clock != "" {
		stamp += "T" + ev.clock
	}
	t, src, err := parseTimestamp(stamp)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("event-date and event-time: %v", err)
	}
	if src == TimeAssumedUTC {
		if off, ok := canadaPostZones[strings.ToUpper(ev.zone)]; ok {
			return t.Add(-time.Duration(off) * time.Second), TimeExplicit, nil
		}
	}
	return t, src, nil
}

// canadaPostMessages reports a Canada Post error response.
func canadaPostMessages(d *xmlDoc) error {
	var msgs []string
	for {
		tok, ok, err := d.child()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if string(tok.Local) != "message" {
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
			case "code":
				code, err = d.text()
			case "description":
				desc, err = d.text()
			default:
				err = d.skip()
			}
			if err != nil {
				return err
			}
		}
		msgs = appendMessage(msgs, code, desc)
	}
	d.b.at("messages")
	if len(msgs) == 0 {
		return d.b.fail("error response without messages")
	}
	return d.b.fail("Canada Post error (%s)", strings.Join(msgs, "; "))
}
