package storetest

import (
	"encoding/base64"
	"errors"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/shipevents/shipevents"
)

// The suite's clock: every time is an offset from base, passed explicitly.
var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func at(d time.Duration) time.Time { return base.Add(d) }

// lease is the lease duration of the claim helper.
const lease = 30 * time.Second

const carrier = "ups"

func newID(prefix string) string { return prefix + "-" + uuid.NewString() }

// shipmentEvent returns a valid shipment event of the case's tenant with
// the catalogue's default event name for status.
func (e *env) shipmentEvent(status shipevents.Status, tracking string, occurred time.Time) shipevents.Event {
	e.Helper()
	name := shipevents.DefaultEventName(status)
	n, ok := shipevents.LookupEventName(name)
	if !ok {
		e.Fatalf("storetest bug: no catalogue entry %q for status %s", name, status)
	}
	phase := status.Phase()
	return shipevents.Event{
		ID:             newID("evt"),
		Type:           shipevents.TypeTrackingUpdated,
		Source:         shipevents.SourceShipments,
		Ref:            shipevents.ShipmentRef(phase, name),
		Version:        shipevents.EnvelopeVersion,
		EventName:      name,
		EventGroup:     n.Group(shipevents.DirectionForward),
		Phase:          phase,
		Direction:      shipevents.DirectionForward,
		Status:         status,
		Carrier:        carrier,
		TrackingNumber: tracking,
		OccurredAt:     occurred,
		TriggeredAt:    occurred.Add(time.Minute),
		TenantID:       e.tenant,
	}
}

// orderEvent returns a valid event without a shipment key.
func (e *env) orderEvent(occurred time.Time) shipevents.Event {
	return shipevents.Event{
		ID:          newID("evt"),
		Type:        shipevents.TypeOrderCreated,
		Source:      shipevents.SourceOrders,
		Ref:         "orders/created",
		Version:     shipevents.EnvelopeVersion,
		EventName:   "ORDER_CREATED",
		EventGroup:  "order_created",
		OccurredAt:  occurred,
		TriggeredAt: occurred,
		TenantID:    e.tenant,
	}
}

// fullEvent returns a shipment event with every field set, deterministic
// given id and tracking. Its maps hold only JSON-compatible values.
func (e *env) fullEvent(id, tracking string) shipevents.Event {
	ev := e.shipmentEvent(shipevents.StatusOutForDelivery, tracking, time.Date(2026, 1, 1, 9, 30, 15, 0, time.FixedZone("CET", 3600)))
	ev.ID = id
	eta := base.Add(26 * time.Hour)
	ev.CarrierStatus = &shipevents.CarrierStatus{Code: "OT", Type: "I", Description: "Out For Delivery Today", Namespace: "type_code"}
	ev.TriggeredAt = base.Add(9 * time.Hour)
	ev.CorrelationID = "corr-" + id
	ev.TransactionID = "tx-" + id
	ev.TestMode = true
	ev.Data = shipevents.EventData{
		Description:       "Out for delivery",
		Location:          &shipevents.Location{City: "Berlin", State: "BE", PostalCode: "10115", Country: "DE", Facility: "Hub 3"},
		SignedBy:          "J. Doe",
		EstimatedDelivery: &eta,
		CarrierTime:       "2026-01-01T09:30:15",
		OccurredAtSource:  shipevents.TimeExplicit,
		Service:           "express",
		ShipmentID:        "shp-1",
		OrderID:           "ord-1",
		ReturnID:          "ret-1",
		ClaimID:           "clm-1",
		PreviousStatus:    "IN_TRANSIT",
		Reason:            "on schedule",
		Extra: map[string]any{
			"weight_kg": 2.5,
			"fragile":   true,
			"tags":      []any{"a", "b"},
			"dims":      map[string]any{"l": 10.0, "unit": "cm"},
		},
	}
	ev.Context = map[string]any{"source_ip": "203.0.113.7", "nested": map[string]any{"k": "v", "list": []any{1.0, "x"}}}
	ev.Metadata = map[string]string{"order": "A-1", "channel": "web"}
	return ev
}

// subscription returns a valid subscription with every field set,
// deterministic given id.
func subscription(id string) shipevents.Subscription {
	secret := shipevents.SecretPrefix + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))
	return shipevents.Subscription{
		ID:            id,
		TenantID:      "tenant-a",
		Name:          "orders hook " + id,
		URL:           "https://example.com/hooks/" + id,
		EnabledEvents: []string{"shipments/delivered", "shipments/*/DELIVERY_ATTEMPT_FAILED"},
		EventGroups:   []string{"shipment_delivered"},
		Types:         []string{shipevents.TypeTrackingUpdated},
		Conditions: []shipevents.Condition{
			{Field: "carrier", Op: shipevents.OpIn, Values: []string{"ups", "dhl"}},
			{Field: "metadata.channel", Op: shipevents.OpExists},
		},
		IncludeLate: true,
		Form:        shipevents.FormFlat,
		Headers:     map[string]string{"X-Api-Key": "k-" + id},
		OAuth2: &shipevents.OAuth2{
			TokenURL: "https://auth.example.com/token", ClientID: "client", ClientSecret: "secret",
			Scopes: []string{"hooks"}, Params: map[string]string{"audience": "x"},
		},
		Secrets: []string{secret},
		Retry:   &shipevents.RetryPolicy{Schedule: []time.Duration{time.Second, time.Minute}, MaxAttempts: 3, NoJitter: true},
	}
}

// nd returns a delivery of ev to sub due at next, with the deterministic id.
func nd(ev shipevents.Event, sub string, next time.Time) shipevents.NewDelivery {
	return shipevents.NewDelivery{ID: shipevents.DeliveryID(ev.Key(), sub), SubscriptionID: sub, NextAttemptAt: next}
}

func ndCurrent(ev shipevents.Event, sub string, next time.Time) shipevents.NewDelivery {
	d := nd(ev, sub, next)
	d.OnlyIfCurrent = true
	return d
}

// appendRecords appends and checks the call succeeded with one result per
// record.
func (e *env) appendRecords(recs ...shipevents.AppendRecord) []shipevents.AppendResult {
	e.Helper()
	for _, r := range recs {
		if err := r.Event.Validate(); err != nil {
			e.Fatalf("storetest bug: the suite built an invalid event: %v", err)
		}
		for _, d := range r.Deliveries {
			if _, ok := e.evOf[d.ID]; !ok {
				e.evOf[d.ID] = r.Event.Key()
			}
		}
	}
	res, err := e.s.AppendEvents(e.ctx, recs)
	e.noErr(err, "AppendEvents of valid records")
	if len(res) != len(recs) {
		e.fatalf("AppendEvents returns one result per record", "got %d results for %d records", len(res), len(recs))
	}
	return res
}

func (e *env) appendOne(ev shipevents.Event, ds ...shipevents.NewDelivery) shipevents.AppendResult {
	e.Helper()
	return e.appendRecords(shipevents.AppendRecord{Event: ev, Deliveries: ds})[0]
}

// seed appends one order event with a delivery per time in next (each to
// its own subscription) and returns the event and the delivery ids in
// that order.
func (e *env) seed(next ...time.Time) (shipevents.Event, []string) {
	e.Helper()
	ev := e.orderEvent(base)
	ds := make([]shipevents.NewDelivery, len(next))
	ids := make([]string, len(next))
	for i, t := range next {
		ds[i] = nd(ev, newID("sub"), t)
		ids[i] = ds[i].ID
	}
	r := e.appendOne(ev, ds...)
	if r.Outcome != shipevents.AppendNew || r.Deliveries != len(ds) {
		e.fatalf("AppendEvents stores a new event with all its deliveries", "got outcome %v with %d deliveries, want new with %d", r.Outcome, r.Deliveries, len(ds))
	}
	return ev, ids
}

// key returns the key of the case tenant's event id.
func (e *env) key(id string) shipevents.EventKey {
	return shipevents.EventKey{TenantID: e.tenant, ID: id}
}

func (e *env) getEvent(k shipevents.EventKey) shipevents.StoredEvent {
	e.Helper()
	se, err := e.s.GetEvent(e.ctx, k)
	e.noErr(err, "GetEvent of a stored event")
	if se.Event.Key() != k {
		e.fatalf("GetEvent returns the event with the given key (tenant and id)", "got event %s, want %s", se.Event.Key(), k)
	}
	return se
}

func (e *env) listEvents(f shipevents.EventFilter) shipevents.Page[shipevents.StoredEvent] {
	e.Helper()
	p, err := e.s.ListEvents(e.ctx, f)
	e.noErr(err, "ListEvents")
	return p
}

func (e *env) listDeliveries(f shipevents.DeliveryFilter) shipevents.Page[shipevents.Delivery] {
	e.Helper()
	p, err := e.s.ListDeliveries(e.ctx, f)
	e.noErr(err, "ListDeliveries")
	return p
}

// delivery returns the delivery with the given id as ListDeliveries lists
// it under its event.
func (e *env) delivery(id string) shipevents.Delivery {
	e.Helper()
	k := e.evOf[id]
	p := e.listDeliveries(shipevents.DeliveryFilter{TenantID: k.TenantID, EventID: k.ID, Limit: shipevents.MaxPageSize})
	for _, d := range p.Items {
		if d.ID == id {
			return d
		}
	}
	e.fatalf("ListDeliveries with TenantID and EventID lists every delivery created with the event", "delivery %s of event %s is not listed", id, k)
	return shipevents.Delivery{}
}

func (e *env) claimFor(now time.Time, d time.Duration, limit int) []shipevents.Claim {
	e.Helper()
	cl, err := e.s.ClaimDeliveries(e.ctx, shipevents.ClaimRequest{Now: now, Lease: d, Limit: limit, Owner: "storetest"})
	e.noErr(err, "ClaimDeliveries")
	if len(cl) > limit {
		e.errorf("ClaimDeliveries leases up to req.Limit deliveries", "got %d claims with Limit %d", len(cl), limit)
	}
	return cl
}

func (e *env) claim(now time.Time, limit int) []shipevents.Claim {
	e.Helper()
	return e.claimFor(now, lease, limit)
}

// claimOne claims at now and expects exactly the delivery id.
func (e *env) claimOne(now time.Time, id, rule string) shipevents.Claim {
	e.Helper()
	cl := e.claim(now, 10)
	if len(cl) != 1 || cl[0].Delivery.ID != id {
		e.fatalf(rule, "claim at %s got %v, want [%s]", now.Format(time.RFC3339), claimIDs(cl), id)
	}
	return cl[0]
}

func (e *env) record(recs ...shipevents.AttemptRecord) []error {
	e.Helper()
	errs, err := e.s.RecordAttempts(e.ctx, recs)
	e.noErr(err, "RecordAttempts")
	if len(errs) != len(recs) {
		e.fatalf("RecordAttempts returns one error per record, aligned with records", "got %d errors for %d records", len(errs), len(recs))
	}
	return errs
}

func (e *env) extend(until time.Time, leases ...shipevents.Lease) []error {
	e.Helper()
	errs, err := e.s.ExtendLeases(e.ctx, leases, until)
	e.noErr(err, "ExtendLeases")
	if len(errs) != len(leases) {
		e.fatalf("ExtendLeases returns one error per lease, aligned with leases", "got %d errors for %d leases", len(errs), len(leases))
	}
	return errs
}

func (e *env) attempts(id string) []shipevents.Attempt {
	e.Helper()
	as, err := e.s.ListAttempts(e.ctx, id)
	e.noErr(err, "ListAttempts of a known delivery")
	return as
}

func (e *env) shipmentState(k shipevents.ShipmentKey) shipevents.ShipmentState {
	e.Helper()
	st, err := e.s.ShipmentState(e.ctx, k)
	e.noErr(err, "ShipmentState of a shipment with events")
	return st
}

// attemptRecord builds a record for c's lease with a plausible attempt.
func attemptRecord(c shipevents.Claim, outcome shipevents.AttemptOutcome, next time.Time, status int, errText string) shipevents.AttemptRecord {
	return shipevents.AttemptRecord{
		Lease:         c.Lease,
		Outcome:       outcome,
		NextAttemptAt: next,
		Attempt: shipevents.Attempt{
			DeliveryID: c.Delivery.ID,
			Number:     c.Delivery.Attempts + 1,
			StartedAt:  c.Lease.ExpiresAt.Add(-lease).Add(time.Second),
			Duration:   250 * time.Millisecond,
			StatusCode: status,
			Error:      errText,
			Response:   "body of " + string(outcome),
		},
	}
}

func succeed(c shipevents.Claim) shipevents.AttemptRecord {
	return attemptRecord(c, shipevents.OutcomeSucceeded, time.Time{}, 204, "")
}

func claimIDs(cl []shipevents.Claim) []string {
	out := make([]string, len(cl))
	for i, c := range cl {
		out[i] = c.Delivery.ID
	}
	return out
}

func eventIDs(items []shipevents.StoredEvent) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.Event.ID
	}
	return out
}

func deliveryIDs(items []shipevents.Delivery) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func reversed(s []string) []string {
	out := slices.Clone(s)
	slices.Reverse(out)
	return out
}

// checkState compares the fields of a listed delivery that a rule fixes.
func (e *env) checkState(rule string, d shipevents.Delivery, state shipevents.DeliveryState, attempts int) {
	e.Helper()
	if d.State != state {
		e.errorf(rule, "delivery %s: State = %q, want %q", d.ID, d.State, state)
	}
	if d.Attempts != attempts {
		e.errorf(rule, "delivery %s: Attempts = %d, want %d", d.ID, d.Attempts, attempts)
	}
	if state != shipevents.DeliveryInFlight && !d.LeaseExpiresAt.IsZero() {
		e.errorf("Delivery.LeaseExpiresAt is zero unless in flight", "delivery %s in state %s has LeaseExpiresAt %s", d.ID, d.State, d.LeaseExpiresAt)
	}
}

func isLost(err error) bool { return errors.Is(err, shipevents.ErrLeaseLost) }
