package shipevents

import (
	"strings"
	"time"
)

// DHL Shipment Tracking, Unified API: shipments[].events[], one event per
// entry (newest first in DHL responses). A shipment without events but with
// a status yields one event from that status.
//
// The status word (PROCESSED, ACCEPTED, ...) is looked up first, then the
// statusCode category (pre-transit, transit, delivered, failure,
// unknown). Event timestamps often have no zone (TimeAssumedUTC), while the
// shipment-level status timestamp has one.

type dhlPayload struct {
	Shipments []struct {
		ID                      string     `json:"id"`
		Service                 string     `json:"service"`
		Status                  *dhlEvent  `json:"status"`
		EstimatedTimeOfDelivery string     `json:"estimatedTimeOfDelivery"`
		Events                  []dhlEvent `json:"events"`
	} `json:"shipments"`
}

type dhlEvent struct {
	Timestamp string `json:"timestamp"`
	Location  struct {
		Address struct {
			AddressLocality string `json:"addressLocality"`
			PostalCode      string `json:"postalCode"`
			CountryCode     string `json:"countryCode"`
		} `json:"address"`
	} `json:"location"`
	StatusCode  string `json:"statusCode"`
	Status      string `json:"status"`
	Description string `json:"description"`
	Remark      string `json:"remark"`
}

func parseDHL(b *batch, raw []byte) error {
	var p dhlPayload
	if err := b.decode(raw, &p); err != nil {
		return err
	}
	b.newestFirst = true
	n := 0
	for i := range p.Shipments {
		n += max(len(p.Shipments[i].Events), 1)
	}
	reserveEvents(b, n)
	for i := range p.Shipments {
		sh := &p.Shipments[i]
		if len(sh.Events) == 0 && sh.Status == nil {
			continue
		}
		b.at("shipments[%d].id", i)
		tn := strings.TrimSpace(sh.ID)
		if tn == "" {
			return b.fail("missing tracking number")
		}
		eta := estimateInstant(sh.EstimatedTimeOfDelivery)
		service := strings.TrimSpace(sh.Service)
		if len(sh.Events) == 0 {
			b.at("shipments[%d].status", i)
			if err := addDHLEvent(b, sh.Status, tn, service, eta); err != nil {
				return err
			}
			continue
		}
		for k := range sh.Events {
			b.at("shipments[%d].events[%d]", i, k)
			if err := addDHLEvent(b, &sh.Events[k], tn, service, eta); err != nil {
				return err
			}
		}
	}
	if len(b.events) == 0 {
		b.at("shipments")
		return b.fail("no shipment with events or a status")
	}
	return nil
}

func addDHLEvent(b *batch, ev *dhlEvent, tn, service string, eta *time.Time) error {
	s := scan{carrier: "dhl", trackingNumber: tn}
	word := strings.TrimSpace(ev.Status)
	category := strings.TrimSpace(ev.StatusCode)
	s.raw = CarrierStatus{Code: pickNonBlank(word, category), Description: strings.TrimSpace(ev.Description)}
	if word != "" {
		s.raw.Type = category
	}
	s.lookup("dhl", "status", word)
	s.lookup("dhl", "status_code", category)
	if strings.TrimSpace(ev.Timestamp) == "" {
		return b.fail("event has no timestamp")
	}
	at, src, err := parseTimestamp(ev.Timestamp)
	if err != nil {
		return b.fail("timestamp: %v", err)
	}
	s.occurredAt, s.timeSource, s.carrierTime = at, src, strings.TrimSpace(ev.Timestamp)
	a := &ev.Location.Address
	s.loc = locationOf(a.AddressLocality, "", a.PostalCode, a.CountryCode, "")
	s.data.Description = s.raw.Description
	s.data.Service = service
	s.data.EstimatedDelivery = eta
	if r := strings.TrimSpace(ev.Remark); r != "" {
		s.data.Extra = map[string]any{"remark": r}
	}
	return b.add(&s)
}
