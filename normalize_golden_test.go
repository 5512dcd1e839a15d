package shipevents

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite testdata/*/*.golden.json from the current output")

// goldenNow is the fixed clock of golden tests, so triggered_at is stable.
var goldenNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func goldenNormalizer() *Normalizer {
	return NewNormalizer(NormalizerConfig{Now: func() time.Time { return goldenNow }})
}

// fixtures returns every testdata/<format>/*.json and *.xml payload
// (golden files excluded) keyed by format.
func fixtures(t testing.TB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, format := range Formats() {
		for _, ext := range []string{"*.json", "*.xml"} {
			paths, err := filepath.Glob(filepath.Join("testdata", format, ext))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range paths {
				if !strings.HasSuffix(p, ".golden.json") {
					out[format] = append(out[format], p)
				}
			}
		}
	}
	return out
}

// goldenPath is the golden file beside a fixture: NAME.golden.json for
// NAME.json or NAME.xml.
func goldenPath(fixture string) string {
	return strings.TrimSuffix(fixture, filepath.Ext(fixture)) + ".golden.json"
}

// TestNormalizeGolden normalizes every fixture, with its format named and
// with format detection, and compares the events with the golden file.
// Run with -update to rewrite the golden files after a deliberate change.
func TestNormalizeGolden(t *testing.T) {
	n := goldenNormalizer()
	all := fixtures(t)
	for _, format := range Formats() {
		if len(all[format]) < 3 {
			t.Errorf("format %s has %d fixtures in testdata/%s, want at least 3", format, len(all[format]), format)
		}
		for _, path := range all[format] {
			t.Run(strings.TrimPrefix(path, "testdata/"), func(t *testing.T) {
				raw, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				events, err := n.Normalize(format, raw)
				if err != nil {
					t.Fatalf("Normalize(%q, %s) error: %v", format, path, err)
				}
				if len(events) == 0 {
					t.Fatalf("Normalize(%q, %s) returned no events", format, path)
				}
				for i := range events {
					if err := events[i].Validate(); err != nil {
						t.Errorf("event %d invalid: %v", i, err)
					}
					if i > 0 && events[i].OccurredAt.Before(events[i-1].OccurredAt) {
						t.Errorf("event %d occurred before event %d: not sorted oldest first", i, i-1)
					}
				}
				got, err := json.MarshalIndent(events, "", "  ")
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, '\n')
				golden := goldenPath(path)
				if *update {
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("missing golden file (run go test -run TestNormalizeGolden -update): %v", err)
				}
				if !bytes.Equal(got, want) {
					t.Errorf("Normalize(%q, %s) differs from %s:\n%s", format, path, golden, firstDiff(string(got), string(want)))
				}
				detected, err := n.Normalize(FormatDetect, raw)
				if err != nil {
					t.Fatalf("Normalize(\"\", %s) error: %v", path, err)
				}
				gotDetected, _ := json.MarshalIndent(detected, "", "  ")
				if !bytes.Equal(append(gotDetected, '\n'), got) {
					t.Errorf("format detection gave different events for %s", path)
				}
				// Deterministic ids: normalizing again gives the same ids.
				again, err := n.Normalize(format, raw)
				if err != nil {
					t.Fatal(err)
				}
				for i := range again {
					if again[i].ID != events[i].ID {
						t.Errorf("event %d id changed between calls: %s then %s", i, events[i].ID, again[i].ID)
					}
				}
			})
		}
	}
}

func firstDiff(got, want string) string {
	g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return "line " + strconv.Itoa(i+1) + ":\n  got:  " + gl + "\n  want: " + wl
		}
	}
	return "(no line differs)"
}
