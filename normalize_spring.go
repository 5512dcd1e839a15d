package shipevents

import (
	"strconv"
	"strings"
	"time"
)

// Spring GDS, XBS API TrackShipment: {"ErrorLevel","Error","Shipment":
// {"TrackingNumber",...,"Events":[...]}}, one event per Shipment.Events[]
// entry (oldest first in Spring responses). ErrorLevel 0 is success, 1 a
// completed command with errors, 10 a fatal error; a response without a
// shipment is refused with Spring's error text.
//
// Events[].Code is Spring's numeric status code (table code); the
// last-mile carrier's own code (CarrierCode) is kept in Extra. Timestamp
// is the event's Unix time and is preferred; DateTime is local wall time
// without a zone, kept as the carrier time and read as UTC
// (TimeAssumedUTC) only when Timestamp is missing.

type springPayload struct {
	ErrorLevel int             `json:"ErrorLevel"`
	Error      string          `json:"Error"`
	Shipment   *springShipment `json:"Shipment"`
}

type springShipment struct {
	TrackingNumber        string        `json:"TrackingNumber"`
	ShipperReference      string        `json:"ShipperReference"`
	Service               string        `json:"Service"`
	Carrier               string        `json:"Carrier"`
	CarrierTrackingNumber string        `json:"CarrierTrackingNumber"`
	Events                []springEvent `json:"Events"`
}

type springEvent struct {
	Timestamp          int64  `json:"Timestamp"`
	DateTime           string `json:"DateTime"`
	Country            string `json:"Country"`
	City               string `json:"City"`
	State              string `json:"State"`
	Zip                string `json:"Zip"`
	Code               *int64 `json:"Code"`
	Description        string `json:"Description"`
	CarrierCode        string `json:"CarrierCode"`
	CarrierDescription string `json:"CarrierDescription"`
}

func parseSpring(b *batch, raw []byte) error {
	var p springPayload
	if err := b.decode(raw, &p); err != nil {
		return err
	}
	b.at("Shipment")
	if p.Shipment == nil {
		if p.ErrorLevel != 0 || p.Error != "" {
			return b.fail("Spring error level %d: %s", p.ErrorLevel, quote(strings.TrimSpace(p.Error)))
		}
		return b.fail("no shipment")
	}
	sh := p.Shipment
	b.at("Shipment.TrackingNumber")
	tn := strings.TrimSpace(sh.TrackingNumber)
	if tn == "" {
		return b.fail("missing tracking number")
	}
	if len(sh.Events) == 0 {
		b.at("Shipment.Events")
		return b.fail("no tracking events")
	}
	reserveEvents(b, len(sh.Events))
	service := strings.TrimSpace(sh.Service)
	lastMile := strings.TrimSpace(sh.Carrier)
	lastMileNumber := strings.TrimSpace(sh.CarrierTrackingNumber)
	if lastMileNumber == tn {
		lastMileNumber = ""
	}
	reference := strings.TrimSpace(sh.ShipperReference)
	for i := range sh.Events {
		ev := &sh.Events[i]
		b.at("Shipment.Events[%d]", i)
		s := scan{carrier: FormatSpring, trackingNumber: tn}
		code := ""
		if ev.Code != nil {
			code = strconv.FormatInt(*ev.Code, 10)
		}
		s.raw = CarrierStatus{Code: pickNonBlank(code, ev.CarrierCode), Description: strings.TrimSpace(ev.Description)}
		s.lookup(FormatSpring, "code", code)
		switch {
		case ev.Timestamp != 0:
			s.occurredAt, s.timeSource = time.Unix(ev.Timestamp, 0).UTC(), TimeExplicit
			s.carrierTime = pickNonBlank(ev.DateTime, strconv.FormatInt(ev.Timestamp, 10))
		case strings.TrimSpace(ev.DateTime) != "":
			at, src, err := parseTimestamp(ev.DateTime)
			if err != nil {
				return b.fail("DateTime: %v", err)
			}
			s.occurredAt, s.timeSource, s.carrierTime = at, src, strings.TrimSpace(ev.DateTime)
		default:
			return b.fail("event has neither Timestamp nor DateTime")
		}
		s.loc = locationOf(ev.City, ev.State, ev.Zip, ev.Country, "")
		s.data.Description = pickNonBlank(ev.Description, ev.CarrierDescription)
		s.data.Service = service
		s.data.Extra = aggExtra(nil, "carrier_code", strings.TrimSpace(ev.CarrierCode))
		s.data.Extra = aggExtra(s.data.Extra, "carrier_description", strings.TrimSpace(ev.CarrierDescription))
		s.data.Extra = aggExtra(s.data.Extra, "last_mile_carrier", lastMile)
		s.data.Extra = aggExtra(s.data.Extra, "carrier_tracking_number", lastMileNumber)
		s.data.Extra = aggExtra(s.data.Extra, "shipper_reference", reference)
		if err := b.add(&s); err != nil {
			return err
		}
	}
	return nil
}
