package shipevents

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// decodeProbe covers the kinds decodeJSON plans for beyond what the format
// parsers use today, so that agreement holds for them too.
type decodeProbe struct {
	decodeProbeEmbedded
	S     string            `json:"s"`
	B     bool              `json:"b"`
	I     int64             `json:"i"`
	I8    int8              `json:"i8"`
	U     uint16            `json:"u"`
	F     float64           `json:"f"`
	F32   float32           `json:"f32"`
	PI    *int64            `json:"pi"`
	PS    *string           `json:"ps"`
	Raw   json.RawMessage   `json:"raw"`
	PRaw  *json.RawMessage  `json:"praw"`
	List  []decodeProbeItem `json:"list"`
	Strs  []string          `json:"strs"`
	Nest  *decodeProbe      `json:"nest"`
	Named string            // no tag: matched by the Go name
	Skip  string            `json:"-"`
	//lint:ignore SA5008 "-," names the field "-": a corner case under test
	Dash string `json:"-,"`
	//lint:ignore U1000 unexported fields are never decoded: a corner case under test
	hide  string
	Upper string `json:"UPPER"`
	// Handed to encoding/json: their own UnmarshalJSON, maps, interfaces,
	// arrays, base64 bytes, json.Number.
	When   time.Time         `json:"when"`
	PWhen  *time.Time        `json:"pwhen"`
	Map    map[string]string `json:"map"`
	Any    any               `json:"any"`
	Arr    [2]int            `json:"arr"`
	Bytes  []byte            `json:"bytes"`
	Num    json.Number       `json:"num"`
	Items  []decodeProbeItem `json:"items"`
	Status Status            `json:"status"`
	Fold   string            `json:"ſtraße"` // non-ASCII: matched by folding, as encoding/json does
}

type decodeProbeEmbedded struct {
	E    string `json:"e"`
	Deep struct {
		X string `json:"x"`
	} `json:"deep"`
}

type decodeProbeItem struct {
	A string `json:"a"`
	N int    `json:"n"`
}

// decodeTargets returns fresh values of every type decodeJSON must agree
// with encoding/json on: each parser's payload type and the probe.
func decodeTargets() map[string]func() any {
	m := map[string]func() any{
		"probe":            func() any { return new(decodeProbe) },
		"fulfillmentEvent": func() any { return new(fulfillmentEvent) },
		"sekoSingle":       func() any { return new(sekoSingle) },
		"event":            func() any { return new(eventFields) },
	}
	for f, mk := range typedTargets {
		m[f] = mk
	}
	return m
}

// checkDecodeAgreement decodes raw with decodeJSON and json.Unmarshal into
// fresh values of each target and fails unless both fail or both give
// equal values.
func checkDecodeAgreement(t *testing.T, raw []byte) {
	t.Helper()
	for name, mk := range decodeTargets() {
		ours, theirs := mk(), mk()
		errOurs := decodeJSON(raw, ours)
		errTheirs := json.Unmarshal(raw, theirs)
		if (errOurs == nil) != (errTheirs == nil) {
			t.Fatalf("%s: %q: decodeJSON error %v, json.Unmarshal error %v", name, raw, errOurs, errTheirs)
		}
		if errOurs == nil && !reflect.DeepEqual(ours, theirs) {
			t.Fatalf("%s: %q: values differ\n decodeJSON:     %#v\n json.Unmarshal: %#v", name, raw, ours, theirs)
		}
	}
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

// decodeCorners are inputs where encoding/json has particular behaviour.
var decodeCorners = []string{
	``, ` `, `null`, `{}`, `[]`, `"x"`, `1`, `true`, `{`, `}`, `{"s":}`, `{"s":"a",}`, `[1,]`,
	`{"s":"a"} x`, `{"s":"a"}  `, "\t\n\r {\"s\" : \"a\" } \n",
	`{"s":"a","s":"b"}`,                               // last wins
	`{"S":"upper"}`, `{"UPPER":"x"}`, `{"upper":"x"}`, // case-insensitive fallback
	`{"ſ":"long s"}`, `{"STRASSE":"x"}`, `{"ſtraße":"x"}`, `{"ſTRASSE":"x"}`, `{"Ktraße":"x"}`,
	`{"named":"n"}`, `{"Named":"n"}`, `{"skip":"x","Skip":"y","-":"dash"}`, `{"hide":"x"}`,
	`{"s":null,"b":null,"i":null,"pi":null,"list":null,"raw":null,"praw":null}`,
	`{"s":"a","s":null}`, `{"pi":1,"pi":null}`, `{"list":[{"a":"x"}],"list":null}`,
	`{"list":[{"a":"x","n":1},{"a":"y"}],"list":[{"n":2}]}`, // merges into element 0
	`{"list":[{"a":"x"},{"a":"y"}],"list":[{},{}],"list":[]}`,
	`{"list":[{"a":"x"},{"a":"y"}],"list":[{"n":3}],"list":[{},{}]}`, // stale element reappears
	`{"strs":[]}`, `{"strs":["a","b"],"strs":["c"]}`,
	`{"s":1}`, `{"s":true}`, `{"s":{}}`, `{"s":[]}`, `{"b":"true"}`, `{"b":1}`, `{"i":"1"}`,
	`{"i":1.5}`, `{"i":1e3}`, `{"i":-0}`, `{"i":9223372036854775807}`, `{"i":9223372036854775808}`,
	`{"i8":127}`, `{"i8":128}`, `{"u":-1}`, `{"u":65536}`, `{"u":65535}`,
	`{"f":1e308}`, `{"f":1e309}`, `{"f32":3.5e38}`, `{"f32":-0.0}`, `{"f":1E-5}`, `{"f":0.5e+2}`,
	`{"f":01}`, `{"f":-}`, `{"f":1.}`, `{"f":.5}`, `{"f":+1}`, `{"f":1e}`, `{"f":1e+}`, `{"f":NaN}`,
	`{"raw":{"a":[1,2,{"b":null}]} }`, `{"raw": [ 1 , 2 ] }`, `{"raw":"x"}`, `{"raw":1,"raw":"yy"}`,
	`{"praw":{"a":1}}`, `{"pi":"1"}`, `{"ps":"x"}`, `{"ps":null}`,
	`{"nest":{"nest":{"s":"deep"}}}`, `{"nest":null}`, `{"nest":[]}`,
	`{"e":"promoted","deep":{"x":"y"}}`, `{"deep":{"x":1}}`, `{"deep":null}`, `{"deep":"x"}`,
	`{"s":"\u00e9\ud83d\ude00"}`, `{"s":"\ud83d"}`, `{"s":"\ud83dx"}`, `{"s":"\ude00\ud83d"}`,
	`{"s":"\ud83d\u0041"}`, `{"s":"\ud83d\ud83d\ude00"}`, `{"s":"a\"b\\c\/d\b\f\n\r\t"}`,
	`{"s":"\x"}`, `{"s":"\u12"}`, `{"s":"\u12g4"}`, "{\"s\":\"a\tb\"}", "{\"s\":\"a\x00b\"}",
	"{\"s\":\"\xff\xfe\"}", "{\"s\":\"caf\xc3\"}", "{\"s\xff\":\"x\"}", "\xef\xbb\xbf{}",
	`{"\u0073":"escaped key"}`, `{"s\u0000":"x"}`, `{"trackResponse":{"shipment":[{"package":[{}]}]}}`,
	`{"s":"a"}{"s":"b"}`, `[{"kind":"shipment.created"}]`, `{"a":[[[[[[]]]]]]}`, `{"a":tru}`,
	`{"a":nul}`, `{"a":falsey}`, `{"a" "b"}`, `{1:2}`, `{"a":1 "b":2}`, `["a" "b"]`,
	`{"when":"2026-03-01T10:00:00Z","pwhen":"2026-03-01T10:00:00.5+02:00"}`, `{"when":null,"pwhen":null}`,
	`{"when":"yesterday"}`, `{"when":17}`, `{"map":{"a":"b"},"map":{"c":"d"}}`, `{"map":null}`, `{"map":{"a":1}}`,
	`{"any":{"x":[1,"y",null,true]}}`, `{"any":1.5e3}`, `{"arr":[1,2,3]}`, `{"arr":[1]}`, `{"bytes":"aGk="}`,
	`{"bytes":"!!"}`, `{"num":12.5}`, `{"num":"12"}`, `{"items":[{"a":"x"}]}`, `{"status":"DELIVERED"}`,
	`{"id":"e1","type":"tracking.updated","version":1,"occurred_at":"2026-03-01T10:00:00Z","event_data":{"description":"x","status_code":"012","Description":"y"},"context":{"k":[1]},"metadata":{"m":"v"}}`,
	`{"event_data":null}`, `{"event_data":{"location":{"city":"Berlin"},"estimated_delivery":"2026-03-02T00:00:00Z"}}`,
	`{"event_data":[]}`, `{"event_data":{"estimated_delivery":"soon"}}`, `{"carrier_status":{"code":"OT"},"carrier_status":null}`,
	`{"description":"a","extra":1,"extra":{"b":2},"Location":{"city":"x"},"location":null,"\u0065xtra":"esc"}`,
	`{"description":"x","service":null,"extra":[1,2],"signed_by":7}`, `{"reason":"r"} `,
}

func TestDecodeJSONAgreesWithEncodingJSON(t *testing.T) {
	for _, in := range decodeCorners {
		checkDecodeAgreement(t, []byte(in))
		checkEventDataAgreement(t, []byte(in))
	}
	for _, path := range fixturePaths(t) {
		raw, err := os.ReadFile(path)
		require.NoError(t, err)
		checkDecodeAgreement(t, raw)
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

// FuzzDecodeJSONAgreement checks decodeJSON against json.Unmarshal on
// arbitrary input for every parser type: same error-or-not, same values.
func FuzzDecodeJSONAgreement(f *testing.F) {
	for _, in := range decodeCorners {
		f.Add([]byte(in))
	}
	for _, path := range fixturePaths(f) {
		raw, err := os.ReadFile(path)
		require.NoError(f, err)
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkDecodeAgreement(t, raw)
		checkEventDataAgreement(t, raw)
	})
}

func TestDecodeJSONErrors(t *testing.T) {
	var p decodeProbe
	err := decodeJSON([]byte(`{"list":[{"a":"x"},{"a":7}]}`), &p)
	var te *json.UnmarshalTypeError
	require.True(t, errors.As(err, &te), "%v", err)
	assert.Equal(t, "list[1].a", te.Field)
	assert.Equal(t, "decodeProbe", te.Struct)
	assert.Equal(t, "number", te.Value)

	err = decodeJSON([]byte(`{"s":"a",`), &p)
	var se *jsonSyntaxError
	require.True(t, errors.As(err, &se), "%v", err)
	assert.Equal(t, "unexpected end of JSON input", se.Error())

	err = decodeJSON([]byte(`{"s":"a"]`), &p)
	require.True(t, errors.As(err, &se), "%v", err)
	assert.Equal(t, int64(9), se.Offset)
	assert.Contains(t, se.Error(), "invalid character ']'")

	// Types decodeJSON does not plan for go to encoding/json.
	var m map[string]any
	require.NoError(t, decodeJSON([]byte(`{"a":[1,"b"]}`), &m))
	assert.Equal(t, map[string]any{"a": []any{1.0, "b"}}, m)
	assert.True(t, planFor(reflect.TypeFor[map[string]any]()).usesStdlib())
	assert.Nil(t, planFor(reflect.TypeFor[chan int]()))
	// Every parser type is decoded by the decoder itself, where
	// Normalize's depth and memory limits apply, not by encoding/json.
	for name, mk := range decodeTargets() {
		if name == "probe" || name == "event" {
			continue // they cover the hand-over on purpose
		}
		assert.False(t, planFor(reflect.TypeOf(mk()).Elem()).usesStdlib(), name)
	}

	// A nil or non-pointer target is reported, not a panic.
	require.Error(t, decodeJSON([]byte(`{}`), nil))
	require.Error(t, decodeJSON([]byte(`{}`), p))
}

// Deep nesting in skipped values is bounded like encoding/json's.
func TestDecodeJSONNestingLimit(t *testing.T) {
	deep := strings.Repeat("[", maxJSONNesting+1) + strings.Repeat("]", maxJSONNesting+1)
	var p decodeProbe
	require.Error(t, decodeJSON([]byte(`{"x":`+deep+`}`), &p))
	require.Error(t, json.Unmarshal([]byte(`{"x":`+deep+`}`), &p))
	ok := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	require.NoError(t, decodeJSON([]byte(`{"x":`+ok+`}`), &p))
}
