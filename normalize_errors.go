package shipevents

import (
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
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
	var jse *jsonSyntaxError
	var le *limitError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &jse):
		out.Offset = jse.Offset
	case errors.As(err, &le):
		out.Offset = le.Offset
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
