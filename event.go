package shipevents

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"
)

// EnvelopeVersion is the version of the wire form [Event] marshals to.
const EnvelopeVersion = 1

// Sources: the top-level entity an event is about. A ref starts with it.
const (
	SourceShipments = "shipments"
	SourceOrders    = "orders"
	SourceReturns   = "returns"
	SourceClaims    = "claims"
	SourceWebhooks  = "webhooks" // the library's own delivery events
)

// Event types: the dotted kind of an event.
const (
	TypeTrackingUpdated   = "tracking.updated"
	TypeShipmentCreated   = "shipment.created"
	TypeShipmentUpdated   = "shipment.updated"
	TypeShipmentDeleted   = "shipment.deleted"
	TypeShipmentCancelled = "shipment.cancelled"
	TypeShipmentStatus    = "shipment.status_changed"
	TypeShipmentItems     = "shipment.items_assigned"
	TypeOrderCreated      = "order.created"
	TypeOrderUpdated      = "order.updated"
	TypeOrderFulfilled    = "order.fulfilled"
	TypeReturnCreated     = "return.created"
	TypeReturnUpdated     = "return.updated"
	TypeClaimCreated      = "claim.created"
	TypeClaimUpdated      = "claim.updated"
	TypeClaimResolved     = "claim.resolved"
	TypeWebhookDelivered  = "webhook.delivered"
	TypeWebhookFailed     = "webhook.failed"
	TypeWebhookDisabled   = "webhook.subscription_disabled"
)

// ErrInvalidEvent is returned by [Event.Validate] (and wrapped by the
// functions that validate) for an event that breaks an envelope rule.
var ErrInvalidEvent = errors.New("shipevents: invalid event")

// Event is the canonical shipping event: one envelope for every carrier,
// aggregator and host workflow. Its JSON form (version 1) is a public
// contract: the JSON keys are the field tags below, and the README shows a
// whole event.
//
// Events are values. A copy shares the Data.Extra, Context and Metadata
// maps; use [Event.Clone] before changing those on a shared event.
type Event struct {
	ID             string            `json:"id"`
	Type           string            `json:"type"`
	Source         string            `json:"source"`
	Ref            string            `json:"ref"`
	Version        int               `json:"version"`
	EventName      string            `json:"event_name,omitempty"`
	EventGroup     string            `json:"event_group,omitempty"`
	Phase          Phase             `json:"phase,omitempty"`
	Direction      Direction         `json:"direction,omitempty"`
	Status         Status            `json:"status,omitempty"`
	Carrier        string            `json:"carrier,omitempty"`
	TrackingNumber string            `json:"tracking_number,omitempty"`
	CarrierStatus  *CarrierStatus    `json:"carrier_status,omitempty"`
	OccurredAt     time.Time         `json:"occurred_at"`
	TriggeredAt    time.Time         `json:"triggered_at"`
	TenantID       string            `json:"tenant_id,omitempty"`
	CorrelationID  string            `json:"correlation_id,omitempty"`
	TransactionID  string            `json:"transaction_id,omitempty"`
	TestMode       bool              `json:"test_mode,omitempty"`
	Data           EventData         `json:"event_data,omitzero"`
	Context        map[string]any    `json:"context,omitempty"`
	Metadata       map[string]string `json:"metadata,omitempty"`
}

// eventFields is Event without its methods: what UnmarshalJSON decodes.
type eventFields Event

// UnmarshalJSON implements json.Unmarshaler with the library's own
// decoder: the result is what encoding/json gives, in about a third of
// the time (stores decode every event they read back).
func (e *Event) UnmarshalJSON(b []byte) error {
	return decodeJSON(b, (*eventFields)(e))
}

// CarrierStatus is the raw status exactly as the carrier or aggregator said
// it. It is kept on every event, mapped or not.
type CarrierStatus struct {
	Code        string `json:"code"`
	Type        string `json:"type,omitempty"`
	Description string `json:"description,omitempty"`
	// Namespace names the code table the code was looked up in (for
	// example "type_code" for UPS or "subtag" for AfterShip).
	Namespace string `json:"namespace,omitempty"`
}

// Location is where a scan happened, as far as the carrier said.
type Location struct {
	City       string `json:"city,omitempty"`
	State      string `json:"state,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
	Country    string `json:"country,omitempty"`
	Facility   string `json:"facility,omitempty"`
}

// IsZero reports whether no field of l is set.
func (l Location) IsZero() bool { return l == Location{} }

// newLocation returns a Location, or nil when every field is empty.
func newLocation(city, state, postal, country, facility string) *Location {
	l := locationOf(city, state, postal, country, facility)
	if l.IsZero() {
		return nil
	}
	return &l
}

// locationOf returns a Location with its fields trimmed.
func locationOf(city, state, postal, country, facility string) Location {
	return Location{City: strings.TrimSpace(city), State: strings.TrimSpace(state), PostalCode: strings.TrimSpace(postal),
		Country: strings.TrimSpace(country), Facility: strings.TrimSpace(facility)}
}

// Shipment timestamps can come with or without a zone; OccurredAtSource
// records which, so consumers know how far to trust occurred_at.
const (
	TimeExplicit   = "explicit"    // the payload gave an instant (offset, Z or a GMT field)
	TimeAssumedUTC = "assumed_utc" // the payload gave a local time only; read as UTC
	TimeDateOnly   = "date_only"   // the payload gave a date only
	TimeReceived   = "received"    // the payload gave no time; the receive time was used
)

// EventData is the source-specific detail of an event (the event_data
// object). The common fields are typed; anything else a source needs goes
// in Extra, whose keys are marshalled beside the typed ones.
type EventData struct {
	Description       string     `json:"description,omitempty"`
	Location          *Location  `json:"location,omitempty"`
	SignedBy          string     `json:"signed_by,omitempty"`
	EstimatedDelivery *time.Time `json:"estimated_delivery,omitempty"`
	// CarrierTime is the scan's time exactly as the payload wrote it.
	CarrierTime string `json:"carrier_time,omitempty"`
	// OccurredAtSource says how occurred_at was derived (TimeExplicit, ...).
	OccurredAtSource string `json:"occurred_at_source,omitempty"`
	Service          string `json:"service,omitempty"`
	ShipmentID       string `json:"shipment_id,omitempty"`
	OrderID          string `json:"order_id,omitempty"`
	ReturnID         string `json:"return_id,omitempty"`
	ClaimID          string `json:"claim_id,omitempty"`
	PreviousStatus   string `json:"previous_status,omitempty"`
	Reason           string `json:"reason,omitempty"`
	// Extra holds keys beyond the typed ones. A key that collides with a
	// typed field is ignored when marshalling.
	Extra map[string]any `json:"-"`
}

// IsZero reports whether d holds nothing.
func (d EventData) IsZero() bool {
	return d.Description == "" && d.Location == nil && d.SignedBy == "" && d.EstimatedDelivery == nil &&
		d.CarrierTime == "" && d.OccurredAtSource == "" && d.Service == "" && d.ShipmentID == "" &&
		d.OrderID == "" && d.ReturnID == "" && d.ClaimID == "" && d.PreviousStatus == "" &&
		d.Reason == "" && len(d.Extra) == 0
}

// Clone returns a deep copy of e: changing the copy's maps or pointers does
// not affect e.
func (e Event) Clone() Event {
	c := e
	if e.CarrierStatus != nil {
		cs := *e.CarrierStatus
		c.CarrierStatus = &cs
	}
	if e.Data.Location != nil {
		l := *e.Data.Location
		c.Data.Location = &l
	}
	if e.Data.EstimatedDelivery != nil {
		t := *e.Data.EstimatedDelivery
		c.Data.EstimatedDelivery = &t
	}
	c.Data.Extra = cloneAnyMap(e.Data.Extra)
	c.Context = cloneAnyMap(e.Context)
	c.Metadata = maps.Clone(e.Metadata)
	return c
}

func cloneAnyMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = cloneAny(v)
	}
	return out
}

func cloneAny(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return cloneAnyMap(x)
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = cloneAny(x[i])
		}
		return out
	default:
		return v
	}
}

// ShipmentKey identifies one shipment's timeline: carriers recycle tracking
// numbers, so the key includes the carrier, and hosts keep tenants apart.
type ShipmentKey struct {
	TenantID       string
	Carrier        string
	TrackingNumber string
}

// IsZero reports whether the key names no shipment.
func (k ShipmentKey) IsZero() bool { return k.TrackingNumber == "" }

// String returns tenant/carrier/tracking_number.
func (k ShipmentKey) String() string {
	return k.TenantID + "/" + k.Carrier + "/" + k.TrackingNumber
}

// Shipment returns the key of the shipment e is about; it is zero for
// events without a tracking number (orders, claims).
func (e *Event) Shipment() ShipmentKey {
	if e.TrackingNumber == "" {
		return ShipmentKey{}
	}
	return ShipmentKey{TenantID: e.TenantID, Carrier: e.Carrier, TrackingNumber: e.TrackingNumber}
}

// StatusKey returns the shipment whose current state e is ordered against
// (see [UpdateShipment]), and false for an event that leaves every
// shipment's state alone: one without a tracking number, or without a
// status (record events, shipment.updated).
func (e *Event) StatusKey() (ShipmentKey, bool) {
	k := e.Shipment()
	return k, !k.IsZero() && e.Status != ""
}

// Validate checks the envelope rules: an id, a type, a known source, a ref
// that starts with the source, version 1, and for shipment events a
// canonical status whose phase and event name agree with the ref and the
// catalogue. The error wraps [ErrInvalidEvent].
func (e *Event) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidEvent, fmt.Sprintf(format, args...))
	}
	switch {
	case e.ID == "":
		return bad("empty id")
	case e.Type == "":
		return bad("event %s: empty type", e.ID)
	case e.Version != EnvelopeVersion:
		return bad("event %s: version %d, want %d", e.ID, e.Version, EnvelopeVersion)
	case e.OccurredAt.IsZero():
		return bad("event %s: zero occurred_at", e.ID)
	}
	switch e.Source {
	case SourceShipments, SourceOrders, SourceReturns, SourceClaims, SourceWebhooks:
	default:
		return bad("event %s: unknown source %q", e.ID, e.Source)
	}
	if e.Ref != e.Source && !strings.HasPrefix(e.Ref, e.Source+"/") {
		return bad("event %s: ref %q does not start with source %q", e.ID, e.Ref, e.Source)
	}
	if e.Direction != "" && !e.Direction.Valid() {
		return bad("event %s: unknown direction %q", e.ID, e.Direction)
	}
	if e.Source != SourceShipments || e.Status == "" {
		// A record event: its ref names an action of the catalogue.
		a, ok := actions[e.Ref]
		if !ok {
			if e.Source == SourceShipments {
				return bad("event %s: shipment event without status and with unknown action ref %q", e.ID, e.Ref)
			}
			return nil // hosts may define their own record refs for orders, returns and claims
		}
		if e.EventName != "" && e.EventName != a.EventName {
			return bad("event %s: event name %q, want %q for ref %s", e.ID, e.EventName, a.EventName, e.Ref)
		}
		return nil
	}
	if !e.Status.Valid() {
		return bad("event %s: unknown status %q", e.ID, e.Status)
	}
	if e.Phase != e.Status.Phase() {
		return bad("event %s: phase %q does not belong to status %s", e.ID, e.Phase, e.Status)
	}
	n, ok := catalogue[e.EventName]
	if !ok {
		return bad("event %s: event name %q is not in the catalogue", e.ID, e.EventName)
	}
	if n.Status != e.Status {
		return bad("event %s: event name %s carries status %s, not %s", e.ID, e.EventName, n.Status, e.Status)
	}
	if want := n.Group(e.Direction); e.EventGroup != want {
		return bad("event %s: event group %q, want %q", e.ID, e.EventGroup, want)
	}
	if want := ShipmentRef(e.Phase, e.EventName); e.Ref != want {
		return bad("event %s: ref %q, want %q", e.ID, e.Ref, want)
	}
	return nil
}

// ShipmentRef returns shipments/{phase}/{event_name}.
func ShipmentRef(p Phase, eventName string) string {
	return SourceShipments + "/" + string(p) + "/" + eventName
}

// setShipmentStatus fills status, phase, event name, group and ref of a
// shipment event from a mapping, keeping the event consistent.
func (e *Event) setShipmentStatus(m Mapping) {
	e.Source = SourceShipments
	e.Status = m.Status
	e.Phase = m.Status.Phase()
	e.EventName = m.EventName
	if n, ok := catalogue[m.EventName]; ok && n.Status == m.Status {
		e.EventGroup = n.Group(e.Direction)
		e.Ref = n.ref
		return
	}
	e.Ref = ShipmentRef(e.Phase, e.EventName)
}
