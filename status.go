package shipevents

import (
	"time"
)

// Status is the canonical milestone of a shipment: the one field every
// order-management system keeps in sync. The values are the upper-case
// strings below and are part of the wire contract.
type Status string

// The canonical statuses.
const (
	StatusBooked             Status = "BOOKED"
	StatusReadyToShip        Status = "READY_TO_SHIP"
	StatusPickedUp           Status = "PICKED_UP"
	StatusInTransit          Status = "IN_TRANSIT"
	StatusOnHold             Status = "ON_HOLD"
	StatusOutForDelivery     Status = "OUT_FOR_DELIVERY"
	StatusAvailableForPickup Status = "AVAILABLE_FOR_PICKUP"
	StatusDelivered          Status = "DELIVERED"
	StatusFailedDelivery     Status = "FAILED_DELIVERY"
	StatusReturned           Status = "RETURNED"
	StatusCancelled          Status = "CANCELLED"
	StatusError              Status = "ERROR"
	StatusUnknown            Status = "UNKNOWN"
)

// Phase is the lifecycle stage a status belongs to. It is the second
// segment of a shipment ref (shipments/{phase}/{event_name}).
type Phase string

// The phases, in lifecycle order.
const (
	PhasePreTransit     Phase = "pre_transit"
	PhaseInTransit      Phase = "in_transit"
	PhaseInDelivery     Phase = "in_delivery"
	PhaseDelivered      Phase = "delivered"
	PhaseDeliveryFailed Phase = "delivery_failed"
	PhaseReturned       Phase = "returned"
	PhaseCancelled      Phase = "cancelled"
	PhaseException      Phase = "exception"
	PhaseUnknown        Phase = "unknown"
)

// Direction tells a forward shipment from a return. The same event name can
// belong to a different event group depending on it.
type Direction string

// The directions.
const (
	DirectionForward Direction = "merchant_customer"
	DirectionReturn  Direction = "customer_merchant"
)

// Valid reports whether d is one of the two directions.
func (d Direction) Valid() bool { return d == DirectionForward || d == DirectionReturn }

var statusPhases = map[Status]Phase{
	StatusBooked:             PhasePreTransit,
	StatusReadyToShip:        PhasePreTransit,
	StatusPickedUp:           PhaseInTransit,
	StatusInTransit:          PhaseInTransit,
	StatusOnHold:             PhaseInTransit,
	StatusOutForDelivery:     PhaseInDelivery,
	StatusAvailableForPickup: PhaseInDelivery,
	StatusDelivered:          PhaseDelivered,
	StatusFailedDelivery:     PhaseDeliveryFailed,
	StatusReturned:           PhaseReturned,
	StatusCancelled:          PhaseCancelled,
	StatusError:              PhaseException,
	StatusUnknown:            PhaseUnknown,
}

// Statuses returns every canonical status in lifecycle order.
func Statuses() []Status {
	return []Status{
		StatusBooked, StatusReadyToShip, StatusPickedUp, StatusInTransit, StatusOnHold,
		StatusOutForDelivery, StatusAvailableForPickup, StatusDelivered, StatusFailedDelivery,
		StatusReturned, StatusCancelled, StatusError, StatusUnknown,
	}
}

// Valid reports whether s is a canonical status.
func (s Status) Valid() bool {
	_, ok := statusPhases[s]
	return ok
}

// Phase returns the lifecycle phase of s, or "" when s is not canonical.
func (s Status) Phase() Phase { return statusPhases[s] }

// Terminal reports whether s ends a shipment's life: DELIVERED, RETURNED
// and CANCELLED. A terminal status is never replaced by a non-terminal one.
func (s Status) Terminal() bool {
	return s == StatusDelivered || s == StatusReturned || s == StatusCancelled
}

// StatusPoint is a status at an instant: what the ordering rule compares.
type StatusPoint struct {
	Status     Status
	OccurredAt time.Time
}

// Supersedes reports whether next should become a shipment's current status
// when current is the status it has now. The ordering rule:
//
//   - anything supersedes the zero StatusPoint (no status yet);
//   - a terminal status is never replaced by a non-terminal one;
//   - otherwise a strictly later occurred_at wins;
//   - at the same instant a terminal status wins over a non-terminal one, and
//     between two statuses of the same kind the one already current stays, so
//     that replaying the same history is a no-op.
//
// Arrival order plays no part: carriers batch, retry and reorder.
func Supersedes(current, next StatusPoint) bool {
	if current.Status == "" {
		return true
	}
	if current.Status.Terminal() && !next.Status.Terminal() {
		return false
	}
	if next.OccurredAt.After(current.OccurredAt) {
		return true
	}
	if next.OccurredAt.Equal(current.OccurredAt) {
		return next.Status.Terminal() && !current.Status.Terminal()
	}
	return false
}
