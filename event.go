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
// An event is identified by its tenant and id together ([Event.Key]): the
// same ID under two tenants (two tenants tracking one parcel get the same
// scan id from [Normalize]) is two events.
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

// EventKey identifies a stored event: its tenant and its id. Stores
// deduplicate and look events up by the pair, so the same ID under two
// tenants names two events, while within one tenant the ID is idempotent.
// TenantID is empty for events without a tenant.
type EventKey struct {
	TenantID string
	ID       string
}

// Key returns the identity of e: its tenant and id.
func (e *Event) Key() EventKey { return EventKey{TenantID: e.TenantID, ID: e.ID} }

// String returns the id quoted, after the quoted tenant and a slash when
// there is a tenant: "acme"/"evt-1". Each part is quoted as messages
// quote untrusted text (escaped, and cut when long), so that a hostile key
// can neither forge log lines nor grow a message without bound.
func (k EventKey) String() string {
	if k.TenantID == "" {
		return quote(k.ID)
	}
	return quote(k.TenantID) + "/" + quote(k.ID)
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
// catalogue. It also refuses what no store could keep: a NUL byte or
// invalid UTF-8 in any string (metadata, event_data and context, keys
// included, at any depth), numbers JSON cannot write (NaN, infinities),
// values encoding/json cannot encode, nesting deeper than 64 levels, and
// identifiers longer than [MaxIdentifierBytes]. The error wraps
// [ErrInvalidEvent]; it quotes the event's text, bounded.
func (e *Event) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: event %s: %s", ErrInvalidEvent, quote(e.ID), fmt.Sprintf(format, args...))
	}
	if e.ID == "" {
		return fmt.Errorf("%w: empty id", ErrInvalidEvent)
	}
	if field, problem := e.unstorable(); problem != "" {
		return bad("%s %s", field, problem)
	}
	switch {
	case e.Type == "":
		return bad("empty type")
	case e.Version != EnvelopeVersion:
		return bad("version %d, want %d", e.Version, EnvelopeVersion)
	case e.OccurredAt.IsZero():
		return bad("zero occurred_at")
	}
	switch e.Source {
	case SourceShipments, SourceOrders, SourceReturns, SourceClaims, SourceWebhooks:
	default:
		return bad("unknown source %s", quote(e.Source))
	}
	if e.Ref != e.Source && !strings.HasPrefix(e.Ref, e.Source+"/") {
		return bad("ref %s does not start with source %s", quote(e.Ref), quote(e.Source))
	}
	if e.Direction != "" && !e.Direction.Valid() {
		return bad("unknown direction %s", quote(string(e.Direction)))
	}
	if e.Source != SourceShipments || e.Status == "" {
		// A record event: its ref names an action of the catalogue.
		a, ok := actions[e.Ref]
		if !ok {
			if e.Source == SourceShipments {
				return bad("shipment event without status and with unknown action ref %s", quote(e.Ref))
			}
			return nil // hosts may define their own record refs for orders, returns and claims
		}
		if e.EventName != "" && e.EventName != a.EventName {
			return bad("event name %s, want %q for ref %s", quote(e.EventName), a.EventName, e.Ref)
		}
		return nil
	}
	if !e.Status.Valid() {
		return bad("unknown status %s", quote(string(e.Status)))
	}
	if e.Phase != e.Status.Phase() {
		return bad("phase %s does not belong to status %s", quote(string(e.Phase)), e.Status)
	}
	n, ok := catalogue[e.EventName]
	if !ok {
		return bad("event name %s is not in the catalogue", quote(e.EventName))
	}
	if n.Status != e.Status {
		return bad("event name %s carries status %s, not %s", e.EventName, n.Status, e.Status)
	}
	if want := n.Group(e.Direction); e.EventGroup != want {
		return bad("event group %s, want %q", quote(e.EventGroup), want)
	}
	if want := ShipmentRef(e.Phase, e.EventName); e.Ref != want {
		return bad("ref %s, want %q", quote(e.Ref), want)
	}
	return nil
}

// unstorable names the first field of e that no store could keep, and
// why; both are "" when every field can be stored.
func (e *Event) unstorable() (field, problem string) {
	for _, f := range [...]struct{ name, v string }{
		{"id", e.ID}, {"type", e.Type}, {"source", e.Source}, {"ref", e.Ref},
		{"event_name", e.EventName}, {"event_group", e.EventGroup}, {"carrier", e.Carrier},
		{"tracking_number", e.TrackingNumber}, {"tenant_id", e.TenantID},
		{"correlation_id", e.CorrelationID}, {"transaction_id", e.TransactionID},
	} {
		if p := textProblem(f.v); p != "" {
			return f.name, p
		}
		if len(f.v) > MaxIdentifierBytes {
			return f.name, fmt.Sprintf("is %d bytes long, limit %d", len(f.v), MaxIdentifierBytes)
		}
	}
	d := &e.Data
	var cs CarrierStatus
	if e.CarrierStatus != nil {
		cs = *e.CarrierStatus
	}
	var loc Location
	if d.Location != nil {
		loc = *d.Location
	}
	for _, f := range [...]struct{ name, v string }{
		{"phase", string(e.Phase)}, {"direction", string(e.Direction)}, {"status", string(e.Status)},
		{"carrier_status.code", cs.Code}, {"carrier_status.type", cs.Type},
		{"carrier_status.description", cs.Description}, {"carrier_status.namespace", cs.Namespace},
		{"event_data.description", d.Description}, {"event_data.signed_by", d.SignedBy},
		{"event_data.carrier_time", d.CarrierTime}, {"event_data.occurred_at_source", d.OccurredAtSource},
		{"event_data.service", d.Service}, {"event_data.shipment_id", d.ShipmentID},
		{"event_data.order_id", d.OrderID}, {"event_data.return_id", d.ReturnID},
		{"event_data.claim_id", d.ClaimID}, {"event_data.previous_status", d.PreviousStatus},
		{"event_data.reason", d.Reason},
		{"event_data.location.city", loc.City}, {"event_data.location.state", loc.State},
		{"event_data.location.postal_code", loc.PostalCode}, {"event_data.location.country", loc.Country},
		{"event_data.location.facility", loc.Facility},
	} {
		if p := textProblem(f.v); p != "" {
			return f.name, p
		}
	}
	if len(e.Metadata) > 0 {
		if where, p := valueProblem(e.Metadata, 1); p != "" {
			return "metadata" + where, p
		}
	}
	if len(d.Extra) > 0 {
		if where, p := valueProblem(d.Extra, 1); p != "" {
			return "event_data" + where, p
		}
	}
	if len(e.Context) > 0 {
		if where, p := valueProblem(e.Context, 1); p != "" {
			return "context" + where, p
		}
	}
	return "", ""
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
