package shipevents

import (
	"fmt"
	"strconv"
	"time"
)

// HostEvent holds what a host knows about something its own workflow did
// (booked a shipment, marked it ready to ship, cancelled it, opened a
// claim). The constructors turn it into an [Event] with the same
// vocabulary as carrier events, so subscribers cannot tell the two apart.
type HostEvent struct {
	// ID is the event id. When empty, it is derived from the ref, tenant,
	// carrier, tracking number, the entity ids in Data and OccurredAt, so a
	// workflow that emits the same action twice publishes one event.
	ID             string
	TenantID       string
	Carrier        string
	TrackingNumber string
	// Direction defaults to merchant_customer.
	Direction     Direction
	OccurredAt    time.Time // required
	TriggeredAt   time.Time // defaults to the current time
	CorrelationID string
	TransactionID string
	TestMode      bool
	Data          EventData
	Context       map[string]any
	Metadata      map[string]string
}

func (h *HostEvent) base(ref, typ string) (Event, error) {
	if h.OccurredAt.IsZero() {
		return Event{}, fmt.Errorf("%w: %s: occurred_at is required", ErrInvalidEvent, ref)
	}
	dir := h.Direction
	if dir == "" {
		dir = DirectionForward
	}
	trig := h.TriggeredAt
	if trig.IsZero() {
		trig = time.Now()
	}
	e := Event{
		ID: h.ID, Type: typ, Ref: ref, Version: EnvelopeVersion, Direction: dir, Carrier: h.Carrier,
		TrackingNumber: h.TrackingNumber, OccurredAt: h.OccurredAt.UTC(), TriggeredAt: trig.UTC(),
		TenantID: h.TenantID, CorrelationID: h.CorrelationID, TransactionID: h.TransactionID, TestMode: h.TestMode,
		Data: h.Data, Context: h.Context, Metadata: h.Metadata,
	}
	if e.ID == "" {
		e.ID = nameUUID(hostNamespace, ref, h.TenantID, h.Carrier, h.TrackingNumber,
			h.Data.ShipmentID, h.Data.OrderID, h.Data.ReturnID, h.Data.ClaimID,
			strconv.FormatInt(e.OccurredAt.UnixNano(), 10))
	}
	return e, nil
}

// NewShipmentEvent returns a shipment milestone event named eventName (a
// catalogue name such as SHIPMENT_BOOKED, READY_TO_SHIP or
// SHIPMENT_CANCELLED); its status, phase, group and ref come from the
// catalogue. The error wraps [ErrInvalidEvent].
func NewShipmentEvent(eventName string, h HostEvent) (Event, error) {
	n, ok := LookupEventName(eventName)
	if !ok {
		return Event{}, fmt.Errorf("%w: event name %s is not in the catalogue", ErrInvalidEvent, quote(eventName))
	}
	typ := TypeShipmentStatus
	switch n.Status {
	case StatusBooked:
		typ = TypeShipmentCreated
	case StatusCancelled:
		typ = TypeShipmentCancelled
	}
	e, err := h.base(ShipmentRef(n.Status.Phase(), n.Name), typ)
	if err != nil {
		return Event{}, err
	}
	e.setShipmentStatus(Mapping{Status: n.Status, EventName: n.Name})
	return e, e.Validate()
}

// Booked is shorthand for NewShipmentEvent("SHIPMENT_BOOKED", h): the host
// booked the shipment with a carrier.
func Booked(h HostEvent) (Event, error) { return NewShipmentEvent("SHIPMENT_BOOKED", h) }

// ReadyToShip is shorthand for NewShipmentEvent("READY_TO_SHIP", h): the
// warehouse handed the parcel over, or can.
func ReadyToShip(h HostEvent) (Event, error) { return NewShipmentEvent("READY_TO_SHIP", h) }

// Cancelled is shorthand for NewShipmentEvent("SHIPMENT_CANCELLED", h):
// the booking was voided before delivery.
func Cancelled(h HostEvent) (Event, error) { return NewShipmentEvent("SHIPMENT_CANCELLED", h) }

// NewRecordEvent returns a record event for one of the catalogue's
// actions ([Actions]): orders/created, orders/updated, returns/created,
// claims/created, shipments/updated and so on. Its type, event name and
// group come from the catalogue. The error wraps [ErrInvalidEvent].
func NewRecordEvent(ref string, h HostEvent) (Event, error) {
	a, ok := LookupAction(ref)
	if !ok {
		return Event{}, fmt.Errorf("%w: %s is not a known action ref", ErrInvalidEvent, quote(ref))
	}
	e, err := h.base(ref, a.Type)
	if err != nil {
		return Event{}, err
	}
	e.Source = a.Source()
	e.EventName = a.EventName
	e.EventGroup = a.Group
	return e, e.Validate()
}
