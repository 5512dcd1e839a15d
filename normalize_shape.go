package shipevents

import "bytes"

// Some formats share their top-level keys (DHL's Unified API and the MyDHL
// API both answer {"shipments":[...]}) and differ only in the keys of the
// array's elements. firstElementHas looks that one level deeper for
// detection.

// firstElementHas reports whether raw is a JSON object whose member
// arrayKey is an array starting with an object that has one of keys. Keys
// compare case-insensitively, as the decoder matches field names. The scan
// stops at the end of that first element; malformed input gives false and
// is left for the parser to report.
func firstElementHas(raw []byte, arrayKey string, keys ...string) bool {
	depth := 0
	keyDepth := 1      // the depth whose object keys are read: 1, then 3 in the element
	expectKey := false // the next string at keyDepth is a key
	atArray := false   // the last key at depth 1 was arrayKey
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch c {
		case '"':
			end := stringEnd(raw, i+1)
			if end < 0 {
				return false
			}
			if expectKey && depth == keyDepth {
				expectKey = false
				k := raw[i+1 : end]
				if keyDepth == 1 {
					atArray = bytes.EqualFold(k, []byte(arrayKey))
				} else {
					for _, want := range keys {
						if bytes.EqualFold(k, []byte(want)) {
							return true
						}
					}
				}
			}
			i = end
		case '{', '[':
			depth++
			switch {
			case depth == 1:
				if c != '{' {
					return false
				}
				expectKey = true
			case depth == 2 && c == '[' && atArray && keyDepth == 1:
				// The target array: its first value must be an object.
				j := i + 1
				for j < len(raw) && (raw[j] == ' ' || raw[j] == '\t' || raw[j] == '\n' || raw[j] == '\r') {
					j++
				}
				if j == len(raw) || raw[j] != '{' {
					return false
				}
				i, depth, keyDepth, expectKey = j, 3, 3, true
			}
		case '}', ']':
			depth--
			if keyDepth == 3 && depth < 3 {
				return false // the first element ended without the key
			}
		case ',':
			if depth == keyDepth {
				expectKey = true
			}
		}
	}
	return false
}
