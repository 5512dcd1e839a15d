package shipevents

import (
	"strings"
	"time"
)

// GLS Track And Trace API v1 (api.gls-group.net/track-and-trace-v1,
// /tracking/simple/trackids/... and /tracking/simple/references/...):
// parcels[] with the parcel number in unitno (else the requested reference)
// and one event per events[] entry, newest first. A parcel the API could
// not find comes with errorCode and errorMessage and is skipped; a parcel
// asked for without events (showEvents=false) yields one event from its
// status and statusDateTime.
//
// Each event's code (INTIAL.PREADVICE, INBOUD.NORMAL, DELIVD.PARCELSHOP,
// ...) is looked up in the event_code table. The parcel's own status
// (PREADVICE, INTRANSIT, DELIVERED, ...) describes the parcel as of
// statusDateTime, so it is the fallback only for the event at that
// instant, and is kept in that event's extras as parcel_status.
//
// Times carry an offset ("2024-10-07T10:46:14+0200"): explicit instants.

type glsPayload struct {
	Parcels []glsParcel `json:"parcels"`
}

type glsParcel struct {
	Requested      string     `json:"requested"`
	UnitNo         string     `json:"unitno"`
	Status         string     `json:"status"`
	StatusDateTime string     `json:"statusDateTime"`
	Events         []glsEvent `json:"events"`
	ErrorCode      string     `json:"errorCode"`
	ErrorMessage   string     `json:"errorMessage"`
}

type glsEvent struct {
	Code          string `json:"code"`
	City          string `json:"city"`
	PostalCode    string `json:"postalCode"`
	Country       string `json:"country"`
	Description   string `json:"description"`
	EventDateTime string `json:"eventDateTime"`
}

func parseGLS(b *batch, raw []byte) error {
	var p glsPayload
	if err := b.decode(raw, &p); err != nil {
		return err
	}
	b.newestFirst = true
	n := 0
	for i := range p.Parcels {
		n += max(len(p.Parcels[i].Events), 1)
	}
	reserveEvents(b, n)
	var skipped []string
	for i := range p.Parcels {
		pc := &p.Parcels[i]
		if pc.ErrorCode != "" && len(pc.Events) == 0 {
			skipped = append(skipped, strings.TrimSpace(pc.ErrorCode+" "+pc.ErrorMessage))
			continue
		}
		b.at("parcels[%d].unitno", i)
		tn := pickNonBlank(pc.UnitNo, pc.Requested)
		if tn == "" {
			return b.fail("missing tracking number")
		}
		status := strings.TrimSpace(pc.Status)
		var statusAt time.Time
		if strings.TrimSpace(pc.StatusDateTime) != "" {
			if t, _, err := parseTimestamp(pc.StatusDateTime); err == nil {
				statusAt = t
			}
		}
		if len(pc.Events) == 0 {
			if status == "" {
				continue
			}
			b.at("parcels[%d].statusDateTime", i)
			ev := glsEvent{Code: status, EventDateTime: pc.StatusDateTime}
			if err := addGLSEvent(b, &ev, tn, "", time.Time{}, true); err != nil {
				return err
			}
			continue
		}
		for k := range pc.Events {
			b.at("parcels[%d].events[%d]", i, k)
			if err := addGLSEvent(b, &pc.Events[k], tn, status, statusAt, false); err != nil {
				return err
			}
		}
	}
	if len(b.events) == 0 {
		b.at("parcels")
		if len(skipped) > 0 {
			return b.fail("no parcel with events (%.200q)", strings.Join(skipped, "; "))
		}
		return b.fail("no parcel with events or a status")
	}
	return nil
}

// addGLSEvent adds one event. statusOnly marks the event made from the
// parcel status when the payload has no events: its code is the status.
func addGLSEvent(b *batch, ev *glsEvent, tn, status string, statusAt time.Time, statusOnly bool) error {
	s := scan{carrier: "gls", trackingNumber: tn}
	code := strings.TrimSpace(ev.Code)
	s.raw = CarrierStatus{Code: code, Description: strings.TrimSpace(ev.Description)}
	if statusOnly {
		s.lookup("gls", "status", code)
	} else {
		s.lookup("gls", "event_code", code)
	}
	field := "eventDateTime"
	if statusOnly {
		field = "statusDateTime"
	}
	if strings.TrimSpace(ev.EventDateTime) == "" {
		return b.fail("no %s", field)
	}
	at, src, err := parseTimestamp(ev.EventDateTime)
	if err != nil {
		return b.fail("%s: %v", field, err)
	}
	s.occurredAt, s.timeSource, s.carrierTime = at, src, strings.TrimSpace(ev.EventDateTime)
	if status != "" && !statusAt.IsZero() && at.Equal(statusAt) {
		s.lookup("gls", "status", status)
		s.data.Extra = map[string]any{"parcel_status": status}
	}
	s.loc = locationOf(ev.City, "", ev.PostalCode, ev.Country, "")
	s.data.Description = s.raw.Description
	return b.add(&s)
}
