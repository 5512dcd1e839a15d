package natsjs

import (
	"errors"
	"fmt"
	"strings"

	"github.com/shipevents/shipevents"
)

// DefaultPrefix starts every subject when no prefix is configured.
const DefaultPrefix = "shipevents"

// NoTenant is the subject token of events without a tenant. A tenant
// (or ref segment) that is literally "_" is escaped, so the token is
// never ambiguous.
const NoTenant = "_"

// MaxSubjectLen bounds a subject in bytes. NATS servers refuse protocol
// lines over max_control_line (4 KiB by default) and drop the client
// that sends one; subjects stay well below it so that the reply subject
// and sizes fit too. An event whose subject would be longer cannot be
// published (a permanent failure).
const MaxSubjectLen = 2048

// The subject errors; test them with errors.Is.
var (
	// ErrInvalidPrefix: a prefix that is not one or more dot-separated
	// literal tokens of bytes a token keeps unescaped.
	ErrInvalidPrefix = errors.New("natsjs: invalid subject prefix")
	// ErrInvalidSubject: a subject or token that [Subject] and
	// [EscapeToken] could not have produced.
	ErrInvalidSubject = errors.New("natsjs: not a shipevents subject")
	// ErrOverlappingPatterns: two patterns of one filter set match some
	// refs in common without one containing the other, so their filters
	// would overlap, which a JetStream consumer refuses.
	ErrOverlappingPatterns = errors.New("natsjs: patterns overlap")
)

// keepInToken reports whether b stands for itself in a subject token.
// Everything else is written %XX (upper-case hex): bytes outside
// printable ASCII, the space, the token separator ".", the wildcards "*"
// and ">", the escape "%" itself and the quote '"' (which NATS error
// messages use around subjects).
func keepInToken(b byte) bool {
	return b > ' ' && b < 0x7f && b != '.' && b != '*' && b != '>' && b != '%' && b != '"'
}

// keepInHeader reports whether b stands for itself in a header value:
// printable ASCII other than the space and "%", so a value can neither
// end a header line nor lose leading or trailing spaces.
func keepInHeader(b byte) bool {
	return b > ' ' && b < 0x7f && b != '%'
}

const upperHex = "0123456789ABCDEF"

// escape returns s with every byte keep refuses written %XX; s itself
// when there is none.
func escape(s string, keep func(byte) bool) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if !keep(s[i]) {
			n++
		}
	}
	if n == 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if keep(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&0xf])
	}
	return b.String()
}

// unescape reverses escape for a string escape could have produced with
// keep: every "%" followed by two upper-case hex digits of a byte keep
// refuses, and no other byte refused. Anything else fails, so that each
// decoded value has exactly one escaped form.
func unescape(s string, keep func(byte) bool) (string, bool) {
	if !strings.Contains(s, "%") {
		for i := 0; i < len(s); i++ {
			if !keep(s[i]) {
				return "", false
			}
		}
		return s, true
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '%' {
			if !keep(c) {
				return "", false
			}
			b = append(b, c)
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		hi, lo := strings.IndexByte(upperHex, s[i+1]), strings.IndexByte(upperHex, s[i+2])
		if hi < 0 || lo < 0 {
			return "", false
		}
		c = byte(hi<<4 | lo)
		if keep(c) {
			return "", false // escaped without need: not the one escaped form
		}
		b = append(b, c)
		i += 2
	}
	return string(b), true
}

// EscapeToken returns the subject token of one tenant or ref segment. A
// segment of bytes that NATS tokens can hold is unchanged; other bytes
// (the space and other bytes outside printable ASCII, ".", "*", ">", "%"
// and '"') are written %XX in upper-case hex, and an empty segment
// becomes [NoTenant] ("_"), which is why a segment that is "_" itself is
// written %5F. The result is never empty and never a wildcard, and
// [UnescapeToken] reverses it.
func EscapeToken(s string) string {
	switch s {
	case "":
		return NoTenant
	case NoTenant:
		return "%5F"
	}
	return escape(s, keepInToken)
}

// UnescapeToken returns the segment whose token is tok. It fails, with
// an error wrapping ErrInvalidSubject, for a token [EscapeToken] does not
// produce.
func UnescapeToken(tok string) (string, error) {
	switch tok {
	case NoTenant:
		return "", nil
	case "%5F":
		return NoTenant, nil
	case "":
		return "", fmt.Errorf("%w: empty token", ErrInvalidSubject)
	}
	s, ok := unescape(tok, keepInToken)
	if !ok || s == NoTenant {
		return "", fmt.Errorf("%w: token %q is not in escaped form", ErrInvalidSubject, truncate(tok, 64))
	}
	return s, nil
}

// EscapeHeader returns s as it is written in the header values this
// package sets (webhook-id, the event type and ref): unchanged when it is
// printable ASCII without spaces or "%", else with those bytes written
// %XX. [UnescapeHeader] reverses it.
func EscapeHeader(s string) string { return escape(s, keepInHeader) }

// UnescapeHeader reverses [EscapeHeader], failing with an error wrapping
// ErrInvalidSubject for a value it does not produce.
func UnescapeHeader(v string) (string, error) {
	s, ok := unescape(v, keepInHeader)
	if !ok {
		return "", fmt.Errorf("%w: header value %q is not in escaped form", ErrInvalidSubject, truncate(v, 64))
	}
	return s, nil
}

// ValidatePrefix reports why prefix cannot start subjects, or nil; the
// empty prefix stands for DefaultPrefix and is valid. A prefix is one or
// more dot-separated tokens, each non-empty and made only of bytes a
// token keeps (so no wildcard, space or "%"), at most 256 bytes in all.
func ValidatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if len(prefix) > 256 {
		return fmt.Errorf("%w: %d bytes, limit 256", ErrInvalidPrefix, len(prefix))
	}
	for tok := range strings.SplitSeq(prefix, ".") {
		if tok == "" || escape(tok, keepInToken) != tok {
			return fmt.Errorf("%w: %q", ErrInvalidPrefix, truncate(prefix, 64))
		}
	}
	return nil
}

func prefixOrDefault(prefix string) string {
	if prefix == "" {
		return DefaultPrefix
	}
	return prefix
}

// Subject returns the subject an event of tenant with ref is published
// on: the prefix (DefaultPrefix when empty), the tenant's token
// ([NoTenant] for none), then one token per ref segment, joined by dots,
// each escaped by [EscapeToken]:
//
//	shipments/delivered/SUCCESSFULLY_DELIVERED, tenant acme
//	  -> shipevents.acme.shipments.delivered.SUCCESSFULLY_DELIVERED
//	orders/created, no tenant
//	  -> shipevents._.orders.created
//
// The prefix must be valid ([ValidatePrefix]); [ParseSubject] reverses
// Subject.
func Subject(prefix, tenant, ref string) string {
	prefix = prefixOrDefault(prefix)
	tt := EscapeToken(tenant)
	n := len(prefix) + 1 + len(tt) + 1 + len(ref)
	var b strings.Builder
	b.Grow(n)
	b.WriteString(prefix)
	b.WriteByte('.')
	b.WriteString(tt)
	for seg := range strings.SplitSeq(ref, "/") {
		b.WriteByte('.')
		b.WriteString(EscapeToken(seg))
	}
	return b.String()
}

// ParseSubject returns the tenant and ref of a subject [Subject] made
// with prefix; the error wraps ErrInvalidSubject for any other subject.
func ParseSubject(prefix, subject string) (tenant, ref string, err error) {
	prefix = prefixOrDefault(prefix)
	rest, ok := strings.CutPrefix(subject, prefix+".")
	if !ok {
		return "", "", fmt.Errorf("%w: %q does not start with %s.", ErrInvalidSubject, truncate(subject, 64), prefix)
	}
	tt, rest, ok := strings.Cut(rest, ".")
	if !ok {
		return "", "", fmt.Errorf("%w: %q has no ref", ErrInvalidSubject, truncate(subject, 64))
	}
	if tenant, err = UnescapeToken(tt); err != nil {
		return "", "", err
	}
	var b strings.Builder
	b.Grow(len(rest))
	first := true
	for tok := range strings.SplitSeq(rest, ".") {
		seg, err := UnescapeToken(tok)
		if err != nil {
			return "", "", err
		}
		if !first {
			b.WriteByte('/')
		}
		first = false
		b.WriteString(seg)
	}
	return tenant, b.String(), nil
}

// Filters returns the subject filters that select, among the events of
// every tenant, exactly those whose ref one of patterns matches
// ([shipevents.MatchRef] semantics), for a JetStream consumer's
// FilterSubjects or core NATS subscriptions (one per filter). See
// [TenantFilters].
func Filters(prefix string, patterns ...string) ([]string, error) {
	return filters(prefix, "*", patterns)
}

// TenantFilters returns the subject filters that select the events of one
// tenant (the events without a tenant when tenant is empty) whose ref one
// of patterns matches ([shipevents.MatchRef] semantics).
//
// A pattern maps token by token: a literal segment to its escaped token,
// "*" to the NATS wildcard "*". Since a pattern matches refs that start
// with its segments, each pattern gives two filters, the subject itself
// and the subject followed by ">" (one or more tokens); when the pattern
// ends in "*", the two make one, ending in ">". So, for tenant acme:
//
//	shipments/delivered   -> shipevents.acme.shipments.delivered,
//	                         shipevents.acme.shipments.delivered.>
//	shipments/*/DELIVERY_ATTEMPT_FAILED
//	                      -> shipevents.acme.shipments.*.DELIVERY_ATTEMPT_FAILED,
//	                         shipevents.acme.shipments.*.DELIVERY_ATTEMPT_FAILED.>
//	*                     -> shipevents.acme.>
//
// Patterns that another of the list contains are dropped, so the filters
// never overlap, as JetStream requires of one consumer's filters. Two
// patterns that overlap without one containing the other (say
// shipments/*/X and */delivered) cannot be expressed without overlap:
// the error wraps ErrOverlappingPatterns; use one consumer per pattern
// then. A pattern [shipevents.ValidatePattern] refuses gives its error,
// an invalid prefix one wrapping ErrInvalidPrefix.
func TenantFilters(prefix, tenant string, patterns ...string) ([]string, error) {
	return filters(prefix, EscapeToken(tenant), patterns)
}

func filters(prefix, tenantToken string, patterns []string) ([]string, error) {
	if err := ValidatePrefix(prefix); err != nil {
		return nil, err
	}
	if len(patterns) == 0 {
		return nil, fmt.Errorf("%w: no pattern", shipevents.ErrInvalidPattern)
	}
	segs := make([][]string, len(patterns))
	for i, p := range patterns {
		if err := shipevents.ValidatePattern(p); err != nil {
			return nil, err
		}
		segs[i] = strings.Split(p, "/")
	}
	// Keep the patterns no other kept pattern contains; of equal ones,
	// the first.
	var kept [][]string
	for i, s := range segs {
		contained := false
		for j, o := range segs {
			if i != j && containsPattern(o, s) && (!containsPattern(s, o) || j < i) {
				contained = true
				break
			}
		}
		if !contained {
			kept = append(kept, s)
		}
	}
	for i := range kept {
		for j := i + 1; j < len(kept); j++ {
			if overlapPatterns(kept[i], kept[j]) {
				return nil, fmt.Errorf("%w: %s and %s", ErrOverlappingPatterns, strings.Join(kept[i], "/"), strings.Join(kept[j], "/"))
			}
		}
	}
	prefix = prefixOrDefault(prefix)
	out := make([]string, 0, 2*len(kept))
	for _, s := range kept {
		var b strings.Builder
		b.WriteString(prefix)
		b.WriteByte('.')
		b.WriteString(tenantToken)
		for _, seg := range s {
			b.WriteByte('.')
			if seg == "*" {
				b.WriteByte('*')
			} else {
				b.WriteString(EscapeToken(seg))
			}
		}
		head := b.String()
		if s[len(s)-1] == "*" {
			// head and head.> together are everything below the last
			// token but one, which is one filter.
			out = append(out, head[:len(head)-1]+">")
			continue
		}
		out = append(out, head, head+".>")
	}
	return out, nil
}

// containsPattern reports whether every ref q matches, p matches too: p
// is no longer than q and each of its segments is "*" or q's segment.
func containsPattern(p, q []string) bool {
	if len(p) > len(q) {
		return false
	}
	for i, s := range p {
		if s != "*" && s != q[i] {
			return false
		}
	}
	return true
}

// overlapPatterns reports whether some ref matches both p and q: over
// their common length, each pair of segments is equal or has a "*".
func overlapPatterns(p, q []string) bool {
	for i := range min(len(p), len(q)) {
		if p[i] != q[i] && p[i] != "*" && q[i] != "*" {
			return false
		}
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
