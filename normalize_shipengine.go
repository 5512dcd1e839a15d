package shipevents

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ShipEngine: the tracking webhook {"resource_url","resource_type":
// "API_TRACK","data":{tracking information}} or the track response (GET
// /v1/tracking, /v1/labels/{id}/track), which is that tracking information
// itself. One event per events[] entry (newest first in ShipEngine
// payloads).
//
// ShipEngine is an aggregator: the envelope carrier is the underlying
// carrier (carrier_code, "stamps_com" read as usps), and carrier_status.code
// keeps that carrier's own, most specific code (carrier_detail_code, else
// carrier_status_code, else event_code) with ShipEngine's status_code beside
// it as the type and its status_detail_code in Extra. The mapping is
// ShipEngine's first: status_detail_code, then status_code, with the
// aggregator rules (an unknown detail gives way, a detail never downgrades a
// terminal status). Only when ShipEngine's codes mean nothing known is the
// carrier's code looked up in that carrier's table (UPS type and code, USPS
// event codes).
//
// occurred_at is an instant with a zone; carrier_occurred_at is the local
// time at the scan and is kept as the carrier time (it is read as UTC,
// TimeAssumedUTC, only when occurred_at is missing). A payload without
// events has no scan time and is refused.

type shipenginePayload struct {
	shipengineTracking
	ResourceType string              `json:"resource_type"`
	Data         *shipengineTracking `json:"data"`
}

type shipengineTracking struct {
	TrackingNumber        string            `json:"tracking_number"`
	StatusCode            string            `json:"status_code"`
	CarrierCode           string            `json:"carrier_code"`
	EstimatedDeliveryDate string            `json:"estimated_delivery_date"`
	Events                []shipengineEvent `json:"events"`
}

type shipengineEvent struct {
	OccurredAt               string `json:"occurred_at"`
	CarrierOccurredAt        string `json:"carrier_occurred_at"`
	Description              string `json:"description"`
	CityLocality             string `json:"city_locality"`
	StateProvince            string `json:"state_province"`
	PostalCode               string `json:"postal_code"`
	CountryCode              string `json:"country_code"`
	Signer                   string `json:"signer"`
	EventCode                string `json:"event_code"`
	CarrierDetailCode        string `json:"carrier_detail_code"`
	StatusCode               string `json:"status_code"`
	StatusDetailCode         string `json:"status_detail_code"`
	StatusDescription        string `json:"status_description"`
	StatusDetailDescription  string `json:"status_detail_description"`
	CarrierStatusCode        string `json:"carrier_status_code"`
	CarrierStatusDescription string `json:"carrier_status_description"`
}

func parseShipEngine(b *batch, raw []byte) error {
	var p shipenginePayload
	if err := b.decode(raw, &p); err != nil {
		return err
	}
	tr, prefix := &p.shipengineTracking, ""
	if p.ResourceType != "" || p.Data != nil {
		b.at("resource_type")
		if p.ResourceType != "API_TRACK" {
			return b.fail("webhook resource_type %s is not a tracking event (API_TRACK)", quote(p.ResourceType))
		}
		b.at("data")
		if p.Data == nil {
			return b.fail("tracking webhook has no data")
		}
		tr, prefix = p.Data, "data."
	}
	// Each event's path is a constant format, so that recording it per
	// event boxes no string.
	eventPath := "events[%d]"
	if prefix != "" {
		eventPath = "data.events[%d]"
	}
	b.at("%stracking_number", prefix)
	tn := strings.TrimSpace(tr.TrackingNumber)
	if tn == "" {
		return b.fail("missing tracking number")
	}
	if len(tr.Events) == 0 {
		b.at("%sevents", prefix)
		return b.fail("no tracking events (status %s has no scan time)", quote(tr.StatusCode))
	}
	b.newestFirst = true
	reserveEvents(b, len(tr.Events))
	carrierCode := strings.TrimSpace(tr.CarrierCode)
	carrier := CarrierSlug(carrierCode)
	if carrier == "" {
		carrier = FormatShipEngine
	}
	eta := estimateInstant(tr.EstimatedDeliveryDate)
	for i := range tr.Events {
		ev := &tr.Events[i]
		b.at(eventPath, i)
		s := scan{carrier: carrier, trackingNumber: tn}
		detail := strings.TrimSpace(ev.StatusDetailCode)
		status := strings.TrimSpace(ev.StatusCode)
		carrierStatus := pickNonBlank(ev.CarrierStatusCode, ev.EventCode)
		carrierDetail := strings.TrimSpace(ev.CarrierDetailCode)
		// The carrier's most specific code is the raw code: UPS sends its
		// activity type as carrier_status_code ("I") and the code itself
		// as carrier_detail_code ("OR").
		carrierRaw := pickNonBlank(carrierDetail, carrierStatus)
		s.raw = CarrierStatus{
			Code:        pickNonBlank(carrierRaw, detail, status),
			Description: pickNonBlank(ev.CarrierStatusDescription, ev.Description, ev.StatusDetailDescription, ev.StatusDescription),
		}
		if carrierRaw != "" {
			s.raw.Type = status
		}
		s.lookup(FormatShipEngine, "status_detail_code", detail)
		s.lookup(FormatShipEngine, "status_code", status)
		b.aggResolve(&s)
		if !s.mapped || s.mapping.Status == StatusUnknown {
			shipengineCarrierFallback(b, &s, carrier, carrierStatus, carrierDetail)
		}
		at, src, carrierTime, err := shipengineInstant(ev)
		if err != nil {
			return b.fail("%v", err)
		}
		s.occurredAt, s.timeSource, s.carrierTime = at, src, carrierTime
		s.loc = locationOf(ev.CityLocality, ev.StateProvince, ev.PostalCode, ev.CountryCode, "")
		s.data.Description = pickNonBlank(ev.Description, ev.CarrierStatusDescription, ev.StatusDetailDescription)
		s.data.EstimatedDelivery = eta
		if s.mapping.Status == StatusDelivered || status == "DE" {
			s.data.SignedBy = strings.TrimSpace(ev.Signer)
		}
		if carrierRaw != "" {
			s.data.Extra = aggExtra(nil, "shipengine_status_detail_code", detail)
		}
		if carrierStatus != carrierRaw {
			s.data.Extra = aggExtra(s.data.Extra, "carrier_status_code", carrierStatus)
		}
		s.data.Extra = aggExtra(s.data.Extra, "shipengine_carrier_code", carrierCode)
		if err := b.add(&s); err != nil {
			return err
		}
	}
	return nil
}

// shipengineCarrierFallback maps a scan that ShipEngine left unmapped by
// the underlying carrier's own code, for the carriers whose codes
// ShipEngine passes through as they are: UPS activity type
// (carrier_status_code) and code (carrier_detail_code), USPS event codes.
func shipengineCarrierFallback(b *batch, s *scan, carrier, status, detail string) {
	if status == "" {
		return
	}
	var refs [2]codeRef
	n := 0
	switch carrier {
	case "ups":
		if detail != "" {
			refs[n] = codeRef{"ups", "type_code", status + ":" + detail}
			n++
		}
		refs[n] = codeRef{"ups", "type", status}
		n++
	case "usps":
		refs[n] = codeRef{"usps", "event_code", status}
		n++
	}
	for _, r := range refs[:n] {
		if m, ok := b.n.mapper.Lookup(r.carrier, r.namespace, r.code); ok && m.Status != StatusUnknown {
			s.mapping, s.mapped, s.raw.Namespace = m, true, r.namespace
			return
		}
	}
}

// shipengineInstant returns occurred_at (an instant), else
// carrier_occurred_at read as UTC, and the carrier time to keep.
func shipengineInstant(ev *shipengineEvent) (time.Time, string, string, error) {
	local := strings.TrimSpace(ev.CarrierOccurredAt)
	v := strings.TrimSpace(ev.OccurredAt)
	field := "occurred_at"
	if v == "" {
		v, field = local, "carrier_occurred_at"
	}
	if v == "" {
		return time.Time{}, "", "", errors.New("event has neither occurred_at nor carrier_occurred_at")
	}
	t, src, err := parseTimestamp(v)
	if err != nil {
		return time.Time{}, "", "", fmt.Errorf("%s: %v", field, err)
	}
	return t, src, pickNonBlank(local, v), nil
}
