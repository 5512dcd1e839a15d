package shipevents

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// needsFormat lists fixtures whose shape detection cannot tell apart and
// that must be normalized with their format named, each with the reason.
// Detection must refuse them (ErrUnknownFormat), never guess another
// format. Keep it empty where possible: every entry is a payload Normalize
// with format "" rejects.
var needsFormat = map[string]string{}

// TestDetectionOverAllFixtures walks every payload in testdata/<format>/
// (JSON and XML, golden files excluded): DetectFormat must name exactly
// <format>, and Normalize with format "" must give the same events as
// Normalize with the format named. One fixture detected as another format,
// or a shape two formats both claim, fails here.
func TestDetectionOverAllFixtures(t *testing.T) {
	dirs, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	n := goldenNormalizer()
	covered := map[string]int{}
	for _, d := range dirs {
		if !d.IsDir() || d.Name() == "fuzz" { // testdata/fuzz is go test's own fuzzing corpus
			continue
		}
		format := d.Name()
		if !slices.Contains(Formats(), format) {
			t.Errorf("testdata/%s is not a format (Formats: %s)", format, strings.Join(Formats(), ", "))
			continue
		}
		files, err := os.ReadDir(filepath.Join("testdata", format))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			name := f.Name()
			if f.IsDir() || strings.HasSuffix(name, ".golden.json") ||
				!(strings.HasSuffix(name, ".json") || strings.HasSuffix(name, ".xml")) {
				continue
			}
			path := filepath.ToSlash(filepath.Join("testdata", format, name))
			covered[format]++
			t.Run(strings.TrimPrefix(path, "testdata/"), func(t *testing.T) {
				raw, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				named, err := n.Normalize(format, raw)
				if err != nil {
					t.Fatalf("Normalize(%q): %v", format, err)
				}
				got, detectErr := DetectFormat(raw)
				if reason, ok := needsFormat[path]; ok {
					if detectErr == nil {
						t.Fatalf("detected as %q, but listed as needing its format named (%s): drop it from needsFormat if detection now works", got, reason)
					}
					if !errors.Is(detectErr, ErrUnknownFormat) {
						t.Fatalf("DetectFormat error %v, want ErrUnknownFormat", detectErr)
					}
					return
				}
				if detectErr != nil {
					t.Fatalf("DetectFormat: %v", detectErr)
				}
				if got != format {
					t.Fatalf("detected as %q, want %q", got, format)
				}
				detected, err := n.Normalize(FormatDetect, raw)
				if err != nil {
					t.Fatalf("Normalize(\"\"): %v", err)
				}
				a, _ := json.Marshal(named)
				b, _ := json.Marshal(detected)
				if string(a) != string(b) {
					t.Errorf("Normalize(\"\") differs from Normalize(%q)", format)
				}
			})
		}
	}
	for _, f := range Formats() {
		if covered[f] == 0 {
			t.Errorf("format %s has no fixture in testdata/%s", f, f)
		}
	}
	for path := range needsFormat {
		if _, err := os.Stat(path); err != nil {
			t.Errorf("needsFormat lists %s, which is not a fixture: %v", path, err)
		}
	}
}
