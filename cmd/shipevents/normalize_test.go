package main_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/shipevents/shipevents"
)

var fixedNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// payloadFixtures returns the payload files of ../../testdata by format
// (the folder name), golden files left out.
func payloadFixtures(t *testing.T) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	byFormat := map[string][]string{}
	for _, f := range files {
		if strings.HasSuffix(f, ".golden.json") || !(strings.HasSuffix(f, ".json") || strings.HasSuffix(f, ".xml")) {
			continue
		}
		format := filepath.Base(filepath.Dir(f))
		byFormat[format] = append(byFormat[format], f)
	}
	if len(byFormat) < len(shipevents.Formats()) {
		t.Fatalf("found fixtures for %d formats, want one folder for each of the %d formats", len(byFormat), len(shipevents.Formats()))
	}
	return byFormat
}

// libraryLines is what the library's Normalize gives for a payload,
// marshalled one event per line: the output the command must print.
func libraryLines(t *testing.T, format string, raw []byte, marshal func(*shipevents.Event) ([]byte, error)) string {
	t.Helper()
	n := shipevents.NewNormalizer(shipevents.NormalizerConfig{Now: func() time.Time { return fixedNow }})
	events, err := n.Normalize(format, raw)
	if err != nil {
		t.Fatalf("library Normalize: %v", err)
	}
	if len(events) == 0 {
		t.Fatal("library Normalize returned no events")
	}
	var b strings.Builder
	for i := range events {
		line, err := marshal(&events[i])
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

func nested(e *shipevents.Event) ([]byte, error) { return json.Marshal(e) }

func TestNormalizeEveryFixtureAsTheLibraryDoes(t *testing.T) {
	byFormat := payloadFixtures(t)
	// All files in one run, formats detected: the events of each file in
	// the order of the arguments.
	var all []string
	var want strings.Builder
	for _, format := range slices.Sorted(func(yield func(string) bool) {
		for f := range byFormat {
			if !yield(f) {
				return
			}
		}
	}) {
		for _, file := range byFormat[format] {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, file)
			want.WriteString(libraryLines(t, "", raw, nested))
		}
	}
	r := runCLI(t, append([]string{"normalize", "-now", fixedNow.Format(time.RFC3339)}, all...)...)
	wantExit(t, r, 0)
	if r.stderr != "" {
		t.Errorf("stderr: %s", r.stderr)
	}
	if r.stdout != want.String() {
		t.Errorf("normalize of %d files differs from the library's output:\n got: %.2000s\nwant: %.2000s", len(all), r.stdout, want.String())
	}
}

func TestNormalizeStdinWithFormat(t *testing.T) {
	for format, files := range payloadFixtures(t) {
		t.Run(format, func(t *testing.T) {
			raw, err := os.ReadFile(files[0])
			if err != nil {
				t.Fatal(err)
			}
			// Flags after the "-" argument are parsed too.
			r := cli{args: []string{"normalize", "-", "-format", format, "-now", fixedNow.Format(time.RFC3339)}, stdin: raw}.run(t)
			wantExit(t, r, 0)
			if want := libraryLines(t, format, raw, nested); r.stdout != want {
				t.Errorf("got:\n%s\nwant:\n%s", r.stdout, want)
			}
		})
	}
}

func TestNormalizeForms(t *testing.T) {
	file := payloadFixtures(t)["ups"][0]
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for form, marshal := range map[string]func(*shipevents.Event) ([]byte, error){
		"nested":      nested,
		"flat":        (*shipevents.Event).MarshalFlat,
		"cloudevents": (*shipevents.Event).MarshalCloudEvent,
	} {
		t.Run(form, func(t *testing.T) {
			r := runCLI(t, "normalize", "-form", form, "-now", "2026-01-02T03:04:05Z", file)
			wantExit(t, r, 0)
			if want := libraryLines(t, "", raw, marshal); r.stdout != want {
				t.Errorf("got:\n%s\nwant:\n%s", r.stdout, want)
			}
		})
	}
}

// Without -now, triggered_at is the time of the run and the rest is the
// library's output.
func TestNormalizeStampsTheCurrentTime(t *testing.T) {
	file := payloadFixtures(t)["fedex"][0]
	raw, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now().UTC()
	r := runCLI(t, "normalize", file)
	after := time.Now().UTC()
	wantExit(t, r, 0)
	want, err := shipevents.Normalize("", raw)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d events:\n%s", len(lines), len(want), r.stdout)
	}
	for i, line := range lines {
		var got shipevents.Event
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		if got.TriggeredAt.Before(before.Truncate(time.Microsecond)) || got.TriggeredAt.After(after) {
			t.Errorf("line %d: triggered_at %v, want the time of the run, in [%v, %v]", i, got.TriggeredAt, before, after)
		}
		w := want[i]
		w.TriggeredAt = got.TriggeredAt
		wb, _ := json.Marshal(&w)
		if line != string(wb) {
			t.Errorf("line %d:\n got %s\nwant %s", i, line, wb)
		}
	}
}

func TestNormalizeRejectsBadInputWithTheLibrarysError(t *testing.T) {
	fedex, err := os.ReadFile(payloadFixtures(t)["fedex"][0])
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		format string
		input  []byte
		is     error
	}{
		{"empty", "", nil, shipevents.ErrInvalidPayload},
		{"truncated", "", fedex[:len(fedex)/2], shipevents.ErrInvalidPayload},
		{"unknown shape", "", []byte(`{"hello":"world"}`), shipevents.ErrUnknownFormat},
		{"wrong format", "ups", fedex, shipevents.ErrInvalidPayload},
		{"wrong types", "usps", []byte(`{"trackingNumber":42,"trackingEvents":"no"}`), shipevents.ErrInvalidPayload},
		{"NUL byte", "", []byte("{\"a\":1}\x00"), shipevents.ErrInvalidPayload},
		{"not UTF-8", "", []byte("{\"a\":\"\xff\"}"), shipevents.ErrInvalidPayload},
		{"too deep", "", []byte(strings.Repeat("[", 100) + strings.Repeat("]", 100)), shipevents.ErrPayloadTooDeep},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, libErr := shipevents.Normalize(c.format, c.input)
			if !errors.Is(libErr, c.is) {
				t.Fatalf("library error %v, want one matching %v", libErr, c.is)
			}
			args := []string{"normalize"}
			if c.format != "" {
				args = append(args, "-format", c.format)
			}
			r := cli{args: args, stdin: c.input}.run(t)
			wantExit(t, r, 1)
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			if want := "shipevents normalize: " + libErr.Error() + "\n"; r.stderr != want {
				t.Errorf("stderr %q, want %q", r.stderr, want)
			}
		})
	}
}

func TestNormalizeLimitsInput(t *testing.T) {
	file := payloadFixtures(t)["ups"][0]
	r := runCLI(t, "normalize", "-max-bytes", "100", file)
	wantExit(t, r, 1)
	if !strings.Contains(r.stderr, file+": shipevents: invalid payload") || !strings.Contains(r.stderr, "limit 100") {
		t.Errorf("stderr %q, want the file named and the size limit", r.stderr)
	}
}

// A hostile payload cannot write terminal escapes through the error
// message: the key list the detection error quotes is escaped.
func TestNormalizeErrorsAreSafeForTerminals(t *testing.T) {
	r := cli{args: []string{"normalize"}, stdin: []byte("{\"\x1b[2J\\u001b\u202e\":1}")}.run(t)
	wantExit(t, r, 1)
	if strings.ContainsAny(r.stderr, "\x1b\u202e") {
		t.Errorf("stderr holds raw control characters: %q", r.stderr)
	}
	if !strings.Contains(r.stderr, `\x1b`) {
		t.Errorf("stderr %q, want the escape written as \\x1b", r.stderr)
	}
}

func TestNormalizeOutputIsSafeForTerminals(t *testing.T) {
	// A DHL scan whose description carries a C1 control (CSI) and a
	// bidirectional override, which encoding/json leaves raw.
	payload := []byte(`{"shipments":[{"id":"00340434161094026543","service":"parcel-de",
		"status":{"timestamp":"2025-08-18T06:31:12Z","statusCode":"transit","status":"IN_TRANSIT",
		"description":"sorted\u009b2J \u202enepo"}}]}`)
	events, err := shipevents.Normalize("", payload)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.ContainsAny(events[0].Data.Description, "\u009b\u202e") {
		t.Fatalf("the description %q lost its control characters: the test proves nothing", events[0].Data.Description)
	}
	r := cli{args: []string{"normalize", "-now", fixedNow.Format(time.RFC3339)}, stdin: payload}.run(t)
	wantExit(t, r, 0)
	if strings.ContainsAny(r.stdout, "\u009b\u202e") {
		t.Errorf("stdout holds raw control characters: %q", r.stdout)
	}
	if !strings.Contains(r.stdout, `\u009b`) {
		t.Errorf("stdout %q, want the control written as \\u009b", r.stdout)
	}
	// Escaped, the JSON means the same.
	var got, want any
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
		t.Fatalf("the escaped output is not JSON: %v", err)
	}
	if err := json.Unmarshal([]byte(libraryLines(t, "", payload, nested)), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the escaped output reads back as\n%v\nwant\n%v", got, want)
	}
}

func TestNormalizeSeveralFilesReportsEachFailure(t *testing.T) {
	good := payloadFixtures(t)["dhl"][0]
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"hello":"world"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.json")

	r := runCLI(t, "normalize", "-now", fixedNow.Format(time.RFC3339), bad, good)
	wantExit(t, r, 1)
	if want := libraryLines(t, "", raw, nested); r.stdout != want {
		t.Errorf("stdout lacks the good file's events:\n%s", r.stdout)
	}
	for _, want := range []string{"shipevents normalize: " + bad + ": shipevents: unknown format", "1 of 2 payloads not normalized"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr %q, want %q", r.stderr, want)
		}
	}

	// A file that cannot be read is a failure to run (3), worse than a
	// rejected payload.
	r = runCLI(t, "normalize", bad, missing, good)
	wantExit(t, r, 3)
	if !strings.Contains(r.stderr, missing) {
		t.Errorf("stderr %q does not name %s", r.stderr, missing)
	}
	r = runCLI(t, "normalize", missing)
	wantExit(t, r, 3)
}

func TestNormalizeUsageErrors(t *testing.T) {
	for _, args := range [][]string{
		{"normalize", "-format", "acme"},
		{"normalize", "-form", "xml"},
		{"normalize", "-now", "yesterday-ish"},
		{"normalize", "-max-bytes", "0"},
		{"normalize", "-no-such-flag"},
	} {
		t.Run(strings.Join(args[1:], " "), func(t *testing.T) {
			r := runCLI(t, args...)
			wantExit(t, r, 2)
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			if !strings.HasPrefix(r.stderr, "shipevents normalize: ") || !strings.Contains(r.stderr, "shipevents help normalize") {
				t.Errorf("stderr %q, want the problem and a pointer to the help", r.stderr)
			}
		})
	}
}
