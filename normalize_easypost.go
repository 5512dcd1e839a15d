package shipevents

import (
	"strings"
	"time"
)

// EasyPost: the Event webhook ({"object":"Event","description":
// "tracker.updated","result":{Tracker}}) or a bare Tracker
// ({"object":"Tracker",...}). One event per result.tracking_details[].
//
// Both shapes decode into easypostPayload in one pass: a bare Tracker fills
// the embedded fields, an Event fills Result (its own id, status and
// timestamps land harmlessly in the embedded fields and are read only as
// the Event's mode and created_at).

type easypostPayload struct {
	easypostTracker
	Description string           `json:"description"`
	Result      *easypostTracker `json:"result"`
}

type easypostTracker struct {
	ID              string `json:"id"`
	Object          string `json:"object"`
	Mode            string `json:"mode"`
	CreatedAt       string `json:"created_at"`
	UpdatedAt       string `json:"updated_at"`
	TrackingCode    string `json:"tracking_code"`
	Carrier         string `json:"carrier"`
	Status          string `json:"status"`
	StatusDetail    string `json:"status_detail"`
	SignedBy        string `json:"signed_by"`
	EstDeliveryDate string `json:"est_delivery_date"`
	IsReturn        bool   `json:"is_return"`
	CarrierDetail   *struct {
		Service string `json:"service"`
	} `json:"carrier_detail"`
	TrackingDetails []easypostDetail `json:"tracking_details"`
}

type easypostDetail struct {
	Message          string `json:"message"`
	Description      string `json:"description"`
	Status           string `json:"status"`
	StatusDetail     string `json:"status_detail"`
	Datetime         string `json:"datetime"`
	Source           string `json:"source"`
	CarrierCode      string `json:"carrier_code"`
	EstDeliveryDate  string `json:"est_delivery_date"`
	TrackingLocation *struct {
		City    string `json:"city"`
		State   string `json:"state"`
		Zip     string `json:"zip"`
		Country string `json:"country"`
	} `json:"tracking_location"`
}

func parseEasyPost(b *batch, raw []byte) error {
	var p easypostPayload
	if err := b.decode(raw, &p); err != nil {
		return err
	}
	tr := &p.easypostTracker
	prefix := ""
	mode := tr.Mode
	fallbackTime := tr.UpdatedAt
	switch {
	case p.Object == "Event":
		b.at("result")
		if p.Result == nil {
			return b.fail("Event has no result")
		}
		if p.Result.Object != "" && p.Result.Object != "Tracker" {
			return b.fail("Event result is a %q, not a Tracker", p.Result.Object)
		}
		tr, prefix = p.Result, "result."
		if mode == "" {
			mode = tr.Mode
		}
		fallbackTime = tr.UpdatedAt
		if fallbackTime == "" {
			fallbackTime = p.CreatedAt
		}
	case p.Object == "Tracker", p.Object == "" && (tr.TrackingCode != "" || tr.TrackingDetails != nil):
	default:
		b.at("object")
		return b.fail("object %q is neither an Event nor a Tracker", p.Object)
	}
	b.at("%stracking_code", prefix)
	if tr.TrackingCode == "" {
		return b.fail("tracker has no tracking_code")
	}

	base := scan{
		carrier:        CarrierSlug(tr.Carrier),
		trackingNumber: tr.TrackingCode,
		testMode:       mode == "test",
	}
	if tr.IsReturn {
		base.direction = DirectionReturn
	}
	if tr.CarrierDetail != nil {
		base.data.Service = tr.CarrierDetail.Service
	}
	trackerETA := aggOptionalTime(tr.EstDeliveryDate)

	if len(tr.TrackingDetails) == 0 {
		// No scans yet: one event from the tracker's own status.
		b.at("%sstatus", prefix)
		if tr.Status == "" && tr.StatusDetail == "" {
			return b.fail("tracker has no tracking_details and no status")
		}
		s := base
		s.data.EstimatedDelivery = trackerETA
		if err := easypostStatus(b, &s, tr.Status, tr.StatusDetail, "", fallbackTime, tr.SignedBy); err != nil {
			return err
		}
		s.data.Extra = aggExtra(s.data.Extra, "easypost_tracker_id", tr.ID)
		return b.add(&s)
	}
	reserveEvents(b, len(tr.TrackingDetails))
	for i := range tr.TrackingDetails {
		d := &tr.TrackingDetails[i]
		b.at("%stracking_details[%d]", prefix, i)
		s := base
		if s.carrier == "" {
			s.carrier = CarrierSlug(d.Source)
		}
		s.data.Description = d.Message
		if s.data.Description == "" {
			s.data.Description = d.Description
		}
		if l := d.TrackingLocation; l != nil {
			s.loc = locationOf(l.City, l.State, l.Zip, l.Country, "")
		}
		s.data.EstimatedDelivery = aggOptionalTime(d.EstDeliveryDate)
		if s.data.EstimatedDelivery == nil {
			s.data.EstimatedDelivery = trackerETA
		}
		if err := easypostStatus(b, &s, d.Status, d.StatusDetail, d.Message, d.Datetime, tr.SignedBy); err != nil {
			return err
		}
		s.data.Extra = aggExtra(s.data.Extra, "carrier_code", d.CarrierCode)
		s.data.Extra = aggExtra(s.data.Extra, "easypost_tracker_id", tr.ID)
		if err := b.add(&s); err != nil {
			return err
		}
	}
	return nil
}

// easypostStatus fills the status, time and signature of one EasyPost scan.
// The raw code is status_detail (EasyPost's finer vocabulary) with status
// as its type; status_detail is looked up first, then status.
func easypostStatus(b *batch, s *scan, status, detail, message, at, signedBy string) error {
	s.raw = CarrierStatus{Code: detail, Type: status, Description: message}
	if s.raw.Code == "" {
		s.raw.Code = status
	}
	s.lookup(FormatEasyPost, "status_detail", detail)
	s.lookup(FormatEasyPost, "status", status)
	b.aggResolve(s)
	if at == "" {
		return b.fail("scan has no datetime")
	}
	t, src, err := parseTimestamp(at)
	if err != nil {
		return b.fail("datetime: %v", err)
	}
	// EasyPost writes every datetime with Z, but defaults to UTC "when
	// location information is incomplete": the Z is recorded as the payload
	// states it (TimeExplicit) and the original string kept.
	s.occurredAt, s.timeSource, s.carrierTime = t, src, at
	if status == "delivered" {
		s.data.SignedBy = signedBy
	}
	return nil
}

// ---- Helpers shared by the aggregator parsers (easypost, aftership,
// shippo, karrio, fulfillment). ----

// aggResolve maps s through its lookups, which go from the finest code
// (EasyPost status_detail, AfterShip subtag, Shippo substatus) to the
// coarsest (status, tag). The first hit decides, as in batch.add, with two
// refinements:
//
//   - a hit meaning UNKNOWN (an aggregator's "unknown" or "other" detail)
//     gives way to a later hit that knows the status, so {status:
//     in_transit, status_detail: unknown} is IN_TRANSIT;
//   - a detail never downgrades a terminal milestone the coarse code states:
//     EasyPost sends delivered scans as {status: delivered, status_detail:
//     arrived_at_destination} and returns as {status: return_to_sender,
//     status_detail: in_transit}, and those are DELIVERED and RETURNED,
//     not IN_TRANSIT.
//
// It sets s.mapping when a lookup hit, and s.raw.Namespace to the
// namespace that decided (or the first one tried when none hit).
func (b *batch) aggResolve(s *scan) {
	if s.nLookup == 0 {
		return
	}
	s.raw.Namespace = s.lookups[0].namespace
	var unknown, known Mapping
	var haveUnknown, haveKnown bool
	for i := 0; i < s.nLookup; i++ {
		l := s.lookups[i]
		m, ok := b.n.mapper.Lookup(l.carrier, l.namespace, l.code)
		switch {
		case !ok:
			continue
		case m.Status == StatusUnknown:
			if !haveUnknown && !haveKnown {
				unknown, haveUnknown = m, true
				s.raw.Namespace = l.namespace
			}
			continue
		case !haveKnown:
			known, haveKnown = m, true
			s.raw.Namespace = l.namespace
			continue
		case m.Status.Terminal() && !known.Status.Terminal():
			known = m
			s.raw.Namespace = l.namespace
		}
		break
	}
	switch {
	case haveKnown:
		s.mapping, s.mapped = known, true
	case haveUnknown:
		s.mapping, s.mapped = unknown, true
	}
}

// aggExtra sets key in an Extra map, creating it, when value is not empty.
func aggExtra(m map[string]any, key, value string) map[string]any {
	if value == "" {
		return m
	}
	if m == nil {
		m = make(map[string]any, 2)
	}
	m[key] = value
	return m
}

// aggOptionalTime parses an optional timestamp (an estimated delivery);
// empty or unreadable values give nil rather than failing the payload.
func aggOptionalTime(s string) *time.Time {
	if s == "" {
		return nil
	}
	t, _, err := parseTimestamp(s)
	if err != nil || checkInstant(t) != nil {
		return nil
	}
	return &t
}

// aggLocationText reads a free-text location when it is clearly
// "City, ST", "City, ST 12345", "City, ST, 12345" or "City, ST, CC" (a
// two-letter state or province, optionally a US ZIP, optionally a 2-3
// letter country). It
// returns nil for anything else: the caller keeps the text as it is.
func aggLocationText(text string) *Location {
	text = strings.TrimSpace(text)
	if text == "" {
		return nil
	}
	parts := strings.Split(text, ",")
	if len(parts) < 2 || len(parts) > 3 {
		return nil
	}
	city := strings.TrimSpace(parts[0])
	if city == "" || strings.ContainsAny(city, "0123456789") {
		return nil
	}
	state, postal, _ := strings.Cut(strings.TrimSpace(parts[1]), " ")
	postal = strings.TrimSpace(postal)
	if !aggUpperLetters(state, 2, 2) || (postal != "" && !aggPostal(postal)) {
		return nil
	}
	country := ""
	if len(parts) == 3 {
		// The third part is a country ("US") or, after a bare state, a
		// ZIP ("SEATTLE, WA, 98101").
		third := strings.TrimSpace(parts[2])
		switch {
		case aggUpperLetters(third, 2, 3):
			country = third
		case postal == "" && aggPostal(third):
			postal = third
		default:
			return nil
		}
	}
	return newLocation(city, state, postal, country, "")
}

func aggUpperLetters(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// aggPostal accepts US ZIP and ZIP+4 codes (5 digits, optionally -4 digits).
func aggPostal(s string) bool {
	if len(s) != 5 && len(s) != 10 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if i == 5 {
			if s[i] != '-' {
				return false
			}
			continue
		}
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
