package shipevents

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// TestValidateRefusesUnstorableText: a NUL byte or invalid UTF-8 in any
// string a store keeps makes the event invalid (PostgreSQL refuses both in
// text, so such an event would fail every retry of its batch), and the
// error names the field.
func TestValidateRefusesUnstorableText(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	base := shipmentEvent("e1", "1Z999", StatusDelivered, at)
	base.CarrierStatus = &CarrierStatus{Code: "D"}
	base.Data.Location = &Location{City: "Paris"}
	if err := base.Validate(); err != nil {
		t.Fatalf("base event invalid: %v", err)
	}
	for _, bad := range []struct{ kind, text string }{{"NUL", "a\x00b"}, {"invalid UTF-8", "a\xffb"}} {
		tests := []struct {
			field string
			mod   func(e *Event)
		}{
			{"id", func(e *Event) { e.ID = bad.text }},
			{"tenant_id", func(e *Event) { e.TenantID = bad.text }},
			{"carrier", func(e *Event) { e.Carrier = bad.text }},
			{"tracking_number", func(e *Event) { e.TrackingNumber = bad.text }},
			{"correlation_id", func(e *Event) { e.CorrelationID = bad.text }},
			{"transaction_id", func(e *Event) { e.TransactionID = bad.text }},
			{"type", func(e *Event) { e.Type = bad.text }},
			{"carrier_status.code", func(e *Event) { e.CarrierStatus.Code = bad.text }},
			{"carrier_status.description", func(e *Event) { e.CarrierStatus.Description = bad.text }},
			{"event_data.description", func(e *Event) { e.Data.Description = bad.text }},
			{"event_data.location.city", func(e *Event) { e.Data.Location.City = bad.text }},
			{"event_data.signed_by", func(e *Event) { e.Data.SignedBy = bad.text }},
			{"event_data.reason", func(e *Event) { e.Data.Reason = bad.text }},
			{"metadata", func(e *Event) { e.Metadata = map[string]string{"k": bad.text} }},
			{"metadata", func(e *Event) { e.Metadata = map[string]string{bad.text: "v"} }},
			{"event_data", func(e *Event) { e.Data.Extra = map[string]any{"k": bad.text} }},
			{"event_data", func(e *Event) { e.Data.Extra = map[string]any{"k": []any{1.0, map[string]any{bad.text: true}}} }},
			{"context", func(e *Event) { e.Context = map[string]any{"order": map[string]any{"note": bad.text}} }},
			{"context", func(e *Event) { e.Context = map[string]any{"lines": []any{"ok", bad.text}} }},
			{"context", func(e *Event) { e.Context = map[string]any{"tags": []string{bad.text}} }},
		}
		for _, tt := range tests {
			e := base.Clone()
			tt.mod(&e)
			err := e.Validate()
			if !errors.Is(err, ErrInvalidEvent) {
				t.Errorf("%s in %s: Validate = %v, want ErrInvalidEvent", bad.kind, tt.field, err)
				continue
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("%s in %s: %q does not name the field", bad.kind, tt.field, err)
			}
			if strings.ContainsAny(err.Error(), "\x00\xff") {
				t.Errorf("%s in %s: the message copies the bad bytes: %q", bad.kind, tt.field, err)
			}
		}
	}
}

// TestValidateRefusesWhatCannotBeStored: values that JSON cannot encode,
// nesting without end (a map holding itself) and identifiers too long for
// a database index are refused up front rather than failing in the store,
// where a cycle would also overflow the stack of a deep copy.
func TestValidateRefusesWhatCannotBeStored(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	base := shipmentEvent("e1", "1Z999", StatusDelivered, at)
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	tests := map[string]func(e *Event){
		"NaN in event_data":          func(e *Event) { e.Data.Extra = map[string]any{"weight": math.NaN()} },
		"infinity in context":        func(e *Event) { e.Context = map[string]any{"n": []any{math.Inf(1)}} },
		"a channel in context":       func(e *Event) { e.Context = map[string]any{"c": make(chan int)} },
		"a cycle in context":         func(e *Event) { e.Context = cyclic },
		"an id too long":             func(e *Event) { e.ID = strings.Repeat("x", MaxIdentifierBytes+1) },
		"a tracking number too long": func(e *Event) { e.TrackingNumber = strings.Repeat("9", MaxIdentifierBytes+1) },
	}
	for name, mod := range tests {
		e := base.Clone()
		mod(&e)
		if err := e.Validate(); !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("%s: Validate = %v, want ErrInvalidEvent", name, err)
		} else if len(err.Error()) > 400 {
			t.Errorf("%s: message of %d bytes", name, len(err.Error()))
		}
	}
	ok := base.Clone()
	ok.Context = map[string]any{"n": 1, "f": 2.5, "s": "x", "b": true, "nil": nil, "list": []any{"a", 1.0}, "m": map[string]string{"k": "v"},
		"struct": struct{ A string }{"a"}}
	ok.Data.Extra = map[string]any{"count": int64(3)}
	if err := ok.Validate(); err != nil {
		t.Errorf("JSON-encodable context refused: %v", err)
	}
}

// TestValidateMessagesQuoteHostileText: ids and values in Validate's
// messages are quoted and bounded, so an event cannot forge log lines or
// flood them.
func TestValidateMessagesQuoteHostileText(t *testing.T) {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	e := shipmentEvent("id\nlevel=ERROR msg=forged", "1Z", StatusDelivered, at)
	e.Source = strings.Repeat("s", 100_000)
	err := e.Validate()
	if !errors.Is(err, ErrInvalidEvent) {
		t.Fatalf("Validate = %v", err)
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") {
		t.Errorf("message holds a raw newline: %q", msg)
	}
	if len(msg) > 400 {
		t.Errorf("message of %d bytes", len(msg))
	}
}
