package shipevents

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/shipevents/shipevents/internal/jsondecode"
)

// Errors returned by [Normalize]; test with [errors.Is].
var (
	// ErrUnknownFormat: the format name is not supported, or "" was given
	// and the payload's shape matches no format.
	ErrUnknownFormat = errors.New("shipevents: unknown format")
	// ErrInvalidPayload: the payload is not valid input for its format.
	// The error is a *PayloadError saying what was wrong and where.
	ErrInvalidPayload = errors.New("shipevents: invalid payload")
	// ErrPayloadTooLarge: the payload exceeds the size limit, or its
	// arrays would decode into more than 16 bytes of records per input
	// byte (also matches ErrInvalidPayload).
	ErrPayloadTooLarge = errors.New("payload exceeds the size limit")
	// ErrPayloadTooDeep: the payload nests deeper than the depth limit
	// (also matches ErrInvalidPayload).
	ErrPayloadTooDeep = errors.New("payload nests deeper than the depth limit")
)

// PayloadError describes an invalid payload. It matches
// [ErrInvalidPayload] with errors.Is, and unwraps to the cause (a syntax
// error, a *json.UnmarshalTypeError, [ErrPayloadTooLarge], ...).
type PayloadError struct {
	Format string // the format being parsed ("" while detecting)
	Path   string // where in the document, dotted with [i] indexes; may be empty
	Offset int64  // byte offset of the problem, or -1 if unknown
	Err    error
}

// Error implements error.
func (e *PayloadError) Error() string {
	var b strings.Builder
	b.WriteString("shipevents: invalid ")
	if e.Format != "" {
		b.WriteString(e.Format)
		b.WriteByte(' ')
	}
	b.WriteString("payload")
	if e.Path != "" {
		b.WriteString(" at ")
		b.WriteString(e.Path)
	}
	if e.Offset >= 0 {
		b.WriteString(" (byte ")
		b.WriteString(strconv.FormatInt(e.Offset, 10))
		b.WriteByte(')')
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *PayloadError) Unwrap() error { return e.Err }

// Is reports whether target is ErrInvalidPayload.
func (e *PayloadError) Is(target error) bool { return target == ErrInvalidPayload }

// wrap turns decoding errors into PayloadErrors.
func (b *batch) wrap(err error) error {
	var pe *PayloadError
	if errors.As(err, &pe) {
		if pe.Format == "" {
			pe.Format = b.format
		}
		return pe
	}
	out := &PayloadError{Format: b.format, Path: b.path(), Offset: -1, Err: err}
	var se *json.SyntaxError
	var jse *jsondecode.SyntaxError
	var te *json.UnmarshalTypeError
	limit, limitOffset, isLimit := limitCause(err)
	switch {
	case errors.As(err, &jse):
		out.Offset = jse.Offset
	case isLimit:
		out.Err, out.Offset = limit, limitOffset
	case errors.As(err, &se):
		out.Offset = se.Offset
	case errors.As(err, &te):
		out.Offset = te.Offset
		if te.Field != "" {
			out.Path = te.Field
		}
		out.Err = &typeMismatchError{te}
	}
	if errors.Is(err, ErrUnknownFormat) {
		return err
	}
	return out
}

// decodeJSON decodes raw into v with the library's decoder, as
// json.Unmarshal would; a document nesting deeper than encoding/json
// allows is reported as ErrPayloadTooDeep.
func decodeJSON(raw []byte, v any) error {
	err := jsondecode.Decode(raw, v)
	if err == nil { // limitCause allocates
		return nil
	}
	if cause, _, ok := limitCause(err); ok {
		return cause
	}
	return err
}

// limitCause maps the decoder's report of a document beyond its limits to
// ErrPayloadTooDeep or ErrPayloadTooLarge, worded as the precheck words
// them, and the offset; ok is false when err is no such report.
func limitCause(err error) (cause error, offset int64, ok bool) {
	var de *jsondecode.DepthError
	var be *jsondecode.SliceBudgetError
	switch {
	case errors.As(err, &de):
		return tooDeep(de.Max), de.Offset, true
	case errors.As(err, &be):
		return fmt.Errorf("%w: %v", ErrPayloadTooLarge, be), be.Offset, true
	}
	return nil, 0, false
}

// tooDeep is the cause of a payload nesting deeper than limit.
func tooDeep(limit int) error { return fmt.Errorf("%w: deeper than %d", ErrPayloadTooDeep, limit) }

// typeMismatchError words a *json.UnmarshalTypeError for people sending
// payloads, who know JSON types rather than the parser's Go types.
type typeMismatchError struct{ err *json.UnmarshalTypeError }

func (e *typeMismatchError) Error() string {
	want := "a different type"
	t := e.err.Type
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		want = "a string"
	case reflect.Bool:
		want = "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want = "an integer"
	case reflect.Float32, reflect.Float64:
		want = "a number"
	case reflect.Slice, reflect.Array:
		want = "an array"
	case reflect.Struct, reflect.Map:
		want = "an object"
	}
	return "got a JSON " + e.err.Value + ", want " + want
}

func (e *typeMismatchError) Unwrap() error { return e.err }
