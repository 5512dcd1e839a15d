package shipevents

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// Karrio: a tracking event envelope {"id","type":"tracking.updated" (or
// tracking.status_updated, tracker.updated, ...),"data":...,"test_mode",
// "created_at"} whose data is the tracker itself or holds it under
// "tracking", or a bare tracker {"tracking_number","carrier_name",
// "events",...}. One event per events[].
//
// The three shapes decode into karrioPayload in one pass.

type karrioPayload struct {
	karrioTracker
	Type      string      `json:"type"`
	CreatedAt string      `json:"created_at"`
	Data      *karrioData `json:"data"`
}

type karrioData struct {
	karrioTracker
	Tracking *karrioTracker `json:"tracking"`
}

type karrioTracker struct {
	ID                string        `json:"id"`
	TrackingNumber    string        `json:"tracking_number"`
	CarrierName       string        `json:"carrier_name"`
	Status            string        `json:"status"`
	TestMode          bool          `json:"test_mode"`
	EstimatedDelivery string        `json:"estimated_delivery"`
	UpdatedAt         string        `json:"updated_at"`
	Events            []karrioEvent `json:"events"`
	Info              *struct {
		SignedBy        string `json:"signed_by"`
		ShipmentService string `json:"shipment_service"`
	} `json:"info"`
}

type karrioEvent struct {
	Date        string `json:"date"`
	Time        string `json:"time"`
	Timestamp   string `json:"timestamp"`
	Code        string `json:"code"`
	Description string `json:"description"`
	Location    string `json:"location"`
	Status      string `json:"status"`
	Reason      string `json:"reason"`
}

func parseKarrio(b *batch, raw []byte) error {
	var p karrioPayload
	if err := b.decode(raw, &p); err != nil {
		return err
	}
	tr, prefix := &p.karrioTracker, ""
	testMode := p.TestMode
	if p.Type != "" || p.Data != nil {
		b.at("type")
		if !strings.HasPrefix(p.Type, "tracking.") && !strings.HasPrefix(p.Type, "tracker.") {
			return b.fail("event type %s is not a tracking event", quote(p.Type))
		}
		b.at("data")
		if p.Data == nil {
			return b.fail("event has no data")
		}
		tr, prefix = &p.Data.karrioTracker, "data."
		if p.Data.Tracking != nil {
			tr, prefix = p.Data.Tracking, "data.tracking."
		}
		testMode = testMode || tr.TestMode
	}
	b.at("%stracking_number", prefix)
	if tr.TrackingNumber == "" {
		return b.fail("tracker has no tracking_number")
	}
	carrier := CarrierSlug(tr.CarrierName)
	base := scan{
		carrier:        carrier,
		trackingNumber: tr.TrackingNumber,
		testMode:       testMode,
	}
	base.data.EstimatedDelivery = karrioOptionalDate(tr.EstimatedDelivery)
	signedBy := ""
	if tr.Info != nil {
		base.data.Service = tr.Info.ShipmentService
		signedBy = tr.Info.SignedBy
	}

	if len(tr.Events) == 0 {
		// A new tracker has no events yet: one event from its own status,
		// at the envelope's created_at (or the tracker's updated_at).
		b.at("%sstatus", prefix)
		if tr.Status == "" {
			return b.fail("tracker has no events and no status")
		}
		at := p.CreatedAt
		if at == "" {
			at = tr.UpdatedAt
		}
		if at == "" {
			return b.fail("tracker has no events, and no created_at to date its status")
		}
		s := base
		s.raw = CarrierStatus{Code: tr.Status, Type: tr.Status}
		s.lookup(FormatKarrio, "status", tr.Status)
		b.aggResolve(&s)
		if tr.Status == "delivered" {
			s.data.SignedBy = signedBy
		}
		t, src, err := parseTimestamp(at)
		if err != nil {
			return b.fail("created_at: %v", err)
		}
		s.occurredAt, s.timeSource, s.carrierTime = t, src, at
		return b.add(&s)
	}

	fallbackTable, fallbackNS, fallbackKnown := "", "", false
	reserveEvents(b, len(tr.Events))
	for i := range tr.Events {
		e := &tr.Events[i]
		b.at("%sevents[%d]", prefix, i)
		s := base
		// Code is the carrier's own code and Type Karrio's normalized
		// status, so two scans of the same status at the same instant (a
		// date-only history) keep distinct ids.
		s.raw = CarrierStatus{Code: e.Code, Type: e.Status, Description: e.Description}
		if s.raw.Code == "" {
			s.raw.Code = e.Status
		}
		if s.raw.Code == "" {
			return b.fail("event has neither status nor code")
		}
		if e.Status != "" {
			s.lookup(FormatKarrio, "status", e.Status)
		} else if carrier != "" && e.Code != "" {
			// Karrio leaves status empty when its connector does not know
			// the code: fall back to the underlying carrier's table, when
			// that table has a single namespace the bare code can mean.
			if !fallbackKnown {
				fallbackTable, fallbackNS = karrioFallbackTable(b.n.mapper, tr.CarrierName, carrier)
				fallbackKnown = true
			}
			if fallbackNS != "" {
				s.lookup(fallbackTable, fallbackNS, e.Code)
			}
		}
		b.aggResolve(&s)
		s.data.Description = e.Description
		s.data.Reason = e.Reason
		s.data.Extra = aggExtra(nil, "carrier_code", e.Code)
		// Karrio's location is one free string. It becomes a Location only
		// when it clearly reads "City, ST" (optionally with a ZIP and a
		// country); anything else is kept verbatim in Extra["location_text"],
		// never split on a guess. ("location" itself is a typed key of
		// event_data, hence location_text.)
		if e.Location != "" {
			if s.data.Location = aggLocationText(e.Location); s.data.Location == nil {
				s.data.Extra = aggExtra(s.data.Extra, "location_text", e.Location)
			}
		}
		if e.Status == "delivered" {
			s.data.SignedBy = signedBy
		}
		if err := karrioTime(b, &s, e); err != nil {
			return err
		}
		if err := b.add(&s); err != nil {
			return err
		}
	}
	return nil
}

// karrioTime sets the scan time: the ISO timestamp when there is one (and
// it parses), else date plus time as wall-clock time read as UTC.
func karrioTime(b *batch, s *scan, e *karrioEvent) error {
	if e.Timestamp != "" {
		t, src, err := parseTimestamp(e.Timestamp)
		if err == nil {
			s.occurredAt, s.timeSource, s.carrierTime = t, src, e.Timestamp
			return nil
		}
		if e.Date == "" {
			return b.fail("timestamp: %v", err)
		}
	}
	if e.Date == "" {
		return b.fail("event has no timestamp and no date")
	}
	t, src, err := parseKarrioDateTime(e.Date, e.Time)
	if err != nil {
		return b.fail("%v", err)
	}
	s.occurredAt, s.timeSource = t, src
	s.carrierTime = strings.TrimSpace(e.Date + " " + e.Time)
	return nil
}

// karrioOptionalDate reads an optional estimated delivery: an ISO
// timestamp or date, or one of the event date forms (MM/DD/YYYY). Unreadable
// values give nil.
func karrioOptionalDate(s string) *time.Time {
	if t := estimateInstant(s); t != nil || s == "" {
		return t
	}
	t, _, err := parseKarrioDateTime(s, "")
	if err != nil || checkInstant(t) != nil {
		return nil
	}
	return &t
}

var (
	karrioDateLayouts  = []string{"2006-01-02", "1/2/2006", "2006/01/02"}
	karrioClockLayouts = []string{"15:04", "15:04:05", "3:04 PM", "3:04:05 PM", "3:04PM", "15:04:05.999999999"}
)

// parseKarrioDateTime reads a Karrio event date (YYYY-MM-DD or MM/DD/YYYY)
// and optional time (HH:MM, HH:MM:SS or "08:30 AM") as UTC wall time:
// TimeAssumedUTC, or TimeDateOnly without a time.
func parseKarrioDateTime(date, clock string) (time.Time, string, error) {
	date, clock = strings.TrimSpace(date), strings.TrimSpace(clock)
	if len(date) > 32 || len(clock) > 32 {
		return time.Time{}, "", fmt.Errorf("date %.32q time %.32q is too long", date, clock)
	}
	var d time.Time
	ok := false
	for _, l := range karrioDateLayouts {
		if t, err := time.Parse(l, date); err == nil {
			d, ok = t, true
			break
		}
	}
	if !ok {
		return time.Time{}, "", fmt.Errorf("unrecognised date %s", quote(date))
	}
	if clock == "" {
		return d, TimeDateOnly, nil
	}
	for _, l := range karrioClockLayouts {
		if c, err := time.Parse(l, strings.ToUpper(clock)); err == nil {
			return time.Date(d.Year(), d.Month(), d.Day(), c.Hour(), c.Minute(), c.Second(), c.Nanosecond(), time.UTC), TimeAssumedUTC, nil
		}
	}
	return time.Time{}, "", fmt.Errorf("unrecognised time %s", quote(clock))
}

// soleNamespaceCache remembers, for the last published table of a mapper,
// each carrier's only namespace ("" when it has several). Tables are
// immutable once published, so the cache is valid while the table is.
type soleNamespaceCache struct {
	table *mapTable
	ns    map[string]string
}

var karrioNSCache atomic.Pointer[soleNamespaceCache]

// karrioFallbackTable names the crosswalk table (and its only namespace)
// for the raw codes of a Karrio tracker whose events carry no status. The
// tables are keyed by Karrio's own carrier names (dhl_express,
// dhl_parcel_de), which the envelope slug may alias away ("dhl"), so the
// Karrio name is tried first and the slug only when no table has that name.
// A table with several namespaces gives "": a bare code cannot say which
// one it belongs to.
func karrioFallbackTable(m *Mapper, carrierName, slug string) (table, namespace string) {
	key := strings.Map(func(r rune) rune {
		switch {
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		case r == ' ' || r == '-':
			return '_'
		}
		return r
	}, strings.TrimSpace(carrierName))
	for _, c := range []string{key, slug} {
		if c == "" {
			continue
		}
		if ns, ok := m.soleNamespace(c); ok {
			return c, ns
		}
	}
	return "", ""
}

// soleNamespace returns the namespace of the carrier's table when the
// table has exactly one (else ""), and whether the carrier has a table.
func (m *Mapper) soleNamespace(carrier string) (string, bool) {
	t := m.table.Load()
	if t == nil {
		return "", false
	}
	c := karrioNSCache.Load()
	if c == nil || c.table != t {
		ns := make(map[string]string)
		multi := make(map[string]bool)
		for k := range t.exact {
			if prev, seen := ns[k.carrier]; seen && prev != k.namespace {
				multi[k.carrier] = true
			}
			ns[k.carrier] = k.namespace
		}
		for c := range multi {
			ns[c] = ""
		}
		c = &soleNamespaceCache{table: t, ns: ns}
		karrioNSCache.Store(c)
	}
	ns, ok := c.ns[carrier]
	return ns, ok
}
