package shipevents

import (
	"errors"
	"testing"
	"time"
)

func TestHostEvents(t *testing.T) {
	at := time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC)
	h := HostEvent{TenantID: "shop", Carrier: "ups", TrackingNumber: "1Z1", OccurredAt: at, Data: EventData{OrderID: "o-1"}}
	for _, tc := range []struct {
		make   func(HostEvent) (Event, error)
		status Status
		ref    string
		typ    string
	}{
		{Booked, StatusBooked, "shipments/pre_transit/SHIPMENT_BOOKED", TypeShipmentCreated},
		{ReadyToShip, StatusReadyToShip, "shipments/pre_transit/READY_TO_SHIP", TypeShipmentStatus},
		{Cancelled, StatusCancelled, "shipments/cancelled/SHIPMENT_CANCELLED", TypeShipmentCancelled},
	} {
		e, err := tc.make(h)
		if err != nil {
			t.Fatal(err)
		}
		if e.Status != tc.status || e.Ref != tc.ref || e.Type != tc.typ || e.EventGroup == "" {
			t.Errorf("got status %s ref %s type %s group %q, want %s %s %s", e.Status, e.Ref, e.Type, e.EventGroup, tc.status, tc.ref, tc.typ)
		}
		again, _ := tc.make(h)
		if again.ID != e.ID {
			t.Errorf("%s: id not deterministic", tc.ref)
		}
	}
	ret := h
	ret.Direction = DirectionReturn
	e, err := NewShipmentEvent("SUCCESSFULLY_DELIVERED", ret)
	if err != nil {
		t.Fatal(err)
	}
	if e.EventGroup != "return_delivered" {
		t.Errorf("return delivered group = %s", e.EventGroup)
	}
	c, err := NewRecordEvent("claims/created", HostEvent{TenantID: "shop", OccurredAt: at, Data: EventData{ClaimID: "c-9", Reason: "damaged"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Source != SourceClaims || c.EventName != "CLAIM_CREATED" || c.Type != TypeClaimCreated || c.Status != "" {
		t.Errorf("claim event = %+v", c)
	}
	if _, err := NewRecordEvent("claims/teleported", h); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("unknown action: %v", err)
	}
	if _, err := NewShipmentEvent("TELEPORTED", h); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("unknown name: %v", err)
	}
	if _, err := Booked(HostEvent{}); !errors.Is(err, ErrInvalidEvent) {
		t.Errorf("missing occurred_at: %v", err)
	}
}
