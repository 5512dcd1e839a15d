package shipevents

import (
	"testing"
	"time"
)

func TestStatusPhases(t *testing.T) {
	want := map[Status]Phase{
		StatusBooked: PhasePreTransit, StatusReadyToShip: PhasePreTransit, StatusPickedUp: PhaseInTransit,
		StatusInTransit: PhaseInTransit, StatusOnHold: PhaseInTransit, StatusOutForDelivery: PhaseInDelivery,
		StatusAvailableForPickup: PhaseInDelivery, StatusDelivered: PhaseDelivered, StatusFailedDelivery: PhaseDeliveryFailed,
		StatusReturned: PhaseReturned, StatusCancelled: PhaseCancelled, StatusError: PhaseException, StatusUnknown: PhaseUnknown,
	}
	if len(Statuses()) != len(want) {
		t.Fatalf("Statuses() has %d entries, want %d", len(Statuses()), len(want))
	}
	for _, s := range Statuses() {
		if got := s.Phase(); got != want[s] {
			t.Errorf("%s.Phase() = %q, want %q", s, got, want[s])
		}
		if DefaultEventName(s) == "" {
			t.Errorf("DefaultEventName(%s) is empty", s)
		}
		if n, ok := LookupEventName(DefaultEventName(s)); !ok || n.Status != s {
			t.Errorf("DefaultEventName(%s) = %s, which the catalogue does not give status %s", s, DefaultEventName(s), s)
		}
	}
	if Status("SHIPPED").Valid() {
		t.Error(`Status("SHIPPED").Valid() = true`)
	}
	for _, s := range []Status{StatusDelivered, StatusReturned, StatusCancelled} {
		if !s.Terminal() {
			t.Errorf("%s.Terminal() = false", s)
		}
	}
	for _, s := range []Status{StatusInTransit, StatusError, StatusFailedDelivery, StatusUnknown} {
		if s.Terminal() {
			t.Errorf("%s.Terminal() = true", s)
		}
	}
}

func TestSupersedes(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	p := func(s Status, d time.Duration) StatusPoint { return StatusPoint{Status: s, OccurredAt: t0.Add(d)} }
	tests := []struct {
		name          string
		current, next StatusPoint
		want          bool
	}{
		{"nothing yet", StatusPoint{}, p(StatusInTransit, 0), true},
		{"later wins", p(StatusInTransit, 0), p(StatusOutForDelivery, time.Hour), true},
		{"earlier loses", p(StatusOutForDelivery, time.Hour), p(StatusInTransit, 0), false},
		{"terminal never replaced by later non-terminal", p(StatusDelivered, 0), p(StatusInTransit, time.Hour), false},
		{"later terminal replaces terminal", p(StatusDelivered, 0), p(StatusReturned, time.Hour), true},
		{"earlier terminal does not replace", p(StatusOutForDelivery, time.Hour), p(StatusDelivered, 0), false},
		{"same instant: terminal beats non-terminal", p(StatusOutForDelivery, 0), p(StatusDelivered, 0), true},
		{"same instant: non-terminal keeps", p(StatusInTransit, 0), p(StatusOutForDelivery, 0), false},
		{"same instant: replay is a no-op", p(StatusDelivered, 0), p(StatusDelivered, 0), false},
	}
	for _, tt := range tests {
		if got := Supersedes(tt.current, tt.next); got != tt.want {
			t.Errorf("%s: Supersedes(%v, %v) = %v, want %v", tt.name, tt.current, tt.next, got, tt.want)
		}
	}
}

func TestCatalogueGroups(t *testing.T) {
	names := EventNames()
	if len(names) < 40 {
		t.Fatalf("catalogue has %d names", len(names))
	}
	for _, n := range names {
		if !n.Status.Valid() {
			t.Errorf("%s: invalid status %s", n.Name, n.Status)
		}
		if n.Forward == "" || n.Return == "" {
			t.Errorf("%s: empty group", n.Name)
		}
		if n.Group(DirectionReturn) == n.Group(DirectionForward) {
			t.Errorf("%s: the same group in both directions (%s); a return is a different notification", n.Name, n.Forward)
		}
	}
	n, _ := LookupEventName("SUCCESSFULLY_DELIVERED")
	if n.Group(DirectionForward) != "shipment_delivered" || n.Group(DirectionReturn) != "return_delivered" {
		t.Errorf("SUCCESSFULLY_DELIVERED groups = %s / %s", n.Forward, n.Return)
	}
	for _, a := range Actions() {
		if _, clash := LookupEventName(a.EventName); clash {
			t.Errorf("action %s reuses milestone event name %s", a.Ref, a.EventName)
		}
		if a.Source() == "" || a.Type == "" || a.Group == "" {
			t.Errorf("action %s is incomplete: %+v", a.Ref, a)
		}
	}
}
