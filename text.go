package shipevents

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Text from outside (payloads, events, subscriptions, endpoints' answers)
// is hostile: it may hold NUL bytes or invalid UTF-8, which PostgreSQL
// refuses in text columns, newlines that forge log lines, or megabytes.
// The helpers here check text before a store keeps it, and bound it
// before a message quotes it.

// MaxIdentifierBytes bounds the identifiers an event or a subscription
// carries (ids, tenant, carrier, tracking number, correlation and
// transaction ids, type, ref): a database indexes them, and an index
// entry has a size limit (about 2.7 KB in PostgreSQL).
const MaxIdentifierBytes = 1024

// maxQuoted bounds how much of an untrusted string a message quotes.
const maxQuoted = 64

// maxValueDepth bounds the nesting of Context and EventData.Extra values
// (a map that holds itself would otherwise never end).
const maxValueDepth = 64

// quote returns s Go-quoted (newlines and control bytes escaped), cut to
// its first maxQuoted bytes, with its length, when longer: untrusted text
// can then go into an error message or a log line without forging lines
// or growing it without bound.
func quote(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	n := maxQuoted
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strconv.Quote(s[:n]) + "... (" + strconv.Itoa(len(s)) + " bytes)"
}

// quoteList quotes the first max items with quote, comma-separated, and
// says how many more there are.
func quoteList(items []string, max int) string {
	var b strings.Builder
	for i, it := range items {
		if i == max {
			b.WriteString(" and " + strconv.Itoa(len(items)-max) + " more")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quote(it))
	}
	return b.String()
}

// textProblem says what makes s unstorable as text, or returns "".
func textProblem(s string) string {
	switch {
	case strings.IndexByte(s, 0) >= 0:
		return "holds a NUL byte"
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	}
	return ""
}

// valueProblem says what keeps v, a Context or EventData.Extra value,
// from being stored: unstorable text in a string or a map key, a number
// JSON cannot write (NaN, infinities), a value encoding/json cannot
// encode, or nesting deeper than maxValueDepth. where is the path below
// v of the offending part ("" for v itself); both are "" when v is fine.
// Nothing is allocated unless there is a problem.
func valueProblem(v any, depth int) (where, problem string) {
	if depth > maxValueDepth {
		return "", "nests deeper than " + strconv.Itoa(maxValueDepth) + " levels"
	}
	switch x := v.(type) {
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return "", ""
	case string:
		return "", textProblem(x)
	case float64:
		return "", floatProblem(x)
	case float32:
		return "", floatProblem(float64(x))
	case json.Number:
		if _, err := json.Marshal(x); err != nil {
			return "", "is not a JSON number"
		}
		return "", ""
	case map[string]any:
		for k, e := range x {
			if p := textProblem(k); p != "" {
				return "", "has a key " + quote(k) + " that " + p
			}
			if w, p := valueProblem(e, depth+1); p != "" {
				return below(depth, "["+quote(k)+"]", w), p
			}
		}
		return "", ""
	case []any:
		for i, e := range x {
			if w, p := valueProblem(e, depth+1); p != "" {
				return below(depth, "["+strconv.Itoa(i)+"]", w), p
			}
		}
		return "", ""
	case map[string]string:
		for k, e := range x {
			if p := textProblem(k); p != "" {
				return "", "has a key " + quote(k) + " that " + p
			}
			if p := textProblem(e); p != "" {
				return "[" + quote(k) + "]", p
			}
		}
		return "", ""
	case []string:
		for i, e := range x {
			if p := textProblem(e); p != "" {
				return "[" + strconv.Itoa(i) + "]", p
			}
		}
		return "", ""
	}
	// Other types (structs, typed maps and slices) are checked the way
	// stores see them: as encoding/json writes them, which turns invalid
	// UTF-8 into U+FFFD but keeps NUL bytes (as \u0000).
	b, err := json.Marshal(v)
	switch {
	case err != nil:
		return "", "cannot be encoded as JSON"
	case bytes.Contains(b, []byte(`\u0000`)):
		return "", "holds a NUL byte"
	}
	return "", ""
}

// maxPathDepth bounds how many levels of a value's path a message names.
const maxPathDepth = 8

// below prepends the path segment of a level at depth to the path w found
// under it, naming at most maxPathDepth levels.
func below(depth int, seg, w string) string {
	switch {
	case depth > maxPathDepth:
		return ""
	case depth == maxPathDepth && w != "":
		return seg + "..."
	}
	return seg + w
}

func floatProblem(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return "is not a finite number"
	}
	return ""
}

// escapedNUL returns the offset of the first \u0000 escape in the JSON
// document raw, or -1. A backslash preceded by an odd number of
// backslashes is itself escaped, so `\\u0000` is text, not a NUL.
func escapedNUL(raw []byte) int {
	for from := 0; ; {
		k := bytes.Index(raw[from:], []byte(`\u0000`))
		if k < 0 {
			return -1
		}
		i := from + k
		backslashes := 0
		for p := i - 1; p >= 0 && raw[p] == '\\'; p-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return i
		}
		from = i + 1
	}
}
