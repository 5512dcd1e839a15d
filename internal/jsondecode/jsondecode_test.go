package jsondecode_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/shipevents/shipevents/internal/jsondecode"
	"github.com/shipevents/shipevents/internal/jsondecode/jsondecodetest"
)

// probe covers every kind Decode plans for, beyond what the library's
// types use today, so that agreement holds for them too.
type probe struct {
	probeEmbedded
	S     string           `json:"s"`
	B     bool             `json:"b"`
	I     int64            `json:"i"`
	I8    int8             `json:"i8"`
	U     uint16           `json:"u"`
	F     float64          `json:"f"`
	F32   float32          `json:"f32"`
	PI    *int64           `json:"pi"`
	PS    *string          `json:"ps"`
	Raw   json.RawMessage  `json:"raw"`
	PRaw  *json.RawMessage `json:"praw"`
	List  []probeItem      `json:"list"`
	Strs  []string         `json:"strs"`
	Nest  *probe           `json:"nest"`
	Named string           // no tag: matched by the Go name
	Skip  string           `json:"-"`
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
	Items  []probeItem       `json:"items"`
	Status namedString       `json:"status"`
	Fold   string            `json:"ſtraße"` // non-ASCII: matched by folding, as encoding/json does
}

type probeEmbedded struct {
	E    string `json:"e"`
	Deep struct {
		X string `json:"x"`
	} `json:"deep"`
}

type probeItem struct {
	A string `json:"a"`
	N int    `json:"n"`
}

type namedString string

var probeTargets = map[string]func() any{
	"probe": func() any { return new(probe) },
	"items": func() any { return new([]probeItem) },
}

func TestDecodeAgreesWithEncodingJSON(t *testing.T) {
	for _, in := range jsondecodetest.Corners {
		jsondecodetest.CheckAgreement(t, []byte(in), probeTargets)
	}
}

// FuzzDecodeAgreement checks Decode against json.Unmarshal on arbitrary
// input for the probe: same error-or-not, same values.
func FuzzDecodeAgreement(f *testing.F) {
	for _, in := range jsondecodetest.Corners {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		jsondecodetest.CheckAgreement(t, raw, probeTargets)
	})
}

func TestDecodeErrors(t *testing.T) {
	var p probe
	err := jsondecode.Decode([]byte(`{"list":[{"a":"x"},{"a":7}]}`), &p)
	var te *json.UnmarshalTypeError
	require.True(t, errors.As(err, &te), "%v", err)
	assert.Equal(t, "list[1].a", te.Field)
	assert.Equal(t, "probe", te.Struct)
	assert.Equal(t, "number", te.Value)

	err = jsondecode.Decode([]byte(`{"s":"a",`), &p)
	var se *jsondecode.SyntaxError
	require.True(t, errors.As(err, &se), "%v", err)
	assert.Equal(t, "unexpected end of JSON input", se.Error())

	err = jsondecode.Decode([]byte(`{"s":"a"]`), &p)
	require.True(t, errors.As(err, &se), "%v", err)
	assert.Equal(t, int64(9), se.Offset)
	assert.Contains(t, se.Error(), "invalid character ']'")

	// Types Decode does not plan for go to encoding/json, where Limits do
	// not apply.
	var m map[string]any
	require.NoError(t, jsondecode.Decode([]byte(`{"a":[1,"b"]}`), &m))
	assert.Equal(t, map[string]any{"a": []any{1.0, "b"}}, m)
	assert.False(t, jsondecode.LimitsApply(reflect.TypeFor[map[string]any]()))
	assert.False(t, jsondecode.LimitsApply(reflect.TypeFor[probe]()), "the probe hands maps and unmarshalers over")
	assert.True(t, jsondecode.LimitsApply(reflect.TypeFor[[]probeItem]()))
	var ch chan int
	require.Error(t, jsondecode.Decode([]byte(`1`), &ch))

	// A nil or non-pointer target is reported, not a panic.
	require.Error(t, jsondecode.Decode([]byte(`{}`), nil))
	require.Error(t, jsondecode.Decode([]byte(`{}`), p))
}

// Deep nesting in skipped values is bounded like encoding/json's.
func TestDecodeNestingLimit(t *testing.T) {
	deep := strings.Repeat("[", jsondecode.MaxNesting+1) + strings.Repeat("]", jsondecode.MaxNesting+1)
	var p probe
	err := jsondecode.Decode([]byte(`{"x":`+deep+`}`), &p)
	var de *jsondecode.DepthError
	require.True(t, errors.As(err, &de), "%v", err)
	assert.Equal(t, jsondecode.MaxNesting, de.Max)
	require.Error(t, json.Unmarshal([]byte(`{"x":`+deep+`}`), &p))
	ok := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	require.NoError(t, jsondecode.Decode([]byte(`{"x":`+ok+`}`), &p))

	err = jsondecode.DecodeLimited([]byte(`{"nest":{"nest":{"s":"x"}}}`), &p, jsondecode.Limits{MaxDepth: 2})
	require.True(t, errors.As(err, &de), "%v", err)
	assert.Equal(t, 2, de.Max)
	assert.Equal(t, int64(16), de.Offset, "the index of the brace one level too deep")
	require.NoError(t, jsondecode.DecodeLimited([]byte(`{"nest":{"nest":{"s":"x"}}}`), &p, jsondecode.Limits{MaxDepth: 3}))
}

// The slice budget counts each array allocated at its capacity, and is
// refused before the array that would overrun it is allocated.
func TestDecodeSliceBudget(t *testing.T) {
	size := int(reflect.TypeFor[probeItem]().Size())
	raw := []byte(`[{"a":"x"},{"a":"y"},{"a":"z"}]`) // the first array holds 4
	var items []probeItem
	require.NoError(t, jsondecode.DecodeLimited(raw, &items, jsondecode.Limits{MaxSliceBytes: 4 * size}))
	assert.Len(t, items, 3)
	err := jsondecode.DecodeLimited(raw, new([]probeItem), jsondecode.Limits{MaxSliceBytes: 4*size - 1})
	var be *jsondecode.SliceBudgetError
	require.True(t, errors.As(err, &be), "%v", err)
	assert.Equal(t, int64(1), be.Offset, "the offset of the first element")
}

// A megabyte of empty elements would decode into a far larger slice; the
// budget stops it having allocated about the budget.
func TestDecodeBoundsSliceMemory(t *testing.T) {
	const budget = 4 << 20
	raw := []byte(`{"list":[` + strings.TrimSuffix(strings.Repeat("{},", 1<<20/3), ",") + `]}`)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := jsondecode.DecodeLimited(raw, new(probe), jsondecode.Limits{MaxSliceBytes: budget})
	runtime.ReadMemStats(&after)
	var be *jsondecode.SliceBudgetError
	require.True(t, errors.As(err, &be), "%v", err)
	alloc := after.TotalAlloc - before.TotalAlloc
	assert.LessOrEqual(t, alloc, uint64(2*budget), "%d bytes allocated under a budget of %d", alloc, budget)
	t.Logf("%d KB allocated for a %d KB document under a budget of %d KB", alloc>>10, len(raw)>>10, budget>>10)
	// Without the budget the same document decodes, into far more.
	var p probe
	require.NoError(t, jsondecode.Decode(raw, &p))
	assert.Len(t, p.List, 1<<20/3)
}

func TestMembers(t *testing.T) {
	type member struct{ key, value string }
	var got []member
	err := jsondecode.Members([]byte(` {"a":1, "b\u0021":{"c":[true]} ,"a":"x"} `), func(key, value []byte) error {
		got = append(got, member{string(key), string(value)})
		return nil
	})
	require.NoError(t, err)
	assert.Equal(t, []member{{"a", "1"}, {"b!", `{"c":[true]}`}, {"a", `"x"`}}, got)

	for _, notObject := range []string{`null`, `[1]`, `"s"`, ``} {
		require.NoError(t, jsondecode.Members([]byte(notObject), func(key, value []byte) error {
			t.Errorf("%q: called with %q", notObject, key)
			return nil
		}))
	}

	stop := errors.New("stop")
	calls := 0
	err = jsondecode.Members([]byte(`{"a":1,"b":2}`), func(key, value []byte) error { calls++; return stop })
	assert.ErrorIs(t, err, stop)
	assert.Equal(t, 1, calls)

	var se *jsondecode.SyntaxError
	err = jsondecode.Members([]byte(`{"a":1 "b":2}`), func(key, value []byte) error { return nil })
	assert.True(t, errors.As(err, &se), "%v", err)
}
