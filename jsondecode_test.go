package shipevents

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shipevents/shipevents/internal/jsondecode"
	"github.com/shipevents/shipevents/internal/jsondecode/jsondecodetest"
)

// decodeTargets returns fresh values of every type the library decodes
// with internal/jsondecode, which must agree with encoding/json on them:
// each parser's payload type and the event.
func decodeTargets() map[string]func() any {
	m := map[string]func() any{
		"fulfillmentEvent": func() any { return new(fulfillmentEvent) },
		"sekoSingle":       func() any { return new(sekoSingle) },
		"event":            func() any { return new(eventFields) },
	}
	for f, mk := range typedTargets {
		m[f] = mk
	}
	return m
}

// documentCorners add to the decoder's corner cases the shapes of the
// library's own documents: payloads and stored events.
var documentCorners = []string{
	`{"trackResponse":{"shipment":[{"package":[{}]}]}}`, `[{"kind":"shipment.created"}]`,
	`{"id":"e1","type":"tracking.updated","version":1,"occurred_at":"2026-03-01T10:00:00Z","event_data":{"description":"x","status_code":"012","Description":"y"},"context":{"k":[1]},"metadata":{"m":"v"}}`,
	`{"event_data":null}`, `{"event_data":{"location":{"city":"Berlin"},"estimated_delivery":"2026-03-02T00:00:00Z"}}`,
	`{"event_data":[]}`, `{"event_data":{"estimated_delivery":"soon"}}`, `{"carrier_status":{"code":"OT"},"carrier_status":null}`,
	`{"description":"a","extra":1,"extra":{"b":2},"Location":{"city":"x"},"location":null,"\u0065xtra":"esc"}`,
	`{"description":"x","service":null,"extra":[1,2],"signed_by":7}`, `{"reason":"r"} `,
}

func decodeCorners() []string {
	return append(slices.Clone(jsondecodetest.Corners), documentCorners...)
}

// legacyEventDataUnmarshal is EventData's UnmarshalJSON as it was with
// encoding/json alone (the typed fields, then the whole object as a map
// less the typed keys): the reference its faster form must agree with.
func legacyEventDataUnmarshal(b []byte) (EventData, error) {
	var a eventDataAlias
	if err := json.Unmarshal(b, &a); err != nil {
		return EventData{}, err
	}
	var all map[string]any
	if err := json.Unmarshal(b, &all); err != nil {
		return EventData{}, err
	}
	for k := range eventDataFields {
		delete(all, k)
	}
	if len(all) > 0 {
		a.Extra = all
	} else {
		a.Extra = nil
	}
	return EventData(a), nil
}

// checkEventDataAgreement compares EventData.UnmarshalJSON with the
// reference on raw, as event_data and as a whole event's event_data.
func checkEventDataAgreement(t *testing.T, raw []byte) {
	t.Helper()
	want, errWant := legacyEventDataUnmarshal(raw)
	var got EventData
	errGot := json.Unmarshal(raw, &got)
	if (errGot == nil) != (errWant == nil) {
		t.Fatalf("%q: EventData error %v, reference error %v", raw, errGot, errWant)
	}
	if errGot == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("%q: EventData differs\n got:       %#v\n reference: %#v", raw, got, want)
	}
}

func TestDecodeJSONAgreesWithEncodingJSON(t *testing.T) {
	targets := decodeTargets()
	for _, in := range decodeCorners() {
		jsondecodetest.CheckAgreement(t, []byte(in), targets)
		checkEventDataAgreement(t, []byte(in))
	}
	for _, path := range fixturePaths(t) {
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		jsondecodetest.CheckAgreement(t, raw, targets)
	}
}

func fixturePaths(t testing.TB) []string {
	paths, err := filepath.Glob(filepath.Join("testdata", "*", "*.json"))
	require.NoError(t, err)
	var out []string
	for _, p := range paths {
		if !strings.HasSuffix(p, ".golden.json") {
			out = append(out, p)
		}
	}
	require.NotEmpty(t, out)
	return out
}

// FuzzDecodeJSONAgreement checks the decoder against json.Unmarshal on
// arbitrary input for every parser type: same error-or-not, same values.
func FuzzDecodeJSONAgreement(f *testing.F) {
	for _, in := range decodeCorners() {
		f.Add([]byte(in))
	}
	for _, path := range fixturePaths(f) {
		raw, err := os.ReadFile(path)
		require.NoError(f, err)
		f.Add(raw)
	}
	targets := decodeTargets()
	f.Fuzz(func(t *testing.T, raw []byte) {
		jsondecodetest.CheckAgreement(t, raw, targets)
		checkEventDataAgreement(t, raw)
	})
}

// Every parser type is decoded by the decoder itself, where Normalize's
// depth and memory limits apply, not handed to encoding/json.
func TestParserTypesHaveDecodePlans(t *testing.T) {
	for name, mk := range decodeTargets() {
		if name == "event" {
			continue // its maps and EventData are handed over on purpose
		}
		assert.True(t, jsondecode.LimitsApply(reflect.TypeOf(mk()).Elem()), name)
	}
}
