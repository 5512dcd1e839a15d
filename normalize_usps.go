package shipevents

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// USPS Tracking v3: top-level trackingNumber and trackingEvents[] (newest
// first in USPS responses). The 2-character eventCode is looked up first,
// then the event text (eventType) lower-cased.
//
// Times: GMTTimestamp is an explicit instant and is preferred;
// eventTimestamp is local wall time without an offset, made explicit with
// GMTOffset when that is given and otherwise read as UTC. eventTimestamp is
// kept as the carrier time. USPS sends null for absent fields; null leaves a
// field empty.

type uspsPayload struct {
	TrackingNumber            string      `json:"trackingNumber"`
	MailClass                 string      `json:"mailClass"`
	ExpectedDeliveryTimeStamp string      `json:"expectedDeliveryTimeStamp"`
	TrackingEvents            []uspsEvent `json:"trackingEvents"`
}

type uspsEvent struct {
	EventType      string `json:"eventType"`
	EventCode      string `json:"eventCode"`
	EventTimestamp string `json:"eventTimestamp"`
	GMTTimestamp   string `json:"GMTTimestamp"`
	GMTOffset      string `json:"GMTOffset"`
	EventCity      string `json:"eventCity"`
	EventState     string `json:"eventState"`
	EventZIP       string `json:"eventZIP"`
	EventCountry   string `json:"eventCountry"`
	Name           string `json:"name"`
}

func parseUSPS(b *batch, raw []byte) error {
	var p uspsPayload
	if err := b.decode(raw, &p); err != nil {
		return err
	}
	b.at("trackingNumber")
	tn := strings.TrimSpace(p.TrackingNumber)
	if tn == "" {
		return b.fail("missing tracking number")
	}
	if len(p.TrackingEvents) == 0 {
		b.at("trackingEvents")
		return b.fail("no tracking events")
	}
	b.newestFirst = true
	reserveEvents(b, len(p.TrackingEvents))
	service := strings.TrimSpace(p.MailClass)
	eta := estimateInstant(p.ExpectedDeliveryTimeStamp)
	for i := range p.TrackingEvents {
		ev := &p.TrackingEvents[i]
		b.at("trackingEvents[%d]", i)
		s := scan{carrier: "usps", trackingNumber: tn}
		text := strings.TrimSpace(ev.EventType)
		code := strings.TrimSpace(ev.EventCode)
		s.raw = CarrierStatus{Code: code, Description: text}
		s.lookup("usps", "event_code", code)
		s.lookup("usps", "event_type", strings.ToLower(text))
		at, src, err := uspsInstant(ev)
		if err != nil {
			return b.fail("%v", err)
		}
		s.occurredAt, s.timeSource = at, src
		s.carrierTime = pickNonBlank(ev.EventTimestamp, ev.GMTTimestamp)
		s.loc = locationOf(ev.EventCity, ev.EventState, ev.EventZIP, ev.EventCountry, "")
		s.data.Description = text
		s.data.Service = service
		s.data.EstimatedDelivery = eta
		s.data.SignedBy = strings.TrimSpace(ev.Name)
		if err := b.add(&s); err != nil {
			return err
		}
	}
	return nil
}

// uspsInstant returns the instant of a USPS event: GMTTimestamp, else
// eventTimestamp shifted by GMTOffset, else eventTimestamp read as UTC.
func uspsInstant(ev *uspsEvent) (time.Time, string, error) {
	if strings.TrimSpace(ev.GMTTimestamp) != "" {
		t, src, err := parseTimestamp(ev.GMTTimestamp)
		if err != nil {
			return time.Time{}, "", fmt.Errorf("GMTTimestamp: %v", err)
		}
		if src == TimeAssumedUTC {
			src = TimeExplicit // a GMT field: UTC by definition, even without a Z
		}
		return t, src, nil
	}
	if strings.TrimSpace(ev.EventTimestamp) == "" {
		return time.Time{}, "", errors.New("event has neither GMTTimestamp nor eventTimestamp")
	}
	t, src, err := parseTimestamp(ev.EventTimestamp)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("eventTimestamp: %v", err)
	}
	if src == TimeAssumedUTC && strings.TrimSpace(ev.GMTOffset) != "" {
		off, err := parseOffset(ev.GMTOffset)
		if err != nil {
			return time.Time{}, "", fmt.Errorf("GMTOffset: %v", err)
		}
		return t.Add(-time.Duration(off) * time.Second), TimeExplicit, nil
	}
	return t, src, nil
}
