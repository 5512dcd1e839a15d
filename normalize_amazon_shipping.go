package shipevents

import (
	"strings"
)

// Amazon Shipping, Shipping API v2 getTracking: the response body
// {"payload": GetTrackingResult} or the result itself {"trackingId",
// "eventHistory", "summary", ...}. One event per eventHistory[] entry.
//
// eventCode is looked up in the event_code table. The summary's
// trackingDetailCodes (forward and returns) describe a leg as a whole:
// they are kept on the newest event of that leg, and a detail code that
// means the same status as that event's code refines its event name
// (Delivered with DeliveredToNeighbor is DELIVERED_TO_NEIGHBOR). Events
// whose shipmentType is RETURNS belong to the return leg and carry the
// return direction. eventTime is an ISO 8601 instant with a zone. Events
// come oldest first or newest first; when the first is later than the
// last, equal instants are ordered as in a newest-first list.

type amazonShippingPayload struct {
	amazonShippingResult
	Payload *amazonShippingResult `json:"payload"`
	Errors  []struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Details string `json:"details"`
	} `json:"errors"`
}

type amazonShippingResult struct {
	TrackingID             string                `json:"trackingId"`
	AlternateLegTrackingID string                `json:"alternateLegTrackingId"`
	PromisedDeliveryDate   string                `json:"promisedDeliveryDate"`
	EventHistory           []amazonShippingEvent `json:"eventHistory"`
	Summary                struct {
		TrackingDetailCodes struct {
			Forward []string `json:"forward"`
			Returns []string `json:"returns"`
		} `json:"trackingDetailCodes"`
		ProofOfDelivery struct {
			ReceivedBy string `json:"receivedBy"`
		} `json:"proofOfDelivery"`
	} `json:"summary"`
}

type amazonShippingEvent struct {
	EventCode string `json:"eventCode"`
	EventTime string `json:"eventTime"`
	Location  struct {
		City          string `json:"city"`
		StateOrRegion string `json:"stateOrRegion"`
		PostalCode    string `json:"postalCode"`
		CountryCode   string `json:"countryCode"`
	} `json:"location"`
	ShipmentType string `json:"shipmentType"`
}

func parseAmazonShipping(b *batch, raw []byte) error {
	var p amazonShippingPayload
	if err := b.decode(raw, &p); err != nil {
		return err
	}
	// The paths of errors; each event's is a constant format, so that
	// recording it per event boxes no string.
	r, prefix, eventPath := &p.amazonShippingResult, "", "eventHistory[%d]"
	if p.Payload != nil {
		r, prefix, eventPath = p.Payload, "payload.", "payload.eventHistory[%d]"
	}
	if r.TrackingID == "" && len(r.EventHistory) == 0 && len(p.Errors) > 0 {
		e := p.Errors[0]
		b.at("errors[0]")
		return b.fail("Amazon Shipping error %s: %s", quote(strings.TrimSpace(e.Code)), quote(pickNonBlank(e.Details, e.Message)))
	}
	b.at("%strackingId", prefix)
	tn := strings.TrimSpace(r.TrackingID)
	if tn == "" {
		return b.fail("missing tracking number")
	}
	if len(r.EventHistory) == 0 {
		b.at("%seventHistory", prefix)
		return b.fail("no tracking events")
	}
	reserveEvents(b, len(r.EventHistory))
	eta := estimateInstant(r.PromisedDeliveryDate)
	alternate := strings.TrimSpace(r.AlternateLegTrackingID)
	if alternate == "null" { // Amazon's own example sends the word
		alternate = ""
	}
	for i := range r.EventHistory {
		ev := &r.EventHistory[i]
		b.at(eventPath, i)
		s := scan{carrier: FormatAmazonShipping, trackingNumber: tn}
		code := strings.TrimSpace(ev.EventCode)
		if code == "" {
			return b.fail("event has no eventCode")
		}
		s.raw = CarrierStatus{Code: code}
		s.lookup(FormatAmazonShipping, "event_code", code)
		if strings.TrimSpace(ev.EventTime) == "" {
			return b.fail("event has no eventTime")
		}
		at, src, err := parseTimestamp(ev.EventTime)
		if err != nil {
			return b.fail("eventTime: %v", err)
		}
		s.occurredAt, s.timeSource, s.carrierTime = at, src, strings.TrimSpace(ev.EventTime)
		l := &ev.Location
		s.loc = locationOf(l.City, l.StateOrRegion, l.PostalCode, l.CountryCode, "")
		if strings.EqualFold(strings.TrimSpace(ev.ShipmentType), "RETURNS") {
			s.direction = DirectionReturn
		}
		s.data.EstimatedDelivery = eta
		if code == "Delivered" {
			s.data.SignedBy = strings.TrimSpace(r.Summary.ProofOfDelivery.ReceivedBy)
		}
		s.data.Extra = aggExtra(nil, "alternate_leg_tracking_id", alternate)
		if err := b.add(&s); err != nil {
			return err
		}
	}
	// Amazon's own example lists the events oldest first, other responses
	// newest first: reading the order from the ends spares the batch a sort.
	if k := len(b.events); k > 1 && b.events[0].OccurredAt.After(b.events[k-1].OccurredAt) {
		b.newestFirst = true
	}
	amazonDetailCodes(b, DirectionForward, r.Summary.TrackingDetailCodes.Forward)
	amazonDetailCodes(b, DirectionReturn, r.Summary.TrackingDetailCodes.Returns)
	return nil
}

// amazonDetailCodes attaches a leg's detail codes to the newest event of
// that leg, and lets the first of them whose status agrees with the
// event's refine its event name. The events are still in payload order
// here; ties in time go to the later entry, as the batch sorts them.
func amazonDetailCodes(b *batch, leg Direction, codes []string) {
	newest := -1
	for i := range b.events {
		e := &b.events[i]
		if e.Direction != leg {
			continue
		}
		if newest < 0 || !e.OccurredAt.Before(b.events[newest].OccurredAt) {
			newest = i
		}
	}
	if newest < 0 {
		return
	}
	e := &b.events[newest]
	kept := make([]any, 0, len(codes))
	refined := false
	for _, c := range codes {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		kept = append(kept, c)
		if refined {
			continue
		}
		if m, ok := b.n.mapper.Lookup(FormatAmazonShipping, "detail_code", c); ok && m.Status == e.Status && m.Status != StatusUnknown {
			e.setShipmentStatus(m)
			refined = true
		}
	}
	if len(kept) == 0 {
		return
	}
	if e.Data.Extra == nil {
		e.Data.Extra = make(map[string]any, 1)
	}
	e.Data.Extra["detail_codes"] = kept
}
