package shipevents

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
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

// TestEveryFormatIsComplete checks, for every supported format, the places
// README.md's "Adding a format" marks as checked: its fixtures and golden
// files, their detection, its fuzz target, its payload type among the
// decoder's targets, and its mentions in the READMEs.
func TestEveryFormatIsComplete(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := readmeFormatRows(t, string(readme))
	testdataReadme, err := os.ReadFile(filepath.Join("testdata", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	all := fixtures(t)
	for _, format := range Formats() {
		t.Run(format, func(t *testing.T) {
			if len(all[format]) < 3 {
				t.Errorf("%d payloads in testdata/%s, want at least 3", len(all[format]), format)
			}
			for _, path := range all[format] {
				golden := goldenPath(path)
				if _, err := os.Stat(golden); err != nil {
					t.Errorf("%s has no golden file (go test -run TestNormalizeGolden -update .): %v", path, err)
				}
				raw, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				if got, err := DetectFormat(raw); got != format {
					t.Errorf("%s is detected as %q (%v), want %q", path, got, err, format)
				}
			}
			goldens, err := filepath.Glob(filepath.Join("testdata", format, "*.golden.json"))
			if err != nil {
				t.Fatal(err)
			}
			for _, golden := range goldens {
				base := strings.TrimSuffix(golden, ".golden.json")
				_, errJSON := os.Stat(base + ".json")
				_, errXML := os.Stat(base + ".xml")
				if errJSON != nil && errXML != nil {
					t.Errorf("%s is a golden file without its payload", golden)
				}
			}
			if fuzz, ok := formatFuzzTargets[format]; !ok {
				t.Errorf("no fuzz target in formatFuzzTargets")
			} else if name := funcName(fuzz); !isFuzzNormalizeTarget(name) {
				t.Errorf("formatFuzzTargets names %s, not a top-level FuzzNormalize<Name> function that go test -fuzz can run", name)
			}
			if typedTargets[format] == nil && xmlTypedTargets[format] == nil {
				t.Errorf("no payload type in typedTargets (bench_test.go) or, for an XML format, xmlTypedTargets (bench_xml_test.go)")
			}
			if typedTargets[format] != nil && xmlTypedTargets[format] != nil {
				t.Errorf("both a JSON and an XML payload type")
			}
			if !rows[format] {
				t.Errorf("no row in the Formats table of README.md")
			}
			if !strings.Contains(string(testdataReadme), "`"+format+"`") {
				t.Errorf("testdata/README.md does not name the folder")
			}
		})
	}
	// Nothing left behind by a format that is gone.
	for format := range formatFuzzTargets {
		if !slices.Contains(Formats(), format) {
			t.Errorf("formatFuzzTargets has %q, which is not a format", format)
		}
	}
	for format := range rows {
		if format != FormatDetect && !slices.Contains(Formats(), format) {
			t.Errorf("README.md's Formats table has %q, which is not a format", format)
		}
	}
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if d.IsDir() && !slices.Contains(Formats(), d.Name()) {
			t.Errorf("testdata/%s is not a format", d.Name())
		}
	}
}

// readmeFormatRows returns the formats named in the first column of the
// table under README.md's "## Formats" heading ("" for the detection row).
func readmeFormatRows(t *testing.T, readme string) map[string]bool {
	t.Helper()
	_, section, ok := strings.Cut(readme, "\n## Formats\n")
	if !ok {
		t.Fatal(`README.md has no "## Formats" section`)
	}
	section, _, _ = strings.Cut(section, "\n#")
	rows := map[string]bool{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		name := strings.Trim(strings.TrimSpace(cells[1]), "`")
		if name == `""` {
			name = FormatDetect
		}
		rows[name] = true
	}
	if len(rows) == 0 {
		t.Fatal("README.md's Formats section has no table rows")
	}
	return rows
}

// funcName returns the name of the function fn within its package
// ("FuzzNormalizeUPS", "init.func1").
func funcName(fn any) string {
	name := runtime.FuncForPC(reflect.ValueOf(fn).Pointer()).Name()
	name = name[strings.LastIndex(name, "/")+1:]
	return name[strings.Index(name, ".")+1:]
}

// isFuzzNormalizeTarget reports whether name is a top-level FuzzNormalize*
// function rather than a closure or a helper.
func isFuzzNormalizeTarget(name string) bool {
	return strings.HasPrefix(name, "FuzzNormalize") && name != "FuzzNormalize" && !strings.Contains(name, ".")
}
