package shipevents

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// TestCrosswalkTables parses every embedded table: it fails on a duplicate
// key, an unknown status, an event name missing from the catalogue, or a
// row whose status disagrees with its event name.
func TestCrosswalkTables(t *testing.T) {
	rows, err := parseCrosswalkFS(crosswalkFS, "data/crosswalk")
	if err != nil {
		t.Fatal(err)
	}
	carriers := map[string]int{}
	for _, r := range rows {
		carriers[r.Carrier]++
	}
	// Karrio's 44 carriers (one of them, easypost, is merged with the
	// EasyPost aggregator table) plus the aggregators and formats.
	for _, c := range []string{"ups", "fedex", "dhl", "usps", "easypost", "aftership", "shippo", "karrio", "fulfillment", "canadapost", "seko", "bpost", "zoom2u"} {
		if carriers[c] == 0 {
			t.Errorf("no crosswalk rows for %s", c)
		}
	}
	if len(carriers) < 48 {
		t.Errorf("%d carrier tables, want at least 48", len(carriers))
	}
	m := DefaultMapper()
	if got := len(m.Rows()); got != len(rows) {
		t.Errorf("DefaultMapper has %d rows, tables have %d", got, len(rows))
	}
	// The README's table of carriers and code counts must match the data.
	readme, err := os.ReadFile(filepath.Join("data", "crosswalk", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	for _, cc := range m.Carriers() {
		if !strings.Contains(string(readme), "| "+cc.Carrier+" |") {
			t.Errorf("data/crosswalk/README.md does not list %s", cc.Carrier)
		}
	}
}

func TestParseCrosswalkRejects(t *testing.T) {
	tests := map[string]string{
		"duplicate key":      "code\tA\tDELIVERED\tSUCCESSFULLY_DELIVERED\ncode\tA\tIN_TRANSIT\tIN_TRANSIT\n",
		"unknown status":     "code\tA\tSHIPPED\tIN_TRANSIT\n",
		"unknown event name": "code\tA\tIN_TRANSIT\tMOVING_ALONG\n",
		"status disagrees":   "code\tA\tDELIVERED\tIN_TRANSIT\n",
		"too few fields":     "code\tA\tDELIVERED\n",
		"empty code":         "code\t\tDELIVERED\tSUCCESSFULLY_DELIVERED\n",
	}
	for name, data := range tests {
		if _, err := ParseCrosswalk("acme", []byte(data)); !errors.Is(err, ErrInvalidMapping) {
			t.Errorf("%s: ParseCrosswalk error = %v, want ErrInvalidMapping", name, err)
		}
	}
	// Duplicates across files of one carrier are caught too.
	fsys := fstest.MapFS{
		"d/acme.tsv": {Data: []byte("code\tA\tDELIVERED\tSUCCESSFULLY_DELIVERED\n")},
		"d/beta.tsv": {Data: []byte("code\tA\tDELIVERED\tSUCCESSFULLY_DELIVERED\n")},
	}
	if _, err := parseCrosswalkFS(fsys, "d"); err != nil {
		t.Errorf("same code in two carriers is fine, got %v", err)
	}
}

func TestMapperLookupAndOverride(t *testing.T) {
	m := DefaultMapper()
	// UPS codes mean something only with their type.
	if got, _ := m.Lookup("ups", "type_code", "I:OT"); got.Status != StatusOutForDelivery {
		t.Errorf("ups I:OT = %v, want OUT_FOR_DELIVERY", got)
	}
	if got, _ := m.Lookup("fedex", "event_type", "DL"); got.Status != StatusDelivered {
		t.Errorf("fedex DL = %v, want DELIVERED", got)
	}
	if got, _ := m.Lookup("ups", "type_code", "I:DL"); got.Status == StatusDelivered {
		t.Errorf("ups I:DL = %v: DL is not delivered for UPS", got)
	}
	// Case-insensitive fallback.
	if got, ok := m.Lookup("aftership", "tag", "delivered"); !ok || got.Status != StatusDelivered {
		t.Errorf("aftership tag delivered (lower case) = %v, %v", got, ok)
	}
	if _, ok := m.Lookup("ups", "type_code", "Z:ZZ"); ok {
		t.Error("unknown code found")
	}
	// A host overrides one row and adds its own carrier; the default
	// tables are untouched.
	err := m.Set(
		Row{Carrier: "ups", Namespace: "type_code", Code: "I:OT", Status: StatusInTransit, EventName: "IN_TRANSIT"},
		Row{Carrier: "acme", Namespace: "code", Code: "99", Status: StatusDelivered, EventName: "DELIVERED_TO_NEIGHBOR"},
	)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Lookup("ups", "type_code", "I:OT"); got.Status != StatusInTransit {
		t.Errorf("override not applied: %v", got)
	}
	if got, _ := m.Lookup("acme", "code", "99"); got.EventName != "DELIVERED_TO_NEIGHBOR" {
		t.Errorf("added row not found: %v", got)
	}
	if got, _ := DefaultMapper().Lookup("ups", "type_code", "I:OT"); got.Status != StatusOutForDelivery {
		t.Errorf("override leaked into another mapper: %v", got)
	}
	if err := m.Set(Row{Carrier: "acme", Namespace: "code", Code: "1", Status: StatusDelivered, EventName: "IN_TRANSIT"}); !errors.Is(err, ErrInvalidMapping) {
		t.Errorf("invalid row accepted: %v", err)
	}
}

// TestReadmeCarrierTable keeps the README's carrier table in step with the
// embedded data.
func TestReadmeCarrierTable(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, line := range strings.Split(string(readme), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) == 5 {
			listed[strings.TrimSpace(cells[1])] = strings.TrimSpace(cells[2])
		}
	}
	total := 0
	for _, cc := range DefaultMapper().Carriers() {
		total += cc.Codes
		if got := listed[cc.Carrier]; got != strconv.Itoa(cc.Codes) {
			t.Errorf("README lists %s with %q codes, the data has %d", cc.Carrier, got, cc.Codes)
		}
	}
	if want := fmt.Sprintf("%s codes for %d code tables", formatThousands(total), len(DefaultMapper().Carriers())); !strings.Contains(string(readme), want) {
		t.Errorf("README does not say %q", want)
	}
}

func formatThousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// TestDefaultRetrySchedule checks the documented default: 11 attempts,
// the waits growing 3x from 5 s to the 10 h cap, about a day in all.
func TestDefaultRetrySchedule(t *testing.T) {
	p := RetryPolicy{NoJitter: true}
	var total time.Duration
	want := []time.Duration{5 * time.Second, 15 * time.Second, 45 * time.Second, 135 * time.Second, 405 * time.Second,
		1215 * time.Second, 3645 * time.Second, 10935 * time.Second, 32805 * time.Second, 10 * time.Hour}
	for i, w := range want {
		if got := p.Delay(i + 1); got != w {
			t.Errorf("Delay(%d) = %v, want %v", i+1, got, w)
		}
		total += w
	}
	if total < 23*time.Hour || total > 25*time.Hour {
		t.Errorf("schedule spans %v, want about a day", total)
	}
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if d := p.Decide(errors.New("connection refused"), DefaultMaxAttempts, created, created); d.Retry {
		t.Errorf("attempt %d was retried", DefaultMaxAttempts)
	}
	if d := p.Decide(errors.New("connection refused"), DefaultMaxAttempts-1, created, created); !d.Retry {
		t.Errorf("attempt %d was not retried", DefaultMaxAttempts-1)
	}
	// Jitter stays within ±20 %.
	j := RetryPolicy{}
	for range 200 {
		if d := j.Delay(3); d < 36*time.Second || d > 54*time.Second {
			t.Fatalf("jittered Delay(3) = %v, outside 45 s ± 20 %%", d)
		}
	}
}
