package shipevents

import "strings"

// Helpers shared by the aggregator parsers (easypost, aftership, shippo,
// karrio, fulfillment).

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
