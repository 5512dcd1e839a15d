package natsjs_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/natsjs"
)

func TestSubject(t *testing.T) {
	for _, c := range []struct{ prefix, tenant, ref, want string }{
		{"", "acme", "shipments/delivered/SUCCESSFULLY_DELIVERED", "shipevents.acme.shipments.delivered.SUCCESSFULLY_DELIVERED"},
		{"", "", "orders/created", "shipevents._.orders.created"},
		{"oms.events", "t-42", "orders", "oms.events.t-42.orders"},
		{"", "_", "orders/_", "shipevents.%5F.orders.%5F"},
		{"", "a.b", "orders/x y", "shipevents.a%2Eb.orders.x%20y"},
		{"", "*", "orders/>/%", "shipevents.%2A.orders.%3E.%25"},
		{"", "tenant\"1", "orders//end", "shipevents.tenant%221.orders._.end"},
		{"", "café", "orders/\x00\n", "shipevents.caf%C3%A9.orders.%00%0A"},
		{"", "a/b", "orders/created", "shipevents.a/b.orders.created"},
	} {
		got := natsjs.Subject(c.prefix, c.tenant, c.ref)
		if got != c.want {
			t.Errorf("Subject(%q, %q, %q) = %q, want %q", c.prefix, c.tenant, c.ref, got, c.want)
		}
		tenant, ref, err := natsjs.ParseSubject(c.prefix, got)
		if err != nil || tenant != c.tenant || ref != c.ref {
			t.Errorf("ParseSubject(%q) = %q, %q, %v; want %q, %q", got, tenant, ref, err, c.tenant, c.ref)
		}
	}
}

func TestParseSubjectRefusesOtherSubjects(t *testing.T) {
	for _, s := range []string{
		"", "shipevents", "shipevents.acme", "other.acme.orders", "shipevents.acme.orders..x",
		"shipevents.acme.orders.%2",      // truncated escape
		"shipevents.acme.orders.%41",     // "A" needs no escape: not the escaped form
		"shipevents.acme.orders.%2e",     // lower-case hex
		"shipevents.acme.orders.a b",     // raw space
		"shipevents.acme.orders.*",       // wildcard
		"shipevents.acme.orders.%5Fx%",   // dangling escape
		"shipevents.acme.orders.caf\xc3", // raw non-ASCII byte
	} {
		if tenant, ref, err := natsjs.ParseSubject("", s); !errors.Is(err, natsjs.ErrInvalidSubject) {
			t.Errorf("ParseSubject(%q) = %q, %q, %v; want ErrInvalidSubject", s, tenant, ref, err)
		}
	}
}

func TestValidatePrefix(t *testing.T) {
	for _, p := range []string{"", "shipevents", "acme.events", "a-b_c.$x"} {
		if err := natsjs.ValidatePrefix(p); err != nil {
			t.Errorf("ValidatePrefix(%q) = %v", p, err)
		}
	}
	for _, p := range []string{".", "a.", ".a", "a..b", "a.*", "a.>", "a b", "a%b", "a\"b", strings.Repeat("a", 257)} {
		if err := natsjs.ValidatePrefix(p); !errors.Is(err, natsjs.ErrInvalidPrefix) {
			t.Errorf("ValidatePrefix(%q) = %v, want ErrInvalidPrefix", p, err)
		}
	}
}

// validTokens checks what NATS needs of a published subject: valid, no
// wildcard token, and every token printable ASCII without spaces.
func validTokens(t *testing.T, subject string) {
	t.Helper()
	if !server.IsValidPublishSubject(subject) {
		t.Fatalf("%q is not a valid publish subject", subject)
	}
	for i := 0; i < len(subject); i++ {
		if c := subject[i]; c <= ' ' || c >= 0x7f {
			t.Fatalf("%q has byte %#x", subject, c)
		}
	}
}

func FuzzSubjectRoundTrip(f *testing.F) {
	for _, s := range [][2]string{
		{"acme", "shipments/delivered/SUCCESSFULLY_DELIVERED"}, {"", "orders"}, {"_", "_/%5F"},
		{"a.b c", "orders/*/>"}, {"%41", "orders//"}, {"\xff\x00", "orders/\t"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, tenant, ref string) {
		s := natsjs.Subject("oms.events", tenant, ref)
		validTokens(t, s)
		gotTenant, gotRef, err := natsjs.ParseSubject("oms.events", s)
		if err != nil || gotTenant != tenant || gotRef != ref {
			t.Fatalf("ParseSubject(Subject(%q, %q)) = %q, %q, %v", tenant, ref, gotTenant, gotRef, err)
		}
		// Tokens are one per segment: the subject has the prefix's two,
		// the tenant's and the ref's.
		if got, want := strings.Count(s, ".")+1, 3+strings.Count(ref, "/")+1; got != want {
			t.Fatalf("%q has %d tokens, want %d", s, got, want)
		}
	})
}

func FuzzUnescapeToken(f *testing.F) {
	for _, s := range []string{"_", "%5F", "a%2Eb", "%41", "%2e", "%", "", "x y", "caf%C3%A9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		seg, err := natsjs.UnescapeToken(tok)
		if err != nil {
			if !errors.Is(err, natsjs.ErrInvalidSubject) {
				t.Fatalf("UnescapeToken(%q): error %v does not wrap ErrInvalidSubject", tok, err)
			}
			return
		}
		// A token that decodes is the one escaped form of its segment.
		if back := natsjs.EscapeToken(seg); back != tok {
			t.Fatalf("EscapeToken(UnescapeToken(%q) = %q) = %q", tok, seg, back)
		}
		hv, err := natsjs.UnescapeHeader(natsjs.EscapeHeader(seg))
		if err != nil || hv != seg {
			t.Fatalf("header round trip of %q: %q, %v", seg, hv, err)
		}
	})
}

// matchesAny reports whether a NATS subject matches one of filters, as the
// server decides it.
func matchesAny(subject string, filters []string) bool {
	return slices.ContainsFunc(filters, func(f string) bool { return server.SubjectMatchesFilter(subject, f) })
}

// FuzzFiltersAgreeWithMatchRef checks the filters of a pattern against
// MatchRef on the subject of every (tenant, ref): a subject matches a
// filter exactly when MatchRef says the pattern matches the ref (and the
// tenant is the filter's).
func FuzzFiltersAgreeWithMatchRef(f *testing.F) {
	for _, s := range [][4]string{
		{"shipments", "acme", "shipments/delivered/SUCCESSFULLY_DELIVERED", "acme"},
		{"shipments/delivered/SUCCESSFULLY_DELIVERED", "", "shipments/delivered/SUCCESSFULLY_DELIVERED", ""},
		{"*", "b", "orders", "a"},
		{"shipments/*/X", "t", "shipments/y/X/z", "t"},
		{"orders/_", "_", "orders/", ""},
		{"orders/*", "x", "orders", "x"},
		{"a.b/*", "", "a.b/c", ""},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	f.Fuzz(func(t *testing.T, pattern, tenant, ref, filterTenant string) {
		if shipevents.ValidatePattern(pattern) != nil {
			if _, err := natsjs.Filters("", pattern); err == nil {
				t.Fatalf("Filters accepted invalid pattern %q", pattern)
			}
			return
		}
		subject := natsjs.Subject("", tenant, ref)
		all, err := natsjs.Filters("", pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := matchesAny(subject, all), shipevents.MatchRef(pattern, ref); got != want {
			t.Fatalf("pattern %q, ref %q: filters %q match %q: %v; MatchRef: %v", pattern, ref, all, subject, got, want)
		}
		one, err := natsjs.TenantFilters("", filterTenant, pattern)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := matchesAny(subject, one), shipevents.MatchRef(pattern, ref) && tenant == filterTenant; got != want {
			t.Fatalf("pattern %q of tenant %q, ref %q of tenant %q: filters %q match %q: %v; want %v", pattern, filterTenant, ref, tenant, one, subject, got, want)
		}
		for i := range one {
			for j := i + 1; j < len(one); j++ {
				if server.SubjectsCollide(one[i], one[j]) {
					t.Fatalf("filters %q and %q overlap", one[i], one[j])
				}
			}
		}
	})
}

func TestFiltersOfSeveralPatterns(t *testing.T) {
	for _, c := range []struct {
		patterns []string
		want     []string
	}{
		{[]string{"shipments/delivered"}, []string{"p.*.shipments.delivered", "p.*.shipments.delivered.>"}},
		{[]string{"*"}, []string{"p.*.>"}},
		{[]string{"shipments/*"}, []string{"p.*.shipments.>"}},
		{[]string{"shipments/*/X"}, []string{"p.*.shipments.*.X", "p.*.shipments.*.X.>"}},
		// Contained patterns are dropped, equal ones kept once.
		{[]string{"shipments/delivered", "shipments", "shipments/*/X"}, []string{"p.*.shipments", "p.*.shipments.>"}},
		{[]string{"orders", "orders", "returns/created"}, []string{"p.*.orders", "p.*.orders.>", "p.*.returns.created", "p.*.returns.created.>"}},
		{[]string{"orders/created", "*"}, []string{"p.*.>"}},
		{[]string{"a.b", "c d"}, []string{"p.*.a%2Eb", "p.*.a%2Eb.>", "p.*.c%20d", "p.*.c%20d.>"}},
	} {
		got, err := natsjs.Filters("p", c.patterns...)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("Filters(%q) = %q, %v; want %q", c.patterns, got, err, c.want)
		}
	}
	for _, ps := range [][]string{{"shipments/*/X", "*/delivered"}, {"orders/*", "*/created"}} {
		if got, err := natsjs.Filters("p", ps...); !errors.Is(err, natsjs.ErrOverlappingPatterns) {
			t.Errorf("Filters(%q) = %q, %v; want ErrOverlappingPatterns", ps, got, err)
		}
	}
	for _, ps := range [][]string{{}, {""}, {"a//b"}, {"shipments/"}} {
		if got, err := natsjs.Filters("p", ps...); !errors.Is(err, shipevents.ErrInvalidPattern) {
			t.Errorf("Filters(%q) = %q, %v; want ErrInvalidPattern", ps, got, err)
		}
	}
	if got, err := natsjs.Filters("p.*", "orders"); !errors.Is(err, natsjs.ErrInvalidPrefix) {
		t.Errorf("Filters with prefix p.* = %q, %v; want ErrInvalidPrefix", got, err)
	}
	got, err := natsjs.TenantFilters("p", "", "orders")
	if want := []string{"p._.orders", "p._.orders.>"}; err != nil || !slices.Equal(got, want) {
		t.Errorf("TenantFilters without tenant = %q, %v; want %q", got, err, want)
	}
}
