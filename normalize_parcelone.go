package shipevents

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Parcel.One TrackLMC (GET /tracklmc/shipment/{trackno}): {"P1Trackno",
// "TrackingEvents":[...]}, one event per TrackingEvents[] entry, up to the
// hand-over to the last-mile carrier (whose number and name the events then
// carry).
//
// Statuscode is Parcel.One's own code and is looked up first (table
// statuscode); DeliveryStatus is Parcel.One's grouping of it into
// AfterShip's delivery sub-statuses ("InTransit_003") and is looked up in
// the AfterShip subtag table next, then its tag ("InTransit"). The raw code is Statuscode, with
// DeliveryStatus as its type. An event whose TrackingEventsStatus says the
// shipment was cancelled, or that tracking timed out, is mapped by that.
// EventdateUTC is preferred; EventdateCET
// carries an offset too and is kept as the carrier time. The status text
// can hold HTML links; the description keeps only their text.

type parcelonePayload struct {
	P1Trackno      string           `json:"P1Trackno"`
	TrackingEvents []parceloneEvent `json:"TrackingEvents"`
	Error          string           `json:"Error"`
}

type parceloneEvent struct {
	EventdateCET         string `json:"EventdateCET"`
	EventdateUTC         string `json:"EventdateUTC"`
	Statuscode           string `json:"Statuscode"`
	Status               string `json:"Status"`
	Location             string `json:"Location"`
	DeliveryStatus       string `json:"DeliveryStatus"`
	CarrierTrackno       string `json:"CarrierTrackno"`
	Carrier              string `json:"Carrier"`
	CarrierSlug          string `json:"CarrierSlug"`
	TrackingEventsStatus string `json:"TrackingEventsStatus"`
}

func parseParcelOne(b *batch, raw []byte) error {
	var p parcelonePayload
	if err := b.decode(raw, &p); err != nil {
		return err
	}
	if p.P1Trackno == "" && len(p.TrackingEvents) == 0 && p.Error != "" {
		b.at("Error")
		return b.fail("Parcel.One error: %s", quote(strings.TrimSpace(p.Error)))
	}
	b.at("P1Trackno")
	tn := strings.TrimSpace(p.P1Trackno)
	if tn == "" {
		return b.fail("missing tracking number")
	}
	if len(p.TrackingEvents) == 0 {
		b.at("TrackingEvents")
		return b.fail("no tracking events")
	}
	reserveEvents(b, len(p.TrackingEvents))
	for i := range p.TrackingEvents {
		ev := &p.TrackingEvents[i]
		b.at("TrackingEvents[%d]", i)
		s := scan{carrier: FormatParcelOne, trackingNumber: tn}
		code := strings.TrimSpace(ev.Statuscode)
		group := strings.TrimSpace(ev.DeliveryStatus)
		text := stripMarkup(ev.Status)
		s.raw = CarrierStatus{Code: pickNonBlank(code, group), Description: text}
		if code != "" {
			s.raw.Type = group
		}
		s.lookup(FormatParcelOne, "statuscode", code)
		s.lookup(FormatAfterShip, "subtag", group)
		if tag, _, ok := strings.Cut(group, "_"); ok {
			s.lookup(FormatAfterShip, "tag", tag)
		}
		parceloneEndOfTracking(&s, ev.TrackingEventsStatus)
		at, src, err := parceloneInstant(ev)
		if err != nil {
			return b.fail("%v", err)
		}
		s.occurredAt, s.timeSource = at, src
		s.carrierTime = pickNonBlank(ev.EventdateCET, ev.EventdateUTC)
		s.loc, s.data.Extra = parceloneLocation(ev.Location)
		s.data.Description = text
		s.data.Extra = aggExtra(s.data.Extra, "carrier_tracking_number", strings.TrimSpace(ev.CarrierTrackno))
		s.data.Extra = aggExtra(s.data.Extra, "last_mile_carrier", strings.TrimSpace(ev.Carrier))
		s.data.Extra = aggExtra(s.data.Extra, "last_mile_carrier_slug", strings.TrimSpace(ev.CarrierSlug))
		s.data.Extra = aggExtra(s.data.Extra, "tracking_events_status", strings.TrimSpace(ev.TrackingEventsStatus))
		if err := b.add(&s); err != nil {
			return err
		}
	}
	return nil
}

// parceloneEndOfTracking maps the events that end Parcel.One's tracking
// for a documented reason, whatever their code: TrackingEventsStatus lists
// ShipmentCancelled (the shipper cancelled) or Timeout (no progress for a
// long time).
func parceloneEndOfTracking(s *scan, status string) {
	if status == "" {
		return
	}
	for _, f := range strings.Split(status, ",") {
		switch strings.TrimSpace(f) {
		case "ShipmentCancelled":
			s.mapping, s.mapped = Mapping{Status: StatusCancelled, EventName: "SHIPMENT_CANCELLED"}, true
		case "Timeout":
			s.mapping, s.mapped = Mapping{Status: StatusError, EventName: "TRACKING_EXPIRED"}, true
		default:
			continue
		}
		s.raw.Namespace = "tracking_events_status"
		return
	}
}

// parceloneInstant returns EventdateUTC, else EventdateCET (both carry a
// zone designator).
func parceloneInstant(ev *parceloneEvent) (at time.Time, source string, err error) {
	field, v := "EventdateUTC", strings.TrimSpace(ev.EventdateUTC)
	if v == "" {
		field, v = "EventdateCET", strings.TrimSpace(ev.EventdateCET)
	}
	if v == "" {
		return time.Time{}, "", errors.New("event has neither EventdateUTC nor EventdateCET")
	}
	at, source, err = parseTimestamp(v)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("%s: %v", field, err)
	}
	return at, source, nil
}

// parceloneLocation reads Parcel.One's "CC City" locations ("DE Pohlheim");
// anything else is kept verbatim in Extra["location_text"].
func parceloneLocation(text string) (Location, map[string]any) {
	text = strings.TrimSpace(text)
	if text == "" {
		return Location{}, nil
	}
	cc, city, ok := strings.Cut(text, " ")
	if ok && aggUpperLetters(cc, 2, 2) && strings.TrimSpace(city) != "" {
		return locationOf(city, "", "", cc, ""), nil
	}
	return Location{}, map[string]any{"location_text": text}
}

// stripMarkup returns s without HTML tags and with runs of white space
// collapsed: carriers that write status texts for web pages embed links. A
// '<' that does not open a tag (a letter, '/' or '!' after it) is text.
func stripMarkup(s string) string {
	if !strings.Contains(s, "<") {
		return strings.TrimSpace(s)
	}
	var out strings.Builder
	out.Grow(len(s))
	inTag, space := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inTag:
			inTag = c != '>'
		case c == '<' && i+1 < len(s) && (s[i+1] == '/' || s[i+1] == '!' || (s[i+1]|0x20 >= 'a' && s[i+1]|0x20 <= 'z')):
			inTag = true
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			space = out.Len() > 0
		default:
			if space {
				out.WriteByte(' ')
				space = false
			}
			out.WriteByte(c)
		}
	}
	return out.String()
}
