package shipevents

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// TestZeroSubscriptionIsEnabled: a subscription that says nothing about
// its state is enabled: subscribing one delivers to it.
func TestZeroSubscriptionIsEnabled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := NewDispatcher(DispatcherConfig{DisableDeliveryEvents: true})
		got := 0
		d.Handle("h", func(ctx context.Context, e Event) error { got++; return nil })
		runVirtually(t, d, time.Minute, Subscription{ID: "s", Handler: "h", EnabledEvents: []string{"shipments"}},
			shipmentEvent("e1", "1Z1", StatusInTransit, time.Now()))
		if got != 1 {
			t.Errorf("a subscription with no state set received %d events, want 1", got)
		}
	})
}

// TestSubscriptionJSONKeepsStoredState: stores keep subscriptions as JSON.
// A body of the earlier form ("active") keeps its state, "disabled" wins
// when both are there, and a body written now still carries "active" for
// readers of the earlier form.
func TestSubscriptionJSONKeepsStoredState(t *testing.T) {
	for body, wantDisabled := range map[string]bool{
		`{"id":"s","enabled_events":["*"],"active":false}`:                  true,
		`{"id":"s","enabled_events":["*"],"active":true}`:                   false,
		`{"id":"s","enabled_events":["*"]}`:                                 false,
		`{"id":"s","enabled_events":["*"],"active":true,"disabled":true}`:   true,
		`{"id":"s","enabled_events":["*"],"active":false,"disabled":false}`: false,
	} {
		var s Subscription
		if err := json.Unmarshal([]byte(body), &s); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if s.Disabled != wantDisabled || s.ID != "s" || len(s.EnabledEvents) != 1 {
			t.Errorf("%s: decoded %+v, want Disabled %v", body, s, wantDisabled)
		}
	}
	for _, disabled := range []bool{false, true} {
		in := Subscription{ID: "s", URL: "https://example.com/h", EnabledEvents: []string{"*"}, Disabled: disabled, DisabledReason: "r",
			CreatedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		var legacy struct {
			Active *bool `json:"active"`
		}
		if err := json.Unmarshal(b, &legacy); err != nil || legacy.Active == nil || *legacy.Active == disabled {
			t.Errorf("%s: the earlier form's reader sees active = %v", b, legacy.Active)
		}
		var out Subscription
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatal(err)
		}
		if out.Disabled != disabled || out.URL != in.URL || !out.CreatedAt.Equal(in.CreatedAt) || out.DisabledReason != "r" {
			t.Errorf("round trip of %+v gave %+v", in, out)
		}
	}
}

// TestSubscriptionRefusesWhatCannotMatch: event groups and types that no
// event has are refused, as are subscriptions with nothing to match on.
// A subscription filtering by group or type alone needs no patterns.
func TestSubscriptionRefusesWhatCannotMatch(t *testing.T) {
	base := Subscription{ID: "s", URL: "https://example.com/h"}
	for name, mod := range map[string]func(*Subscription){
		"unknown group":        func(s *Subscription) { s.EnabledEvents, s.EventGroups = []string{"*"}, []string{"delivered"} },
		"unknown type":         func(s *Subscription) { s.EnabledEvents, s.Types = []string{"*"}, []string{"tracking.update"} },
		"group alone, unknown": func(s *Subscription) { s.EventGroups = []string{"shipment_deliverd"} },
		"nothing to match on":  func(s *Subscription) {},
	} {
		s := base.Clone()
		mod(&s)
		if err := s.Validate(); !errors.Is(err, ErrInvalidSubscription) {
			t.Errorf("%s: Validate = %v, want ErrInvalidSubscription", name, err)
		}
	}
	for name, mod := range map[string]func(*Subscription){
		"a catalogue group":      func(s *Subscription) { s.EventGroups = []string{"shipment_delivered", "return_delivered"} },
		"a record event's group": func(s *Subscription) { s.EventGroups = []string{"order_created", "webhook_failed"} },
		"a type":                 func(s *Subscription) { s.Types = []string{TypeTrackingUpdated, TypeWebhookDisabled} },
		"a record event's type":  func(s *Subscription) { s.Types = []string{"return.approved"} },
		"patterns and a group too": func(s *Subscription) {
			s.EnabledEvents, s.EventGroups = []string{"shipments"}, []string{"shipment_delivered"}
		},
	} {
		s := base.Clone()
		mod(&s)
		if err := s.Validate(); err != nil {
			t.Errorf("%s: Validate = %v", name, err)
		}
	}
	for _, g := range []string{"order_created", "webhook_delivered", "shipment_delivered"} {
		if !slicesContains(EventGroups(), g) {
			t.Errorf("EventGroups lacks %s", g)
		}
	}
	for _, ty := range []string{TypeTrackingUpdated, "order.cancelled", TypeWebhookFailed} {
		if !slicesContains(EventTypes(), ty) {
			t.Errorf("EventTypes lacks %s", ty)
		}
	}
}

func slicesContains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// TestSubscriptionByGroupAlone: with EventGroups (or Types) and no
// EnabledEvents, a subscription receives every event of those groups,
// from Publish and from Backfill.
func TestSubscriptionByGroupAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := NewDispatcher(DispatcherConfig{DisableDeliveryEvents: true})
		var got []string
		d.Handle("h", func(ctx context.Context, e Event) error { got = append(got, e.ID); return nil })
		at := time.Now()
		delivered := shipmentEvent("delivered", "1Z1", StatusDelivered, at)
		transit := shipmentEvent("transit", "1Z2", StatusInTransit, at)
		runVirtually(t, d, time.Minute, Subscription{ID: "s", Handler: "h", EventGroups: []string{"shipment_delivered"}}, delivered, transit)
		if len(got) != 1 || got[0] != "delivered" {
			t.Errorf("a group-only subscription received %v, want [delivered]", got)
		}
		ctx := context.Background()
		if err := d.Subscribe(ctx, Subscription{ID: "late", Handler: "h", Types: []string{TypeTrackingUpdated}}); err != nil {
			t.Fatal(err)
		}
		if n, err := d.Backfill(ctx, "late", EventFilter{}); err != nil || n != 2 {
			t.Errorf("Backfill of a type-only subscription created %d deliveries, %v; want 2", n, err)
		}
	})
}

// TestDispatcherSubscriptions: one subscription by id, and all of them.
// Unknown ids are ErrNotFound, for ReplayDeadLetters as for
// ReplayDelivery.
func TestDispatcherSubscriptions(t *testing.T) {
	ctx := context.Background()
	d := NewDispatcher(DispatcherConfig{})
	for _, id := range []string{"b", "a"} {
		if err := d.Subscribe(ctx, Subscription{ID: id, URL: "https://example.com/" + id, EnabledEvents: []string{"*"}}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := d.Subscription(ctx, "a")
	if err != nil || s.ID != "a" || s.URL != "https://example.com/a" || s.CreatedAt.IsZero() {
		t.Errorf("Subscription(a) = %+v, %v", s, err)
	}
	s.EnabledEvents[0] = "changed"
	if again, _ := d.Subscription(ctx, "a"); again.EnabledEvents[0] != "*" {
		t.Errorf("the returned subscription aliases the store's")
	}
	if _, err := d.Subscription(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Subscription(nope) = %v, want ErrNotFound", err)
	}
	all, err := d.Subscriptions(ctx)
	if err != nil || len(all) != 2 || all[0].ID != "a" || all[1].ID != "b" {
		t.Errorf("Subscriptions = %+v, %v", all, err)
	}
	n, err := d.ReplayDeadLetters(ctx, "nope")
	if !errors.Is(err, ErrNotFound) || n != 0 {
		t.Errorf("ReplayDeadLetters(nope) = %d, %v; want ErrNotFound", n, err)
	}
	if err := d.ReplayDelivery(ctx, "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("ReplayDelivery(nope) = %v", err)
	}
	if n, err := d.ReplayDeadLetters(ctx, "a"); err != nil || n != 0 {
		t.Errorf("ReplayDeadLetters(a) = %d, %v; want 0, nil", n, err)
	}
	if err := d.Subscribe(ctx, Subscription{ID: "x\nforged"}); err == nil || strings.Contains(err.Error(), "\n") {
		t.Errorf("Subscribe of an invalid subscription: %v", err)
	}
}

// TestConditionFieldsMustExist: a condition on a field events do not have
// would never hold (or, negated, always): Validate refuses it, naming it.
func TestConditionFieldsMustExist(t *testing.T) {
	base := Subscription{ID: "s", URL: "https://example.com/h", EnabledEvents: []string{"*"}}
	for _, f := range []string{"statuss", "metadata.", "event_data.", "Status", "context.order"} {
		s := base.Clone()
		s.Conditions = []Condition{{Field: f, Op: OpEq, Values: []string{"x"}}}
		if err := s.Validate(); !errors.Is(err, ErrInvalidSubscription) || !strings.Contains(err.Error(), quote(f)) {
			t.Errorf("condition on %q: Validate = %v", f, err)
		}
	}
	e := shipmentEvent("e1", "1Z1", StatusDelivered, time.Now())
	e.CarrierStatus = &CarrierStatus{Code: "D"}
	e.TenantID, e.CorrelationID, e.TransactionID, e.TestMode = "t", "c", "x", true
	for _, f := range conditionFields {
		s := base.Clone()
		s.Conditions = []Condition{{Field: f, Op: OpExists}}
		if err := s.Validate(); err != nil {
			t.Errorf("condition on %s refused: %v", f, err)
		}
		if _, ok := EventField(&e, f); !ok {
			t.Errorf("conditionFields lists %s, which EventField does not read", f)
		}
	}
	for _, f := range []string{"metadata.channel", "event_data.location.country", "event_data.custom_key"} {
		s := base.Clone()
		s.Conditions = []Condition{{Field: f, Op: OpExists}}
		if err := s.Validate(); err != nil {
			t.Errorf("condition on %s refused: %v", f, err)
		}
	}
}
