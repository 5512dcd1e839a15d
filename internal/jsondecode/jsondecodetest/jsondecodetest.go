// Package jsondecodetest holds what the agreement tests of the decoder
// share: inputs on which encoding/json has particular behaviour, and the
// check that the decoder gives what json.Unmarshal gives.
package jsondecodetest

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/shipevents/shipevents/internal/jsondecode"
)

// Corners are inputs where encoding/json has particular behaviour. The
// field names are those of the decoder's probe type; other types see
// them as unknown keys or type mismatches, which matter as much.
var Corners = []string{
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
	`{"\u0073":"escaped key"}`, `{"s\u0000":"x"}`,
	`{"s":"a"}{"s":"b"}`, `{"a":[[[[[[]]]]]]}`, `{"a":tru}`,
	`{"a":nul}`, `{"a":falsey}`, `{"a" "b"}`, `{1:2}`, `{"a":1 "b":2}`, `["a" "b"]`,
	`{"when":"2026-03-01T10:00:00Z","pwhen":"2026-03-01T10:00:00.5+02:00"}`, `{"when":null,"pwhen":null}`,
	`{"when":"yesterday"}`, `{"when":17}`, `{"map":{"a":"b"},"map":{"c":"d"}}`, `{"map":null}`, `{"map":{"a":1}}`,
	`{"any":{"x":[1,"y",null,true]}}`, `{"any":1.5e3}`, `{"arr":[1,2,3]}`, `{"arr":[1]}`, `{"bytes":"aGk="}`,
	`{"bytes":"!!"}`, `{"num":12.5}`, `{"num":"12"}`, `{"items":[{"a":"x"}]}`, `{"status":"DELIVERED"}`,
}

// CheckAgreement decodes raw with jsondecode.Decode and json.Unmarshal
// into fresh values made by each target and fails unless both fail or
// both give equal values.
func CheckAgreement(t testing.TB, raw []byte, targets map[string]func() any) {
	t.Helper()
	for name, mk := range targets {
		ours, theirs := mk(), mk()
		errOurs := jsondecode.Decode(raw, ours)
		errTheirs := json.Unmarshal(raw, theirs)
		if (errOurs == nil) != (errTheirs == nil) {
			t.Fatalf("%s: %q: Decode error %v, json.Unmarshal error %v", name, raw, errOurs, errTheirs)
		}
		if errOurs == nil && !reflect.DeepEqual(ours, theirs) {
			t.Fatalf("%s: %q: values differ\n Decode:         %#v\n json.Unmarshal: %#v", name, raw, ours, theirs)
		}
	}
}
