package pgstore

import (
	"regexp"
	"testing"

	"github.com/shipevents/shipevents"
)

// TestRefRegexp checks the SQL translation of ref patterns against
// shipevents.MatchRef. PostgreSQL's and Go's regular expressions agree on
// the constructs refRegexp emits (anchors, bracket classes, escaped
// punctuation, alternation), so Go's engine stands in for the database.
func TestRefRegexp(t *testing.T) {
	patterns := []string{
		"*", "shipments", "shipments/*", "shipments/delivered", "shipments/*/DELIVERY_ATTEMPT_FAILED",
		"shipments/deliv", "orders/created", "a.b", "a+b/*", "x(y)", "[z]", "*/*", "shipments/in_transit/*",
		"héllo", "a|b", "$", "^x",
	}
	refs := []string{
		"shipments", "shipments/delivered/DELIVERED", "shipments/in_transit/IN_TRANSIT",
		"shipments/delivery_attempt/DELIVERY_ATTEMPT_FAILED", "shipments/deliv", "shipments/delivered",
		"orders/created", "orders/created/extra", "a.b", "axb", "a+b/c", "aab/c", "x(y)", "xy", "[z]", "z",
		"héllo/x", "a|b", "a", "b", "$", "^x", "x", "", "/", "shipments//x",
	}
	for _, p := range patterns {
		re := regexp.MustCompile(refRegexp(p))
		for _, r := range refs {
			if got, want := re.MatchString(r), shipevents.MatchRef(p, r); got != want {
				t.Errorf("pattern %q (regexp %q) on ref %q: %v, MatchRef says %v", p, refRegexp(p), r, got, want)
			}
		}
	}
}

func TestMigrationsEmbedded(t *testing.T) {
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].version != 1 {
		t.Fatalf("migrations %v: want 0001 first", ms)
	}
	for i, m := range ms {
		if m.version != i+1 {
			t.Errorf("migration %s: version %d, want %d (versions are consecutive)", m.name, m.version, i+1)
		}
	}
	if LatestVersion() != len(ms) {
		t.Errorf("LatestVersion %d, want %d", LatestVersion(), len(ms))
	}
}

func TestCleanText(t *testing.T) {
	for in, want := range map[string]string{"ok": "ok", "a\x00b": "a\uFFFDb", "bad\xffutf8": "bad\uFFFDutf8"} {
		if got := cleanText(in); got != want {
			t.Errorf("cleanText(%q) = %q, want %q", in, got, want)
		}
	}
}
