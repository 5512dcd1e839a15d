// Package jsondecode decodes JSON into plain Go structs the way
// encoding/json does, in one pass.
//
// The format parsers decode into structs of strings, bools, numbers,
// pointers, slices and json.RawMessage. encoding/json spends most of its
// time in a byte-at-a-time state machine that it runs twice (once to
// validate, once to decode), so for those types a single-pass decoder
// does the same work in about a third of the time.
//
// Decode gives exactly the result json.Unmarshal gives for such types: the
// same values on success (including its corner cases: case-insensitive key
// matching, duplicate keys merging into what was decoded before, null
// leaving strings alone and clearing pointers and slices), and an error
// whenever json.Unmarshal returns one. Agreement tests check that, here on
// a probe of every kind and in the library on every type it decodes.
// Types outside that set (maps, interfaces, custom unmarshalers, ...) are
// passed to json.Unmarshal.
//
// Errors are a *SyntaxError for malformed JSON, a *json.UnmarshalTypeError
// (as encoding/json reports them, Field naming the path) for a value of the
// wrong type, and a *DepthError or *SliceBudgetError for a document beyond
// its Limits.
package jsondecode

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// SyntaxError reports malformed JSON at a byte offset.
type SyntaxError struct {
	msg    string
	Offset int64
}

func (e *SyntaxError) Error() string { return e.msg }

// DepthError reports a document nesting deeper than Limits.MaxDepth (or
// MaxNesting) at a byte offset.
type DepthError struct {
	Max    int
	Offset int64
}

func (e *DepthError) Error() string { return "deeper than " + strconv.Itoa(e.Max) }

// SliceBudgetError reports a document whose arrays would take more than
// Limits.MaxSliceBytes, at the byte offset of the array that went over.
type SliceBudgetError struct {
	Offset int64
}

func (e *SliceBudgetError) Error() string { return "its arrays hold too many elements" }

// MaxNesting bounds recursion when no lower limit is asked for; it is
// the limit encoding/json applies.
const MaxNesting = 10000

// Limits bound what a document may cost beyond its own size. Zero fields
// mean encoding/json's behaviour.
type Limits struct {
	// MaxDepth bounds the nesting of objects and arrays, counting the top
	// level as 1; 0 means MaxNesting.
	MaxDepth int
	// MaxSliceBytes bounds the memory allocated for slices (each array
	// allocated counts its capacity times its element size): a megabyte
	// of "{}," decodes into a third of a million structs of a few hundred
	// bytes each. 0 means no bound.
	MaxSliceBytes int
}

// Decode decodes raw into v, which must be a non-nil pointer, as
// json.Unmarshal would.
func Decode(raw []byte, v any) error {
	return DecodeLimited(raw, v, Limits{})
}

// DecodeLimited is Decode within lim.
func DecodeLimited(raw []byte, v any, lim Limits) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return json.Unmarshal(raw, v) // reports the InvalidUnmarshalError
	}
	p := planFor(rv.Type().Elem())
	if p == nil {
		return json.Unmarshal(raw, v)
	}
	d := decoder{data: raw, maxDepth: MaxNesting, sliceBudget: lim.MaxSliceBytes, limitSlices: lim.MaxSliceBytes > 0}
	if lim.MaxDepth > 0 {
		d.maxDepth = min(lim.MaxDepth, MaxNesting)
	}
	d.skipSpace()
	if err := d.value(p, rv.Elem()); err != nil {
		if te, ok := err.(*json.UnmarshalTypeError); ok && te.Field != "" {
			te.Struct = rv.Type().Elem().Name()
		}
		return err
	}
	d.skipSpace()
	if d.pos < len(d.data) {
		return d.syntaxErr("after top-level value")
	}
	return nil
}

// Members calls fn with each member of the JSON object raw, in order: the
// key unquoted (a view of raw when it has no escapes, valid only during
// the call) and the value as raw JSON. When raw holds another value than
// an object (null), fn is not called. raw should have been decoded once
// already: Members validates only what it steps over.
func Members(raw []byte, fn func(key, value []byte) error) error {
	d := decoder{data: raw, maxDepth: MaxNesting}
	d.skipSpace()
	if d.pos >= len(raw) || raw[d.pos] != '{' {
		return nil
	}
	done, err := d.open('}')
	for !done && err == nil {
		var key []byte
		if key, err = d.key(); err != nil {
			return err
		}
		start := d.pos
		if err = d.skipValue(); err != nil {
			return err
		}
		if err = fn(key, raw[start:d.pos]); err != nil {
			return err
		}
		done, err = d.next('}')
	}
	return err
}

// LimitsApply reports whether Decode decodes every part of a value of type
// t itself, so that Limits bound all of it: false when any part is handed
// to encoding/json (maps, interfaces, custom unmarshalers, ...).
func LimitsApply(t reflect.Type) bool {
	p := planFor(t)
	return p != nil && !p.usesStdlib()
}

type planKind uint8

const (
	planString planKind = iota
	planBool
	planInt
	planUint
	planFloat
	planStruct
	planPointer
	planSlice
	planRawMessage
	// planStdlib hands the value's bytes to json.Unmarshal: types with
	// their own UnmarshalJSON or UnmarshalText, maps, interfaces, arrays,
	// byte slices, json.Number. encoding/json decodes a value alone
	// exactly as it decodes it in place, so the result is the same.
	planStdlib
	// planUnmarshaler calls the type's own UnmarshalJSON with the value's
	// bytes, as encoding/json does (without its second validation pass).
	planUnmarshaler
)

// decodePlan says how to decode into one Go type.
type decodePlan struct {
	kind planKind
	typ  reflect.Type
	elem *decodePlan // pointer and slice element
	// Struct fields by exact JSON name, and by folded name for the
	// case-insensitive match encoding/json falls back to.
	exact  map[string]*planField
	folded map[string]*planField
}

type planField struct {
	name  string
	index []int // through embedded structs
	plan  *decodePlan
}

var (
	planCache          sync.Map // reflect.Type -> *decodePlan, or noPlan
	noPlan             = &decodePlan{}
	rawMessageType     = reflect.TypeFor[json.RawMessage]()
	jsonUnmarshalerTyp = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerTyp = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// planFor returns the plan for t, or nil when Decode leaves the whole
// of t to encoding/json (types it cannot decode at all).
func planFor(t reflect.Type) *decodePlan {
	if p, ok := planCache.Load(t); ok {
		if p == noPlan {
			return nil
		}
		return p.(*decodePlan)
	}
	p := buildPlan(t, map[reflect.Type]*decodePlan{})
	if p == nil {
		planCache.Store(t, noPlan)
		return nil
	}
	planCache.Store(t, p)
	return p
}

// buildPlan builds t's plan; building maps the types in progress, so
// recursive types end up with cyclic plans instead of endless recursion.
func buildPlan(t reflect.Type, building map[reflect.Type]*decodePlan) *decodePlan {
	if p, ok := building[t]; ok {
		return p
	}
	if t == rawMessageType {
		return &decodePlan{kind: planRawMessage, typ: t}
	}
	stdlib := &decodePlan{kind: planStdlib, typ: t}
	if t.Kind() != reflect.Pointer && t.Kind() != reflect.Interface && reflect.PointerTo(t).Implements(jsonUnmarshalerTyp) {
		return &decodePlan{kind: planUnmarshaler, typ: t}
	}
	if reflect.PointerTo(t).Implements(jsonUnmarshalerTyp) || reflect.PointerTo(t).Implements(textUnmarshalerTyp) {
		return stdlib
	}
	p := &decodePlan{typ: t}
	building[t] = p
	switch t.Kind() {
	case reflect.String:
		if t == reflect.TypeFor[json.Number]() {
			return stdlib
		}
		p.kind = planString
	case reflect.Bool:
		p.kind = planBool
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		p.kind = planInt
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		p.kind = planUint
	case reflect.Float32, reflect.Float64:
		p.kind = planFloat
	case reflect.Pointer:
		p.kind = planPointer
		if p.elem = buildPlan(t.Elem(), building); p.elem == nil {
			return nil
		}
	case reflect.Slice:
		if t.Elem().Kind() == reflect.Uint8 {
			return stdlib // base64 strings
		}
		p.kind = planSlice
		if p.elem = buildPlan(t.Elem(), building); p.elem == nil {
			return nil
		}
	case reflect.Struct:
		p.kind = planStruct
		fields, ok := structFields(t, building)
		if !ok {
			*p = *stdlib // p may already be referenced by a recursive field
			return p
		}
		p.exact = make(map[string]*planField, len(fields))
		p.folded = make(map[string]*planField, len(fields))
		for i := range fields {
			f := &fields[i]
			p.exact[f.name] = f
			k := string(foldJSONName(nil, []byte(f.name)))
			if _, dup := p.folded[k]; !dup {
				p.folded[k] = f // the first field in index order wins
			}
		}
	case reflect.Map, reflect.Interface, reflect.Array:
		return stdlib
	default:
		return nil // channels, functions: json.Unmarshal reports them
	}
	return p
}

// usesStdlib reports whether any part of p hands values to encoding/json,
// where the decoder's limits do not apply.
func (p *decodePlan) usesStdlib() bool {
	seen := map[*decodePlan]bool{}
	var walk func(p *decodePlan) bool
	walk = func(p *decodePlan) bool {
		if p == nil || seen[p] {
			return false
		}
		seen[p] = true
		if p.kind == planStdlib || p.kind == planUnmarshaler {
			return true
		}
		if walk(p.elem) {
			return true
		}
		for _, f := range p.exact {
			if walk(f.plan) {
				return true
			}
		}
		return false
	}
	return walk(p)
}

// structFields lists the JSON fields of struct type t: exported fields by
// their tag name or Go name, and the fields of embedded structs promoted.
// ok is false for what the plan leaves to encoding/json: embedded
// pointers, ",string" options, invalid tag names and name conflicts
// (which encoding/json settles by depth and tagging).
func structFields(t reflect.Type, building map[reflect.Type]*decodePlan) (fields []planField, ok bool) {
	var walk func(t reflect.Type, index []int) bool
	walk = func(t reflect.Type, index []int) bool {
		for i := range t.NumField() {
			sf := t.Field(i)
			tag := sf.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			if sf.Anonymous {
				ft := sf.Type
				if ft.Kind() == reflect.Pointer {
					return false
				}
				if name == "" && ft.Kind() == reflect.Struct {
					if !walk(ft, append(index[:len(index):len(index)], i)) {
						return false
					}
					continue
				}
				if !sf.IsExported() {
					if name != "" {
						return false // encoding/json's handling of this is its own
					}
					continue
				}
			} else if !sf.IsExported() {
				continue
			}
			for _, o := range strings.Split(opts, ",") {
				if o == "string" {
					return false
				}
			}
			if name == "" {
				name = sf.Name
			} else if !validTagName(name) {
				return false
			}
			fp := buildPlan(sf.Type, building)
			if fp == nil {
				return false
			}
			fields = append(fields, planField{name: name, index: append(index[:len(index):len(index)], i), plan: fp})
		}
		return true
	}
	if !walk(t, nil) {
		return nil, false
	}
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		if seen[f.name] {
			return nil, false
		}
		seen[f.name] = true
	}
	// encoding/json orders fields by index sequence; the folded-name map
	// keeps the first, so keep that order.
	sortFieldsByIndex(fields)
	return fields, true
}

func sortFieldsByIndex(fields []planField) {
	less := func(a, b []int) bool {
		for k := 0; k < len(a) && k < len(b); k++ {
			if a[k] != b[k] {
				return a[k] < b[k]
			}
		}
		return len(a) < len(b)
	}
	for i := 1; i < len(fields); i++ {
		for j := i; j > 0 && less(fields[j].index, fields[j-1].index); j-- {
			fields[j], fields[j-1] = fields[j-1], fields[j]
		}
	}
}

// validTagName reports whether encoding/json accepts name as a tag name
// (otherwise it falls back to the Go field name).
func validTagName(name string) bool {
	for _, c := range name {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return name != ""
}

// foldJSONName appends the case-folded form of name: two names fold alike
// exactly when encoding/json treats them as the same key.
func foldJSONName(dst, name []byte) []byte {
	for i := 0; i < len(name); {
		c := name[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' {
				c -= 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, n := utf8.DecodeRune(name[i:])
		// The smallest rune of r's fold orbit stands for all of them.
		for {
			next := unicode.SimpleFold(r)
			if next <= r {
				r = next
				break
			}
			r = next
		}
		dst = utf8.AppendRune(dst, r)
		i += n
	}
	return dst
}

// decoder reads one JSON document, validating as it goes.
type decoder struct {
	data     []byte
	pos      int
	depth    int
	maxDepth int
	// sliceBudget is how many bytes of slice arrays may still be
	// allocated, when limitSlices is set.
	sliceBudget int
	limitSlices bool
}

func (d *decoder) syntaxErr(context string) error {
	if d.pos >= len(d.data) {
		return &SyntaxError{msg: "unexpected end of JSON input", Offset: int64(len(d.data))}
	}
	return &SyntaxError{msg: fmt.Sprintf("invalid character %s %s", quoteJSONChar(d.data[d.pos]), context), Offset: int64(d.pos + 1)}
}

func quoteJSONChar(c byte) string {
	switch {
	case c == '\'':
		return `'\''`
	case c == '"':
		return `'"'`
	case c < 0x20 || c >= 0x7f:
		return strconv.Quote(string(rune(c)))
	}
	return "'" + string(c) + "'"
}

// inField prefixes the path of a type error with the field or index the
// failing value sits in: errors read "trackingEvents[2].eventCode".
func inField(err error, name string) error {
	te, ok := err.(*json.UnmarshalTypeError)
	if !ok {
		return err
	}
	switch {
	case te.Field == "":
		te.Field = name
	case te.Field[0] == '[':
		te.Field = name + te.Field
	default:
		te.Field = name + "." + te.Field
	}
	return err
}

func (d *decoder) typeErr(what string, t reflect.Type, start int) error {
	return &json.UnmarshalTypeError{Value: what, Type: t, Offset: int64(start)}
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// value decodes the value at d.pos (after white space) into v.
func (d *decoder) value(p *decodePlan, v reflect.Value) error {
	if d.pos >= len(d.data) {
		return d.syntaxErr("")
	}
	c := d.data[d.pos]
	switch p.kind {
	case planRawMessage:
		start := d.pos
		if err := d.skipValue(); err != nil {
			return err
		}
		v.SetBytes(append(v.Bytes()[:0], d.data[start:d.pos]...))
		return nil
	case planStdlib:
		start := d.pos
		if err := d.skipValue(); err != nil {
			return err
		}
		return json.Unmarshal(d.data[start:d.pos], v.Addr().Interface())
	case planUnmarshaler:
		start := d.pos
		if err := d.skipValue(); err != nil {
			return err
		}
		return v.Addr().Interface().(json.Unmarshaler).UnmarshalJSON(d.data[start:d.pos])
	}
	if p.kind == planPointer {
		if c == 'n' {
			if err := d.literal("null"); err != nil {
				return err
			}
			v.SetZero()
			return nil
		}
		if v.IsNil() {
			v.Set(reflect.New(p.typ.Elem()))
		}
		return d.value(p.elem, v.Elem())
	}
	switch c {
	case '{':
		if p.kind != planStruct {
			return d.mismatch("object", p, v)
		}
		return d.object(p, v)
	case '[':
		if p.kind != planSlice {
			return d.mismatch("array", p, v)
		}
		return d.array(p, v)
	case '"':
		if p.kind != planString {
			if err := d.skipString(); err != nil {
				return err
			}
			return d.typeErr("string", p.typ, d.pos)
		}
		s, err := d.readString()
		if err != nil {
			return err
		}
		v.SetString(s)
		return nil
	case 't', 'f':
		lit := "true"
		if c == 'f' {
			lit = "false"
		}
		if err := d.literal(lit); err != nil {
			return err
		}
		if p.kind != planBool {
			return d.typeErr("bool", p.typ, d.pos)
		}
		v.SetBool(c == 't')
		return nil
	case 'n':
		if err := d.literal("null"); err != nil {
			return err
		}
		if p.kind == planSlice {
			v.SetZero()
		}
		return nil
	}
	if c == '-' || (c >= '0' && c <= '9') {
		start := d.pos
		if err := d.skipNumber(); err != nil {
			return err
		}
		return d.storeNumber(p, v, d.data[start:d.pos])
	}
	return d.syntaxErr("looking for beginning of value")
}

// mismatch skips a value that does not fit the target and reports it.
func (d *decoder) mismatch(what string, p *decodePlan, v reflect.Value) error {
	if err := d.skipValue(); err != nil {
		return err
	}
	return d.typeErr(what, p.typ, d.pos)
}

func (d *decoder) storeNumber(p *decodePlan, v reflect.Value, item []byte) error {
	switch p.kind {
	case planInt:
		n, err := strconv.ParseInt(string(item), 10, 64)
		if err != nil || v.OverflowInt(n) {
			return d.typeErr("number "+string(item), p.typ, d.pos)
		}
		v.SetInt(n)
	case planUint:
		n, err := strconv.ParseUint(string(item), 10, 64)
		if err != nil || v.OverflowUint(n) {
			return d.typeErr("number "+string(item), p.typ, d.pos)
		}
		v.SetUint(n)
	case planFloat:
		n, err := strconv.ParseFloat(string(item), p.typ.Bits())
		if err != nil || v.OverflowFloat(n) {
			return d.typeErr("number "+string(item), p.typ, d.pos)
		}
		v.SetFloat(n)
	default:
		return d.typeErr("number", p.typ, d.pos)
	}
	return nil
}

func (d *decoder) enter() error {
	d.depth++
	if d.depth > d.maxDepth {
		return &DepthError{Max: d.maxDepth, Offset: int64(d.pos)}
	}
	return nil
}

// object decodes an object into struct v; d.pos is at '{'.
func (d *decoder) object(p *decodePlan, v reflect.Value) error {
	done, err := d.open('}')
	var foldBuf [64]byte
	for !done && err == nil {
		var key []byte
		if key, err = d.key(); err != nil {
			return err
		}
		f := p.exact[string(key)]
		if f == nil {
			f = p.folded[string(foldJSONName(foldBuf[:0], key))]
		}
		if f == nil {
			err = d.skipValue()
		} else {
			fv := v.Field(f.index[0])
			for _, i := range f.index[1:] {
				fv = fv.Field(i)
			}
			if err = d.value(f.plan, fv); err != nil {
				return inField(err, f.name)
			}
		}
		if err == nil {
			done, err = d.next('}')
		}
	}
	return err
}

// array decodes an array into slice v; d.pos is at '['. Like
// encoding/json it decodes into the elements already there and truncates
// what is left over.
func (d *decoder) array(p *decodePlan, v reflect.Value) error {
	done, err := d.open(']')
	i := 0
	for !done && err == nil {
		if i >= v.Cap() {
			if err := d.grow(v, i); err != nil {
				return err
			}
		}
		if i >= v.Len() {
			v.SetLen(i + 1)
		}
		if err = d.value(p.elem, v.Index(i)); err != nil {
			return inField(err, "["+strconv.Itoa(i)+"]")
		}
		i++
		done, err = d.next(']')
	}
	if err != nil {
		return err
	}
	if i < v.Len() {
		v.SetLen(i)
	}
	if i == 0 {
		v.Set(reflect.MakeSlice(p.typ, 0, 0))
	}
	return nil
}

// grow makes room in slice v, full at element i, charging the array it
// allocates to the slice budget, and refusing before allocating one the
// budget cannot pay for. Capacity doubles, starting at 4, so the arrays
// allocated for a slice add up to at most about twice the last.
func (d *decoder) grow(v reflect.Value, i int) error {
	n := max(4-i, v.Cap())
	size := int(v.Type().Elem().Size())
	if d.limitSlices && (v.Cap()+n)*size > d.sliceBudget {
		return &SliceBudgetError{Offset: int64(d.pos)}
	}
	v.Grow(n)
	d.sliceBudget -= v.Cap() * size
	return nil
}

// open consumes the '{' or '[' at d.pos; done reports an empty container,
// whose closer is consumed too.
func (d *decoder) open(closer byte) (done bool, err error) {
	if err := d.enter(); err != nil {
		return false, err
	}
	d.pos++
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == closer {
		d.pos++
		d.depth--
		return true, nil
	}
	return false, nil
}

// next consumes what follows a member or element: a comma, or the closer
// (done).
func (d *decoder) next(closer byte) (done bool, err error) {
	d.skipSpace()
	if d.pos >= len(d.data) {
		return false, d.syntaxErr("")
	}
	switch d.data[d.pos] {
	case ',':
		d.pos++
		d.skipSpace()
		return false, nil
	case closer:
		d.pos++
		d.depth--
		return true, nil
	}
	if closer == '}' {
		return false, d.syntaxErr("after object key:value pair")
	}
	return false, d.syntaxErr("after array element")
}

// key reads an object key and its colon, leaving d.pos at the value. The
// key is a view of the input when it has no escapes, so that looking it
// up costs no allocation.
func (d *decoder) key() ([]byte, error) {
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return nil, d.syntaxErr("looking for beginning of object key string")
	}
	raw, plain, err := d.scanString()
	if err != nil {
		return nil, err
	}
	if !plain {
		raw = unquoteJSON(raw)
	}
	d.skipSpace()
	if d.pos >= len(d.data) || d.data[d.pos] != ':' {
		return nil, d.syntaxErr("after object key")
	}
	d.pos++
	d.skipSpace()
	return raw, nil
}

// literal consumes lit (true, false or null) at d.pos.
func (d *decoder) literal(lit string) error {
	for i := 0; i < len(lit); i++ {
		if d.pos >= len(d.data) || d.data[d.pos] != lit[i] {
			return d.syntaxErr("in literal " + lit + " (expecting '" + lit[i:i+1] + "')")
		}
		d.pos++
	}
	return nil
}

// skipValue validates and steps over the value at d.pos.
func (d *decoder) skipValue() error {
	if d.pos >= len(d.data) {
		return d.syntaxErr("")
	}
	switch c := d.data[d.pos]; c {
	case '{':
		done, err := d.open('}')
		for !done && err == nil {
			if _, err = d.key(); err == nil {
				if err = d.skipValue(); err == nil {
					done, err = d.next('}')
				}
			}
		}
		return err
	case '[':
		done, err := d.open(']')
		for !done && err == nil {
			if err = d.skipValue(); err == nil {
				done, err = d.next(']')
			}
		}
		return err
	case '"':
		return d.skipString()
	case 't':
		return d.literal("true")
	case 'f':
		return d.literal("false")
	case 'n':
		return d.literal("null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			return d.skipNumber()
		}
		return d.syntaxErr("looking for beginning of value")
	}
}

// skipNumber steps over a number, enforcing the JSON grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *decoder) skipNumber() error {
	data := d.data
	if data[d.pos] == '-' {
		d.pos++
		if d.pos >= len(data) {
			return d.syntaxErr("")
		}
		if c := data[d.pos]; c < '0' || c > '9' {
			return d.syntaxErr("in numeric literal")
		}
	}
	if data[d.pos] == '0' {
		d.pos++
	} else {
		for d.pos < len(data) && data[d.pos] >= '0' && data[d.pos] <= '9' {
			d.pos++
		}
	}
	if d.pos < len(data) && data[d.pos] == '.' {
		d.pos++
		if d.pos >= len(data) {
			return d.syntaxErr("")
		}
		if c := data[d.pos]; c < '0' || c > '9' {
			return d.syntaxErr("after decimal point in numeric literal")
		}
		for d.pos < len(data) && data[d.pos] >= '0' && data[d.pos] <= '9' {
			d.pos++
		}
	}
	if d.pos < len(data) && (data[d.pos] == 'e' || data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(data) && (data[d.pos] == '+' || data[d.pos] == '-') {
			d.pos++
		}
		if d.pos >= len(data) {
			return d.syntaxErr("")
		}
		if c := data[d.pos]; c < '0' || c > '9' {
			return d.syntaxErr("in exponent of numeric literal")
		}
		for d.pos < len(data) && data[d.pos] >= '0' && data[d.pos] <= '9' {
			d.pos++
		}
	}
	return nil
}

// scanString validates the string starting at d.pos (its opening quote)
// and moves past it. It returns the raw contents between the quotes and
// whether they need unquoting (escapes or invalid UTF-8).
func (d *decoder) scanString() (raw []byte, plain bool, err error) {
	data := d.data
	start := d.pos + 1
	i := start
	plain = true
	high := false
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			raw = data[start:i]
			d.pos = i + 1
			if high && plain && !utf8.Valid(raw) {
				plain = false
			}
			return raw, plain, nil
		case c == '\\':
			plain = false
			i++
			if i >= len(data) {
				d.pos = i
				return nil, false, d.syntaxErr("")
			}
			switch data[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i++
			case 'u':
				i++
				for k := 0; k < 4; k++ {
					if i >= len(data) {
						d.pos = i
						return nil, false, d.syntaxErr("")
					}
					if !isHex(data[i]) {
						d.pos = i
						return nil, false, d.syntaxErr("in \\u hexadecimal character escape")
					}
					i++
				}
			default:
				d.pos = i
				return nil, false, d.syntaxErr("in string escape code")
			}
		case c < 0x20:
			d.pos = i
			return nil, false, d.syntaxErr("in string literal")
		default:
			if c >= utf8.RuneSelf {
				high = true
			}
			i++
		}
	}
	d.pos = i
	return nil, false, d.syntaxErr("")
}

func isHex(c byte) bool {
	return ('0' <= c && c <= '9') || ('a' <= c && c <= 'f') || ('A' <= c && c <= 'F')
}

func (d *decoder) skipString() error {
	_, _, err := d.scanString()
	return err
}

// readString returns the string at d.pos, unquoted.
func (d *decoder) readString() (string, error) {
	raw, plain, err := d.scanString()
	if err != nil {
		return "", err
	}
	if plain {
		return string(raw), nil
	}
	return string(unquoteJSON(raw)), nil
}

// unquoteJSON decodes the escapes of valid string contents, replacing
// invalid UTF-8 and unpaired surrogates with U+FFFD as encoding/json does.
func unquoteJSON(s []byte) []byte {
	out := make([]byte, 0, len(s))
	for r := 0; r < len(s); {
		c := s[r]
		if c != '\\' {
			if c < utf8.RuneSelf {
				out = append(out, c)
				r++
				continue
			}
			ru, size := utf8.DecodeRune(s[r:])
			out = utf8.AppendRune(out, ru)
			r += size
			continue
		}
		r++ // scanString guarantees an escape follows
		switch e := s[r]; e {
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			ru := hex4(s[r+1:])
			r += 5
			if utf16.IsSurrogate(ru) {
				if r+6 <= len(s) && s[r] == '\\' && s[r+1] == 'u' {
					if dec := utf16.DecodeRune(ru, hex4(s[r+2:])); dec != utf8.RuneError {
						out = utf8.AppendRune(out, dec)
						r += 6
						continue
					}
				}
				ru = utf8.RuneError
			}
			out = utf8.AppendRune(out, ru)
			continue
		default: // '"', '\\', '/'
			out = append(out, e)
		}
		r++
	}
	return out
}

// hex4 reads four hex digits (validated by scanString).
func hex4(s []byte) rune {
	var r rune
	for _, c := range s[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}
