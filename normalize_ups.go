package shipevents

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// UPS payloads come in two shapes: the Track API response
// (trackResponse.shipment[].package[].activity[], newest activity first)
// and the flat Track Alert webhook (one activity per request). Both are
// decoded into one typed struct in a single pass.
//
// A UPS code means something only with its type ("I:OT" is out for
// delivery, not in transit), so lookups go type_code ("I:OT"), then the
// type letter alone, then the 3-digit statusCode.
//
// Times: gmtDate/gmtTime (gmtActivityDate/gmtActivityTime in the webhook)
// are already GMT, so they are read as UTC and are explicit instants. The
// gmtOffset only matters when the GMT fields are missing: then the local
// date and time shifted by it is the instant. Without either, the local
// time is read as UTC (TimeAssumedUTC).

type upsPayload struct {
	TrackResponse *upsTrackResponse `json:"trackResponse"`
	// Error response of the Track API ({"response":{"errors":[...]}}).
	Response *struct {
		Errors []upsMessage `json:"errors"`
	} `json:"response"`

	// The Track Alert webhook body: flat, one activity.
	TrackingNumber        string     `json:"trackingNumber"`
	LocalActivityDate     string     `json:"localActivityDate"`
	LocalActivityTime     string     `json:"localActivityTime"`
	GMTActivityDate       string     `json:"gmtActivityDate"`
	GMTActivityTime       string     `json:"gmtActivityTime"`
	GMTOffset             string     `json:"gmtOffset"`
	ActivityLocation      upsAddress `json:"activityLocation"`
	ActivityStatus        *upsStatus `json:"activityStatus"`
	ScheduledDeliveryDate string     `json:"scheduledDeliveryDate"`
	ActualDeliveryDate    string     `json:"actualDeliveryDate"`
	ReceivedBy            string     `json:"receivedBy"`
}

type upsTrackResponse struct {
	Shipment []upsShipment `json:"shipment"`
}

type upsShipment struct {
	InquiryNumber string       `json:"inquiryNumber"`
	Package       []upsPackage `json:"package"`
	Warnings      []upsMessage `json:"warnings"`
}

type upsMessage struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type upsPackage struct {
	TrackingNumber string        `json:"trackingNumber"`
	Activity       []upsActivity `json:"activity"`
	DeliveryDate   []struct {
		Type string `json:"type"`
		Date string `json:"date"`
	} `json:"deliveryDate"`
	DeliveryInformation struct {
		ReceivedBy string `json:"receivedBy"`
	} `json:"deliveryInformation"`
	Service struct {
		Description string `json:"description"`
	} `json:"service"`
}

type upsActivity struct {
	Date      string `json:"date"`
	Time      string `json:"time"`
	GMTDate   string `json:"gmtDate"`
	GMTTime   string `json:"gmtTime"`
	GMTOffset string `json:"gmtOffset"`
	Location  struct {
		Address upsAddress `json:"address"`
	} `json:"location"`
	Status upsStatus `json:"status"`
}

type upsAddress struct {
	City          string `json:"city"`
	StateProvince string `json:"stateProvince"`
	PostalCode    string `json:"postalCode"`
	CountryCode   string `json:"countryCode"`
	Country       string `json:"country"`
}

type upsStatus struct {
	Type        string `json:"type"`
	Code        string `json:"code"`
	Description string `json:"description"`
	StatusCode  string `json:"statusCode"`
	// descriptionCode (webhook only) is the 3-digit status code; the spec's
	// examples send it as a string, other samples as a number.
	DescriptionCode json.RawMessage `json:"descriptionCode"`
}

// upsCode reads a code that UPS sends either as a JSON string or as a
// number (descriptionCode); ok is false for any other JSON type.
func upsCode(raw json.RawMessage) (code string, ok bool) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return "", true
	case raw[0] == '"':
		var s string
		if err := decodeJSON(raw, &s); err != nil {
			return "", false
		}
		return strings.TrimSpace(s), true
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		return string(raw), true
	}
	return "", false
}

func parseUPS(b *batch, raw []byte) error {
	var p upsPayload
	if err := b.decode(raw, &p); err != nil {
		return err
	}
	switch {
	case p.TrackResponse != nil:
		return parseUPSTrack(b, p.TrackResponse)
	case p.ActivityStatus != nil:
		return parseUPSAlert(b, &p)
	case p.Response != nil && len(p.Response.Errors) > 0:
		e := p.Response.Errors[0]
		return b.fail("UPS error response %s: %s", quote(e.Code), quote(e.Message))
	case p.TrackingNumber != "":
		b.at("activityStatus")
		return b.fail("Track Alert webhook without activityStatus")
	}
	return b.fail("neither a Track API response (trackResponse) nor a Track Alert webhook (trackingNumber, activityStatus)")
}

func parseUPSTrack(b *batch, tr *upsTrackResponse) error {
	b.newestFirst = true // "the most recent activity on the response is index 0"
	n := 0
	for i := range tr.Shipment {
		for j := range tr.Shipment[i].Package {
			n += len(tr.Shipment[i].Package[j].Activity)
		}
	}
	reserveEvents(b, n)
	var warnings []string
	for i := range tr.Shipment {
		sh := &tr.Shipment[i]
		for _, w := range sh.Warnings {
			warnings = append(warnings, strings.TrimSpace(w.Code+" "+w.Message))
		}
		for j := range sh.Package {
			pkg := &sh.Package[j]
			if len(pkg.Activity) == 0 {
				continue
			}
			b.at("trackResponse.shipment[%d].package[%d].trackingNumber", i, j)
			tn := strings.TrimSpace(pkg.TrackingNumber)
			if tn == "" && len(sh.Package) == 1 {
				tn = strings.TrimSpace(sh.InquiryNumber)
			}
			if tn == "" {
				return b.fail("missing tracking number")
			}
			eta := upsEstimatedDelivery(pkg)
			for k := range pkg.Activity {
				a := &pkg.Activity[k]
				b.at("trackResponse.shipment[%d].package[%d].activity[%d]", i, j, k)
				s := scan{carrier: "ups", trackingNumber: tn}
				upsLookups(&s, &a.Status, a.Status.StatusCode)
				at, src, err := upsInstant(a.GMTDate, a.GMTTime, a.GMTOffset, a.Date, a.Time)
				if err != nil {
					return b.fail("%v", err)
				}
				s.occurredAt, s.timeSource = at, src
				s.carrierTime = upsCarrierTime(a.Date, a.Time, a.GMTDate, a.GMTTime)
				addr := &a.Location.Address
				s.loc = locationOf(addr.City, addr.StateProvince, addr.PostalCode, pickNonBlank(addr.CountryCode, addr.Country), "")
				s.data.Description = strings.TrimSpace(a.Status.Description)
				s.data.Service = strings.TrimSpace(pkg.Service.Description)
				s.data.EstimatedDelivery = eta
				if strings.EqualFold(strings.TrimSpace(a.Status.Type), "D") {
					s.data.SignedBy = strings.TrimSpace(pkg.DeliveryInformation.ReceivedBy)
				}
				if sc := strings.TrimSpace(a.Status.StatusCode); sc != "" {
					s.data.Extra = map[string]any{"status_code": sc}
				}
				if err := b.add(&s); err != nil {
					return err
				}
			}
		}
	}
	if len(b.events) == 0 {
		b.at("trackResponse.shipment")
		if len(warnings) > 0 {
			return b.fail("no activity in any package (%s)", quoteList(warnings, 3))
		}
		return b.fail("no activity in any package")
	}
	return nil
}

func parseUPSAlert(b *batch, a *upsPayload) error {
	b.at("trackingNumber")
	tn := strings.TrimSpace(a.TrackingNumber)
	if tn == "" {
		return b.fail("missing tracking number")
	}
	st := a.ActivityStatus
	s := scan{carrier: "ups", trackingNumber: tn}
	statusCode := strings.TrimSpace(st.StatusCode)
	if statusCode == "" {
		c, ok := upsCode(st.DescriptionCode)
		if !ok {
			b.at("activityStatus.descriptionCode")
			return b.fail("want a string or a number")
		}
		statusCode = c
	}
	upsLookups(&s, st, statusCode)
	b.at("")
	at, src, err := upsInstant(a.GMTActivityDate, a.GMTActivityTime, a.GMTOffset, a.LocalActivityDate, a.LocalActivityTime)
	if err != nil {
		return b.fail("%v", err)
	}
	s.occurredAt, s.timeSource = at, src
	s.carrierTime = upsCarrierTime(a.LocalActivityDate, a.LocalActivityTime, a.GMTActivityDate, a.GMTActivityTime)
	l := &a.ActivityLocation
	s.loc = locationOf(l.City, l.StateProvince, l.PostalCode, pickNonBlank(l.Country, l.CountryCode), "")
	s.data.Description = strings.TrimSpace(st.Description)
	if strings.EqualFold(strings.TrimSpace(st.Type), "D") || strings.TrimSpace(a.ActualDeliveryDate) != "" {
		s.data.SignedBy = strings.TrimSpace(a.ReceivedBy)
	}
	s.data.EstimatedDelivery = upsDate(a.ScheduledDeliveryDate)
	if statusCode != "" {
		s.data.Extra = map[string]any{"status_code": statusCode}
	}
	return b.add(&s)
}

// upsLookups fills the raw status and the lookups of a UPS scan:
// type_code "T:CC", then the type alone, then the 3-digit status code.
func upsLookups(s *scan, st *upsStatus, statusCode string) {
	typ := strings.TrimSpace(st.Type)
	code := strings.TrimSpace(st.Code)
	s.raw = CarrierStatus{Type: typ, Code: code, Description: strings.TrimSpace(st.Description)}
	if typ != "" && code != "" {
		s.lookup("ups", "type_code", typ+":"+code)
	}
	// The 3-digit status code is more precise than the bare type letter,
	// so it comes before the type fallback.
	s.lookup("ups", "status_code", strings.TrimSpace(statusCode))
	s.lookup("ups", "type", typ)
}

// upsInstant returns the instant of a UPS activity and how it was derived.
func upsInstant(gmtDate, gmtTime, gmtOffset, date, clock string) (time.Time, string, error) {
	gmtDate, gmtTime = upsCompact(gmtDate), upsClock(gmtTime)
	date, clock = upsCompact(date), upsClock(clock)
	switch {
	case gmtDate != "" && gmtTime != "":
		t, err := parseCompactDateTime(gmtDate, gmtTime)
		if err != nil {
			return time.Time{}, "", fmt.Errorf("GMT date/time: %w", err)
		}
		return t, TimeExplicit, nil
	case date != "" && clock != "":
		t, err := parseCompactDateTime(date, clock)
		if err != nil {
			return time.Time{}, "", fmt.Errorf("local date/time: %w", err)
		}
		if strings.TrimSpace(gmtOffset) == "" {
			return t, TimeAssumedUTC, nil
		}
		off, err := parseOffset(gmtOffset)
		if err != nil {
			return time.Time{}, "", fmt.Errorf("gmtOffset: %w", err)
		}
		return t.Add(-time.Duration(off) * time.Second), TimeExplicit, nil
	case date != "" || gmtDate != "":
		t, err := parseCompactDateTime(pickNonBlank(date, gmtDate), "")
		if err != nil {
			return time.Time{}, "", fmt.Errorf("date: %w", err)
		}
		return t, TimeDateOnly, nil
	}
	return time.Time{}, "", errors.New("activity has no date")
}

// upsCompact drops the separators of a date written 2025-03-14.
func upsCompact(s string) string {
	s = strings.TrimSpace(s)
	if strings.IndexByte(s, '-') >= 0 {
		s = strings.ReplaceAll(s, "-", "")
	}
	return s
}

// upsClock normalises a UPS time to HHMMSS: separators are dropped and a
// dropped leading zero restored (the spec's own example gmtTime is "74700").
func upsClock(s string) string {
	s = strings.TrimSpace(s)
	if strings.IndexByte(s, ':') >= 0 {
		s = strings.ReplaceAll(s, ":", "")
	}
	if len(s) == 3 || len(s) == 5 {
		s = "0" + s
	}
	return s
}

// upsCarrierTime is the activity time as UPS wrote it: the local date and
// time, or the GMT ones when there are no local ones.
func upsCarrierTime(date, clock, gmtDate, gmtTime string) string {
	date, clock = strings.TrimSpace(date), strings.TrimSpace(clock)
	if date == "" {
		date, clock = strings.TrimSpace(gmtDate), strings.TrimSpace(gmtTime)
	}
	if clock == "" {
		return date
	}
	return date + " " + clock
}

// upsEstimatedDelivery returns the rescheduled delivery date, else the
// scheduled one, at midnight UTC. The delivered date (DEL) is not an
// estimate and is not used.
func upsEstimatedDelivery(pkg *upsPackage) *time.Time {
	var sdd, rdd string
	for _, d := range pkg.DeliveryDate {
		switch strings.ToUpper(strings.TrimSpace(d.Type)) {
		case "SDD":
			sdd = d.Date
		case "RDD":
			rdd = d.Date
		}
	}
	if t := upsDate(rdd); t != nil {
		return t
	}
	return upsDate(sdd)
}

// upsDate reads a YYYYMMDD date as midnight UTC; nil when empty or not a
// plausible date (an estimate is not worth failing the payload for).
func upsDate(s string) *time.Time {
	s = upsCompact(s)
	if s == "" {
		return nil
	}
	t, err := parseCompactDateTime(s, "")
	if err != nil || checkInstant(t) != nil {
		return nil
	}
	return &t
}
