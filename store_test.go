package shipevents

import (
	"testing"
	"time"
)

func TestUpdateShipment(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	now := t0.Add(24 * time.Hour)
	stored := now.Add(-time.Hour) // UpdatedAt of the current state
	state := func(e Event) ShipmentState {
		return ShipmentState{Key: e.Shipment(), Status: e.Status, EventName: e.EventName, EventID: e.ID,
			OccurredAt: e.OccurredAt, UpdatedAt: stored}
	}
	inTransit := shipmentEvent("cur", "1Z1", StatusInTransit, t0)
	delivered := shipmentEvent("cur", "1Z1", StatusDelivered, t0)
	noStatus := shipmentEvent("e", "1Z1", "", t0.Add(time.Hour))
	noStatus.Type = TypeShipmentUpdated
	order := Event{ID: "e", Type: TypeOrderCreated, Source: SourceOrders, OccurredAt: t0.Add(time.Hour)}

	type verdict int
	const (
		changed verdict = iota + 1
		late
		untouched
	)
	for _, c := range []struct {
		name   string
		cur    ShipmentState
		exists bool
		e      Event
		want   verdict
	}{
		{"first status of a shipment", ShipmentState{}, false, shipmentEvent("e", "1Z1", StatusPickedUp, t0), changed},
		{"a stale state that does not exist is ignored", state(delivered), false, shipmentEvent("e", "1Z1", StatusPickedUp, t0), changed},
		{"later occurred_at", state(inTransit), true, shipmentEvent("e", "1Z1", StatusOutForDelivery, t0.Add(time.Second)), changed},
		{"earlier occurred_at", state(inTransit), true, shipmentEvent("e", "1Z1", StatusOutForDelivery, t0.Add(-time.Second)), late},
		{"non-terminal after terminal, later", state(delivered), true, shipmentEvent("e", "1Z1", StatusInTransit, t0.Add(time.Hour)), late},
		{"terminal after terminal, later", state(delivered), true, shipmentEvent("e", "1Z1", StatusReturned, t0.Add(time.Hour)), changed},
		{"terminal at the same instant", state(inTransit), true, shipmentEvent("e", "1Z1", StatusDelivered, t0), changed},
		{"non-terminal at the same instant", state(inTransit), true, shipmentEvent("e", "1Z1", StatusOutForDelivery, t0), late},
		{"the same event again", state(inTransit), true, inTransit, late},
		{"terminal over terminal at the same instant", state(delivered), true, shipmentEvent("e", "1Z1", StatusCancelled, t0), late},
		{"no status", state(inTransit), true, noStatus, untouched},
		{"no tracking number", ShipmentState{}, false, order, untouched},
	} {
		t.Run(c.name, func(t *testing.T) {
			u := UpdateShipment(c.cur, c.exists, &c.e, now)
			cur := c.cur
			if !c.exists {
				cur = ShipmentState{}
			}
			switch c.want {
			case changed:
				want := ShipmentState{Key: c.e.Shipment(), Status: c.e.Status, EventName: c.e.EventName, EventID: c.e.ID,
					OccurredAt: c.e.OccurredAt, UpdatedAt: now}
				if !u.Changed || u.Late || u.State != want || u.Outcome() != AppendNew {
					t.Errorf("got %+v (outcome %v), want Changed to %+v", u, u.Outcome(), want)
				}
			case late:
				if u.Changed || !u.Late || u.State != cur || u.Outcome() != AppendLate {
					t.Errorf("got %+v (outcome %v), want Late keeping %+v", u, u.Outcome(), cur)
				}
			case untouched:
				if u.Changed || u.Late || u.State != c.cur || u.Outcome() != AppendNew {
					t.Errorf("got %+v (outcome %v), want neither, keeping %+v", u, u.Outcome(), c.cur)
				}
				if _, ok := c.e.StatusKey(); ok {
					t.Errorf("StatusKey reports %+v for an event that leaves shipment state alone", c.e)
				}
			}
			// Its verdict is the one Supersedes gives.
			if key, ok := c.e.StatusKey(); ok {
				sup := Supersedes(StatusPoint{cur.Status, cur.OccurredAt}, StatusPoint{c.e.Status, c.e.OccurredAt})
				if u.Changed != sup || key != c.e.Shipment() {
					t.Errorf("Changed = %v, Supersedes = %v; key %+v", u.Changed, sup, key)
				}
			}
		})
	}
}

func TestShipmentUpdateCreates(t *testing.T) {
	plain, current := NewDelivery{ID: "a"}, NewDelivery{ID: "b", OnlyIfCurrent: true}
	for _, c := range []struct {
		u             ShipmentUpdate
		plain, onlyIf bool
	}{
		{ShipmentUpdate{}, true, true},
		{ShipmentUpdate{Changed: true}, true, true},
		{ShipmentUpdate{Late: true}, true, false},
	} {
		if got := c.u.Creates(plain); got != c.plain {
			t.Errorf("%+v: Creates(plain) = %v", c.u, got)
		}
		if got := c.u.Creates(current); got != c.onlyIf {
			t.Errorf("%+v: Creates(OnlyIfCurrent) = %v", c.u, got)
		}
	}
}
