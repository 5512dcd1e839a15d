package shipevents

import (
	"bytes"
	"strings"
)

// SEKO Logistics (OmniParcel) tracking: an array of consignments
// [{"ConsignmentNo","Status","Events":[...]}] (a single consignment object
// is accepted too), one event per Events[] entry (oldest first in SEKO
// responses).
//
// OmniCode is SEKO's own status code ("OP-72"), the raw code, and is
// looked up in the status table; Code is the last-mile carrier's code when
// SEKO has one (GLS "0.100") and is kept as the raw status's type (an Extra
// map per event would double the cost of a scan). Location is free text:
// "City,ST,CC", "City, CC" or "CC". EventDT is local wall time without a
// zone; it is read as UTC (TimeAssumedUTC) and kept as the carrier time.
// Events of the several parts (Part) of one consignment that share codes
// and instant are one event.

type sekoConsignment struct {
	ConsignmentNo string      `json:"ConsignmentNo"`
	Events        []sekoEvent `json:"Events"`
}

type sekoEvent struct {
	EventDT     string `json:"EventDT"`
	Code        string `json:"Code"`
	OmniCode    string `json:"OmniCode"`
	Description string `json:"Description"`
	Location    string `json:"Location"`
}

// sekoSingle is a response that is one object: a consignment, or SEKO's
// error body {"Errors":[{"Property","Message",...}]}.
type sekoSingle struct {
	sekoConsignment
	Errors []struct {
		Property string `json:"Property"`
		Message  string `json:"Message"`
	} `json:"Errors"`
}

// sekoShape reports whether top-level keys (or a list's first element's)
// are a SEKO consignment's, for format detection.
func sekoShape(t *topLevel) bool { return t.has("ConsignmentNo") && t.has("Events") }

func parseSEKO(b *batch, raw []byte) error {
	var list []sekoConsignment
	if t := bytes.TrimLeft(raw, " \t\r\n"); len(t) > 0 && t[0] == '{' {
		var one sekoSingle
		if err := b.decode(raw, &one); err != nil {
			return err
		}
		if one.ConsignmentNo == "" && len(one.Events) == 0 && len(one.Errors) > 0 {
			e := one.Errors[0]
			b.at("Errors[0]")
			return b.fail("SEKO error at %s: %s", quote(strings.TrimSpace(e.Property)), quote(strings.TrimSpace(e.Message)))
		}
		list = []sekoConsignment{one.sekoConsignment}
	} else if err := b.decode(raw, &list); err != nil {
		return err
	}
	n := 0
	for i := range list {
		n += len(list[i].Events)
	}
	reserveEvents(b, n)
	for i := range list {
		c := &list[i]
		if len(c.Events) == 0 {
			continue
		}
		b.at("[%d].ConsignmentNo", i)
		tn := strings.TrimSpace(c.ConsignmentNo)
		if tn == "" {
			return b.fail("missing tracking number")
		}
		for k := range c.Events {
			ev := &c.Events[k]
			b.at("[%d].Events[%d]", i, k)
			s := scan{carrier: FormatSEKO, trackingNumber: tn}
			omni := strings.TrimSpace(ev.OmniCode)
			carrierCode := strings.TrimSpace(ev.Code)
			s.raw = CarrierStatus{Code: pickNonBlank(omni, carrierCode), Description: strings.TrimSpace(ev.Description)}
			if omni != "" {
				s.raw.Type = carrierCode
			}
			s.lookup(FormatSEKO, "status", omni)
			if strings.TrimSpace(ev.EventDT) == "" {
				return b.fail("event has no EventDT")
			}
			at, src, err := parseTimestamp(ev.EventDT)
			if err != nil {
				return b.fail("EventDT: %v", err)
			}
			s.occurredAt, s.timeSource, s.carrierTime = at, src, strings.TrimSpace(ev.EventDT)
			s.data.Description = s.raw.Description
			s.loc, s.data.Extra = sekoLocation(ev.Location)
			if err := b.add(&s); err != nil {
				return err
			}
		}
	}
	if len(b.events) == 0 {
		b.at("")
		return b.fail("no consignment with events")
	}
	return nil
}

// sekoLocation reads SEKO's comma-separated locations: the last part is
// the country when it is a two-letter code, a two-letter part before it a
// state, and the text before those the city, as written ("SAN
// BERNARDINO,CA,US", "Essen, DE", "Egham, Surrey,GB"). Text it cannot read
// is kept verbatim in Extra["location_text"]. It runs once per scan, so it
// slices the text instead of splitting it.
func sekoLocation(text string) (Location, map[string]any) {
	text = strings.TrimSpace(text)
	if text == "" {
		return Location{}, nil
	}
	rest, country := sekoLastPart(text)
	if !aggUpperLetters(country, 2, 2) || strings.Count(rest, ",") > 2 {
		return Location{}, map[string]any{"location_text": text}
	}
	city, state := rest, ""
	if before, last := sekoLastPart(rest); before != "" && aggUpperLetters(last, 2, 2) {
		city, state = before, last
	}
	for i := 0; i < len(city); i++ {
		if city[i] >= '0' && city[i] <= '9' {
			return Location{}, map[string]any{"location_text": text}
		}
	}
	return Location{City: city, State: state, Country: country}, nil
}

// sekoLastPart splits s at its last comma that has text after it: the
// text before (without trailing commas and spaces) and the last part,
// trimmed.
func sekoLastPart(s string) (before, last string) {
	s = trimCommaSpace(s)
	i := strings.LastIndexByte(s, ',')
	if i < 0 {
		return "", s
	}
	return trimCommaSpace(s[:i]), strings.TrimSpace(s[i+1:])
}

// trimCommaSpace drops trailing commas and white space, and leading white
// space.
func trimCommaSpace(s string) string {
	end := len(s)
	for end > 0 && (s[end-1] == ',' || s[end-1] == ' ' || s[end-1] == '\t') {
		end--
	}
	return strings.TrimSpace(s[:end])
}
