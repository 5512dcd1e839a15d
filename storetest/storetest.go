package storetest

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/shipevents/shipevents"
)

// Run runs the conformance suite against the stores newStore makes: one
// subtest per rule of the [shipevents.Store] contract, each on a fresh store.
//
// newStore must return an empty store that no other test uses at the same
// time (the claim cases expect to see only their own deliveries). It may
// register cleanup with t.Cleanup. Cases do not call t.Parallel.
func Run(t *testing.T, newStore func(t *testing.T) shipevents.Store) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := newStore(t)
			if s == nil {
				t.Fatal("storetest: newStore returned a nil Store")
			}
			c.run(&env{
				T:      t,
				ctx:    t.Context(),
				s:      s,
				c:      c,
				tenant: "tenant-" + uuid.NewString(),
				evOf:   map[string]string{},
			})
		})
	}
}

// testCase is one rule of the contract. explanation is the rule in words,
// with the file:line of the case appended by withSource.
type testCase struct {
	name        string
	explanation string
	run         func(e *env)
}

// withSource appends the file:line of its caller (the case's entry in the
// cases table) to s, as testing/slogtest does.
func withSource(s string) string {
	_, file, line, ok := runtime.Caller(1)
	if !ok {
		return s
	}
	return fmt.Sprintf("%s (%s:%d)", s, file, line)
}

var cases = []testCase{
	// AppendEvents: outcomes, idempotency, the outbox.
	{"AppendNew", withSource("EventStore.AppendEvents: the first append of an event id stores it with its deliveries and reports AppendNew"), testAppendNew},
	{"AppendDuplicate", withSource("EventStore.AppendEvents: a record whose event id is already stored writes nothing and reports AppendDuplicate"), testAppendDuplicate},
	{"AppendDuplicateInBatch", withSource("EventStore.AppendEvents: records are stored in order, so a repeated id later in the same call is a duplicate"), testAppendDuplicateInBatch},
	{"AppendConcurrentDuplicates", withSource("EventStore.AppendEvents: idempotency holds when the same event is appended concurrently"), testAppendConcurrentDuplicates},
	{"AppendBatchResults", withSource("EventStore.AppendEvents: the results are in the order of records"), testAppendBatchResults},
	{"Outbox", withSource("EventStore.AppendEvents: an event is stored together with its deliveries (the outbox rule)"), testOutbox},
	{"SeqIncreases", withSource("StoredEvent.Seq is the store's append order, increasing"), testSeqIncreases},
	{"EventRoundTrip", withSource("EventStore: a stored event reads back exactly as appended"), testEventRoundTrip},

	// The ordering rule.
	{"LateAfterTerminal", withSource("EventStore.AppendEvents: a terminal status is never replaced by a non-terminal one; such an event is AppendLate"), testLateAfterTerminal},
	{"LateEarlierOccurredAt", withSource("EventStore.AppendEvents: an event with an earlier occurred_at does not supersede the shipment's state and is AppendLate"), testLateEarlier},
	{"SameInstant", withSource("EventStore.AppendEvents: at the same instant a terminal status wins, and the same kind of status keeps the current one (Supersedes)"), testSameInstant},
	{"OnlyIfCurrentDropped", withSource("EventStore.AppendEvents: deliveries with OnlyIfCurrent are not created for a late event; the others are"), testOnlyIfCurrentDropped},
	{"NoShipmentKeyAlwaysNew", withSource("EventStore.AppendEvents: events without a shipment key are always AppendNew"), testNoShipmentKeyAlwaysNew},
	{"ShipmentKeyIsTenantCarrierTracking", withSource("ShipmentKey: tenant, carrier and tracking number together name a shipment; the ordering rule applies per shipment"), testShipmentKey},
	{"ShipmentStateNotFound", withSource("ShipmentStore.ShipmentState: an unknown shipment is an error wrapping ErrNotFound"), testShipmentStateNotFound},

	// ClaimDeliveries and leases.
	{"ClaimDue", withSource("DeliveryQueue.ClaimDeliveries: leases pending deliveries whose NextAttemptAt is at or before req.Now, with a fresh token, LeaseExpiresAt = Now + Lease and the event"), testClaimDue},
	{"ClaimLimit", withSource("DeliveryQueue.ClaimDeliveries: leases up to req.Limit deliveries"), testClaimLimit},
	{"ClaimOrder", withSource("DeliveryQueue.ClaimDeliveries: deliveries are claimed in NextAttemptAt order"), testClaimOrder},
	{"ClaimOrderWithExpiredLeases", withSource("DeliveryQueue.ClaimDeliveries: expired in-flight deliveries are claimed with the pending ones in NextAttemptAt order"), testClaimOrderExpired},
	{"LeaseExcludesClaimers", withSource("DeliveryQueue.ClaimDeliveries: while a lease holds, no other call claims the delivery"), testLeaseExcludes},
	{"ConcurrentClaimers", withSource("DeliveryQueue.ClaimDeliveries: concurrent claimers never claim the same delivery while its lease holds"), testConcurrentClaimers},
	{"LeaseExpiry", withSource("DeliveryQueue.ClaimDeliveries: an in-flight delivery whose lease expired before req.Now is claimed again, with a new token"), testLeaseExpiry},
	{"Fencing", withSource("DeliveryQueue.RecordAttempts: a record whose lease was lost (expired and claimed again) changes nothing and gets ErrLeaseLost"), testFencing},
	{"FencingPerRecord", withSource("DeliveryQueue.RecordAttempts: errors are per record, aligned with records; the held leases are recorded"), testFencingPerRecord},
	{"ExpiredLeaseNotReclaimed", withSource("ErrLeaseLost / Lease: fencing is by token; a lease that expired but was not claimed again may still record"), testExpiredLeaseNotReclaimed},
	{"OutcomeEndsLease", withSource("DeliveryQueue.RecordAttempts: recording an outcome ends the lease; the same lease cannot record twice"), testOutcomeEndsLease},
	{"ExtendLeases", withSource("DeliveryQueue.ExtendLeases: moves a held lease's expiry to until; leases no longer held are reported with ErrLeaseLost"), testExtendLeases},

	// RecordAttempts outcomes.
	{"OutcomeSucceeded", withSource("DeliveryQueue.RecordAttempts: OutcomeSucceeded moves the delivery to succeeded and appends the attempt"), testOutcomeSucceeded},
	{"OutcomeRetry", withSource("DeliveryQueue.RecordAttempts: OutcomeRetry makes the delivery pending again at NextAttemptAt and appends the attempt"), testOutcomeRetry},
	{"OutcomeDead", withSource("DeliveryQueue.RecordAttempts: OutcomeDead moves the delivery to dead (dead letter) and appends the attempt"), testOutcomeDead},
	{"OutcomeReleased", withSource("DeliveryQueue.RecordAttempts: OutcomeReleased makes the delivery pending at NextAttemptAt with no attempt counted"), testOutcomeReleased},
	{"PendingDeliveriesCount", withSource("StoredEvent.PendingDeliveries counts the event's deliveries not yet succeeded or dead"), testPendingDeliveriesCount},

	// DeliveryLog.
	{"Requeue", withSource("DeliveryLog.RequeueDeliveries: makes deliveries pending again at `at` whatever their state, keeps history, skips unknown ids and returns the count"), testRequeue},
	{"RequeueRevokesLease", withSource("DeliveryLog.RequeueDeliveries: any lease held on a requeued delivery is revoked (its holder gets ErrLeaseLost)"), testRequeueRevokesLease},
	{"ListAttempts", withSource("DeliveryLog.ListAttempts: every recorded attempt, oldest first; an unknown delivery is an error wrapping ErrNotFound"), testListAttempts},
	{"ListDeliveriesPagination", withSource("DeliveryLog.ListDeliveries: pages are oldest first (by creation order); After continues to newer deliveries"), testListDeliveriesPagination},
	{"ListDeliveriesFilters", withSource("DeliveryFilter: each set field filters (EventID, SubscriptionID, State); zero fields do not"), testListDeliveriesFilters},

	// GetEvent and ListEvents.
	{"GetEventNotFound", withSource("EventStore.GetEvent: an unknown id is an error wrapping ErrNotFound"), testGetEventNotFound},
	{"ListEventsTypes", withSource("EventFilter.Types: an event matches when its type is one of Types"), testListEventsTypes},
	{"ListEventsRefPattern", withSource("EventFilter.RefPattern: an event matches when its ref matches the pattern as MatchRef"), testListEventsRefPattern},
	{"ListEventsTenantID", withSource("EventFilter.TenantID: an event matches when its tenant equals TenantID"), testListEventsTenantID},
	{"ListEventsCarrier", withSource("EventFilter.Carrier: an event matches when its carrier equals Carrier"), testListEventsCarrier},
	{"ListEventsTrackingNumber", withSource("EventFilter.TrackingNumber: an event matches when its tracking number equals TrackingNumber"), testListEventsTrackingNumber},
	{"ListEventsCorrelationID", withSource("EventFilter.CorrelationID: an event matches when its correlation id equals CorrelationID"), testListEventsCorrelationID},
	{"ListEventsOccurredRange", withSource("EventFilter.OccurredAfter is inclusive, OccurredBefore exclusive"), testListEventsOccurredRange},
	{"ListEventsFiltersCombine", withSource("EventFilter: set fields combine (every one must match)"), testListEventsFiltersCombine},
	{"ListEventsPagination", withSource("EventStore.ListEvents: pages are newest first; After continues to older events; PageInfo describes where the page sits"), testListEventsPagination},
	{"ListEventsPageBack", withSource("EventFilter.Before goes back to newer events: passing a page's StartCursor returns the previous page"), testListEventsPageBack},
	{"ListEventsCursorStable", withSource("EventFilter.After: a cursor continues after its event even when events were appended since"), testListEventsCursorStable},
	{"InvalidCursor", withSource("ErrInvalidCursor: a pagination cursor this store did not issue is an error wrapping ErrInvalidCursor"), testInvalidCursor},
	{"PageLimit", withSource("EventFilter.Limit: default 50 (DefaultPageSize), at most 1000 (MaxPageSize), as PageLimit"), testPageLimit},

	// Subscriptions.
	{"Subscriptions", withSource("SubscriptionStore: put creates or replaces, list returns all sorted by id, delete removes or reports ErrNotFound"), testSubscriptions},
	{"DeleteSubscriptionKeepsDeliveries", withSource("SubscriptionStore.DeleteSubscription: the subscription's pending deliveries stay"), testDeleteSubscriptionKeepsDeliveries},

	// Optional capabilities: checked when the store has them.
	{"AddDeliveries", withSource("DeliveryAdder.AddDeliveries (optional): creates the stored event's deliveries that do not exist, pending, returns how many, ignores existing ids, and fails with ErrNotFound for an unknown event"), testAddDeliveries},

	// Store-wide rules.
	{"NoAliasingEvents", withSource("Store: events passed in are not retained and events returned do not alias the store's state"), testNoAliasingEvents},
	{"NoAliasingSubscriptions", withSource("Store: subscriptions passed in are not retained and subscriptions returned do not alias the store's state"), testNoAliasingSubscriptions},
	{"NoAliasingDeliveries", withSource("Store: deliveries and attempts returned do not alias the store's state"), testNoAliasingDeliveries},
	{"CancelledContext", withSource("Store: every method honours ctx cancellation"), testCancelledContext},
}

// ---------------------------------------------------------------------------
// The test environment: one per case.

// env is what a case works with: the test, the store, a live ctx, the
// case's unique tenant, and which event each delivery id was created with.
type env struct {
	*testing.T
	ctx    context.Context
	s      shipevents.Store
	c      testCase
	tenant string
	evOf   map[string]string // delivery id → event id
}

// errorf reports a broken rule: "rule: <rule>: <detail>" followed by the
// case's explanation and source.
func (e *env) errorf(rule, format string, args ...any) {
	e.Helper()
	e.Errorf("rule: %s: %s\n\tcase: %s", rule, fmt.Sprintf(format, args...), e.c.explanation)
}

// fatalf is errorf that stops the case.
func (e *env) fatalf(rule, format string, args ...any) {
	e.Helper()
	e.Fatalf("rule: %s: %s\n\tcase: %s", rule, fmt.Sprintf(format, args...), e.c.explanation)
}

// noErr stops the case when a call that must succeed failed.
func (e *env) noErr(err error, call string) {
	e.Helper()
	if err != nil {
		e.fatalf(call+" must succeed here", "unexpected error: %v", err)
	}
}

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
		EventGroups:   []string{"delivered"},
		Types:         []string{shipevents.TypeTrackingUpdated},
		Conditions: []shipevents.Condition{
			{Field: "carrier", Op: shipevents.OpIn, Values: []string{"ups", "dhl"}},
			{Field: "metadata.channel", Op: shipevents.OpExists},
		},
		Active:      true,
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
	return shipevents.NewDelivery{ID: shipevents.DeliveryID(ev.ID, sub), SubscriptionID: sub, NextAttemptAt: next}
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
				e.evOf[d.ID] = r.Event.ID
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

func (e *env) getEvent(id string) shipevents.StoredEvent {
	e.Helper()
	se, err := e.s.GetEvent(e.ctx, id)
	e.noErr(err, "GetEvent of a stored event")
	if se.Event.ID != id {
		e.fatalf("GetEvent returns the event with the given id", "got event %q, want %q", se.Event.ID, id)
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
	evID := e.evOf[id]
	p := e.listDeliveries(shipevents.DeliveryFilter{EventID: evID, Limit: shipevents.MaxPageSize})
	for _, d := range p.Items {
		if d.ID == id {
			return d
		}
	}
	e.fatalf("ListDeliveries with EventID lists every delivery created with the event", "delivery %s of event %s is not listed", id, evID)
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

// ---------------------------------------------------------------------------
// Field-by-field comparison.

var (
	timeType    = reflect.TypeFor[time.Time]()
	timePtrType = reflect.TypeFor[*time.Time]()
	dataType    = reflect.TypeFor[shipevents.EventData]()
)

// diffFields compares the exported fields of two structs of one type and
// returns a line per difference. Times compare with Equal; nil and empty
// maps and slices are equal; EventData is compared field by field.
func diffFields(prefix string, got, want reflect.Value, skip ...string) []string {
	var out []string
	t := got.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() || slices.Contains(skip, f.Name) {
			continue
		}
		g, w := got.Field(i), want.Field(i)
		name := prefix + f.Name
		switch f.Type {
		case timeType:
			if !g.Interface().(time.Time).Equal(w.Interface().(time.Time)) {
				out = append(out, fmt.Sprintf("%s: got %v, want %v", name, g.Interface(), w.Interface()))
			}
			continue
		case timePtrType:
			gp, wp := g.Interface().(*time.Time), w.Interface().(*time.Time)
			if (gp == nil) != (wp == nil) || (gp != nil && !gp.Equal(*wp)) {
				out = append(out, fmt.Sprintf("%s: got %s, want %s", name, show(g), show(w)))
			}
			continue
		case dataType:
			out = append(out, diffFields(name+".", g, w)...)
			continue
		}
		if (g.Kind() == reflect.Map || g.Kind() == reflect.Slice) && g.Len() == 0 && w.Len() == 0 {
			continue
		}
		if !reflect.DeepEqual(g.Interface(), w.Interface()) {
			out = append(out, fmt.Sprintf("%s: got %s, want %s", name, show(g), show(w)))
		}
	}
	return out
}

func show(v reflect.Value) string {
	if v.Kind() == reflect.Pointer && !v.IsNil() {
		return fmt.Sprintf("&%+v", v.Elem().Interface())
	}
	return fmt.Sprintf("%#v", v.Interface())
}

func diffEvent(got, want shipevents.Event) []string {
	return diffFields("", reflect.ValueOf(got), reflect.ValueOf(want))
}

// diffSubscription ignores CreatedAt and UpdatedAt, which a store may set.
func diffSubscription(got, want shipevents.Subscription) []string {
	return diffFields("", reflect.ValueOf(got), reflect.ValueOf(want), "CreatedAt", "UpdatedAt")
}

func (e *env) sameEvent(rule string, got, want shipevents.Event) {
	e.Helper()
	if d := diffEvent(got, want); len(d) > 0 {
		e.errorf(rule, "event %s differs:\n\t\t%s", want.ID, strings.Join(d, "\n\t\t"))
	}
}

// ---------------------------------------------------------------------------
// AppendEvents.

func testAppendNew(e *env) {
	ev := e.shipmentEvent(shipevents.StatusInTransit, newID("trk"), at(time.Hour))
	d := nd(ev, newID("sub"), at(0))
	r := e.appendOne(ev, d)
	if r.EventID != ev.ID {
		e.errorf("AppendResult.EventID is the record's event id", "got %q, want %q", r.EventID, ev.ID)
	}
	if r.Outcome != shipevents.AppendNew {
		e.errorf("the first append of an event id reports AppendNew", "got %v, want new", r.Outcome)
	}
	if r.Deliveries != 1 {
		e.errorf("AppendResult.Deliveries counts the deliveries created", "got %d, want 1", r.Deliveries)
	}
	got := e.getEvent(ev.ID)
	if got.Late {
		e.errorf("an event that supersedes its shipment's state is not marked late", "StoredEvent.Late = true")
	}
	if got.StoredAt.IsZero() {
		e.errorf("a stored event has StoredAt set", "StoredEvent.StoredAt is zero")
	}
	if got.PendingDeliveries != 1 {
		e.errorf("StoredEvent.PendingDeliveries counts the event's deliveries not yet succeeded or dead", "got %d, want 1", got.PendingDeliveries)
	}
	st := e.shipmentState(ev.Shipment())
	want := shipevents.ShipmentState{Key: ev.Shipment(), Status: ev.Status, EventName: ev.EventName, EventID: ev.ID, OccurredAt: ev.OccurredAt}
	if d := diffFields("", reflect.ValueOf(st), reflect.ValueOf(want), "UpdatedAt"); len(d) > 0 {
		e.errorf("AppendNew moves the shipment's state to the event", "ShipmentState differs:\n\t\t%s", strings.Join(d, "\n\t\t"))
	}
}

func testAppendDuplicate(e *env) {
	ev := e.shipmentEvent(shipevents.StatusInTransit, newID("trk"), at(time.Hour))
	sub1, sub2 := newID("sub"), newID("sub")
	e.appendOne(ev, nd(ev, sub1, at(0)))

	dup := ev.Clone()
	dup.Metadata = map[string]string{"changed": "yes"}
	dup.OccurredAt = at(2 * time.Hour) // would supersede, were it new
	r := e.appendOne(dup, nd(ev, sub1, at(0)), nd(ev, sub2, at(0)))
	if r.Outcome != shipevents.AppendDuplicate {
		e.errorf("a second append of an event id reports AppendDuplicate", "got %v, want duplicate", r.Outcome)
	}
	if r.EventID != ev.ID {
		e.errorf("AppendResult.EventID is the record's event id", "got %q, want %q", r.EventID, ev.ID)
	}
	if r.Deliveries != 0 {
		e.errorf("a duplicate append must not create deliveries", "AppendResult.Deliveries = %d, want 0", r.Deliveries)
	}
	ds := e.listDeliveries(shipevents.DeliveryFilter{EventID: ev.ID})
	if len(ds.Items) != 1 {
		e.errorf("a duplicate append must not create deliveries", "got %d deliveries, want 1", len(ds.Items))
	}
	e.sameEvent("a duplicate append writes nothing: the stored event must stay as first appended", e.getEvent(ev.ID).Event, ev)
	if p := e.listEvents(shipevents.EventFilter{}); p.PageInfo.Count != 1 || len(p.Items) != 1 {
		e.errorf("a duplicate append must not store a second event", "ListEvents has %d items, Count %d; want 1", len(p.Items), p.PageInfo.Count)
	}
	if st := e.shipmentState(ev.Shipment()); !st.OccurredAt.Equal(ev.OccurredAt) {
		e.errorf("a duplicate append must not move the shipment's state", "ShipmentState.OccurredAt = %s, want %s", st.OccurredAt, ev.OccurredAt)
	}
}

func testAppendDuplicateInBatch(e *env) {
	ev := e.orderEvent(base)
	sub1, sub2 := newID("sub"), newID("sub")
	res := e.appendRecords(
		shipevents.AppendRecord{Event: ev, Deliveries: []shipevents.NewDelivery{nd(ev, sub1, base)}},
		shipevents.AppendRecord{Event: ev, Deliveries: []shipevents.NewDelivery{nd(ev, sub2, base)}},
	)
	if res[0].Outcome != shipevents.AppendNew || res[1].Outcome != shipevents.AppendDuplicate {
		e.errorf("the same event id twice in one call is new, then duplicate", "got outcomes %v, %v; want new, duplicate", res[0].Outcome, res[1].Outcome)
	}
	if ds := e.listDeliveries(shipevents.DeliveryFilter{EventID: ev.ID}); len(ds.Items) != 1 || ds.Items[0].SubscriptionID != sub1 {
		e.errorf("a duplicate append must not create deliveries", "got deliveries %v, want only the one to %s", deliveryIDs(ds.Items), sub1)
	}
}

func testAppendConcurrentDuplicates(e *env) {
	ev := e.orderEvent(base)
	sub := newID("sub")
	e.evOf[shipevents.DeliveryID(ev.ID, sub)] = ev.ID
	const n = 8
	outcomes := make([]shipevents.AppendOutcome, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			rec := shipevents.AppendRecord{Event: ev.Clone(), Deliveries: []shipevents.NewDelivery{nd(ev, sub, base)}}
			res, err := e.s.AppendEvents(e.ctx, []shipevents.AppendRecord{rec})
			errs[i] = err
			if err == nil && len(res) == 1 {
				outcomes[i] = res[0].Outcome
			}
		})
	}
	wg.Wait()
	e.noErr(errors.Join(errs...), "AppendEvents (concurrent)")
	var news, dups int
	for _, o := range outcomes {
		switch o {
		case shipevents.AppendNew:
			news++
		case shipevents.AppendDuplicate:
			dups++
		}
	}
	if news != 1 || dups != n-1 {
		e.errorf("exactly one of concurrent appends of one event id is new, the rest duplicates", "got %d new and %d duplicate of %d", news, dups, n)
	}
	if ds := e.listDeliveries(shipevents.DeliveryFilter{EventID: ev.ID}); len(ds.Items) != 1 {
		e.errorf("a duplicate append must not create deliveries", "got %d deliveries after %d concurrent appends, want 1", len(ds.Items), n)
	}
	if p := e.listEvents(shipevents.EventFilter{}); p.PageInfo.Count != 1 {
		e.errorf("a duplicate append must not store a second event", "ListEvents Count = %d, want 1", p.PageInfo.Count)
	}
}

func testAppendBatchResults(e *env) {
	trk := newID("trk")
	old := e.orderEvent(base)
	e.appendOne(old)
	a := e.orderEvent(at(time.Hour))
	b := e.shipmentEvent(shipevents.StatusInTransit, trk, at(time.Hour))
	c := e.shipmentEvent(shipevents.StatusDelivered, trk, at(2*time.Hour))
	d := e.shipmentEvent(shipevents.StatusInTransit, trk, at(3*time.Hour))
	s1, s2 := newID("sub"), newID("sub")
	res := e.appendRecords(
		shipevents.AppendRecord{Event: a, Deliveries: []shipevents.NewDelivery{nd(a, s1, base)}},
		shipevents.AppendRecord{Event: b, Deliveries: []shipevents.NewDelivery{nd(b, s1, base), nd(b, s2, base)}},
		shipevents.AppendRecord{Event: old, Deliveries: []shipevents.NewDelivery{nd(old, s1, base)}},
		shipevents.AppendRecord{Event: c},
		shipevents.AppendRecord{Event: d, Deliveries: []shipevents.NewDelivery{ndCurrent(d, s1, base), nd(d, s2, base)}},
	)
	want := []shipevents.AppendResult{
		{EventID: a.ID, Outcome: shipevents.AppendNew, Deliveries: 1},
		{EventID: b.ID, Outcome: shipevents.AppendNew, Deliveries: 2},
		{EventID: old.ID, Outcome: shipevents.AppendDuplicate, Deliveries: 0},
		{EventID: c.ID, Outcome: shipevents.AppendNew, Deliveries: 0},
		{EventID: d.ID, Outcome: shipevents.AppendLate, Deliveries: 1},
	}
	for i := range want {
		if res[i] != want[i] {
			e.errorf("the results are in the order of records, each saying what happened to its record", "result %d = %+v, want %+v", i, res[i], want[i])
		}
	}
}

func testOutbox(e *env) {
	ev := e.orderEvent(base)
	s1, s2 := newID("sub"), newID("sub")
	want := []shipevents.NewDelivery{nd(ev, s1, at(time.Minute)), nd(ev, s2, at(2*time.Minute))}
	e.appendOne(ev, want...)
	p := e.listDeliveries(shipevents.DeliveryFilter{EventID: ev.ID})
	if len(p.Items) != 2 || p.PageInfo.Count != 2 {
		e.fatalf("an event is stored together with its deliveries (the outbox rule)", "ListDeliveries{EventID} has %d items, Count %d; want 2", len(p.Items), p.PageInfo.Count)
	}
	for _, w := range want {
		i := slices.IndexFunc(p.Items, func(d shipevents.Delivery) bool { return d.ID == w.ID })
		if i < 0 {
			e.errorf("a delivery is stored with the id given in NewDelivery.ID", "delivery %s not listed; got %v", w.ID, deliveryIDs(p.Items))
			continue
		}
		d := p.Items[i]
		rule := "a new delivery is pending at its NextAttemptAt, for its event and subscription, with no attempts"
		if d.EventID != ev.ID || d.SubscriptionID != w.SubscriptionID {
			e.errorf(rule, "delivery %s: EventID %q, SubscriptionID %q; want %q, %q", d.ID, d.EventID, d.SubscriptionID, ev.ID, w.SubscriptionID)
		}
		if !d.NextAttemptAt.Equal(w.NextAttemptAt) {
			e.errorf(rule, "delivery %s: NextAttemptAt %s, want %s", d.ID, d.NextAttemptAt, w.NextAttemptAt)
		}
		e.checkState(rule, d, shipevents.DeliveryPending, 0)
		if d.CreatedAt.IsZero() {
			e.errorf("a stored delivery has CreatedAt set", "delivery %s: CreatedAt is zero", d.ID)
		}
		if _, err := e.s.GetEvent(e.ctx, d.EventID); err != nil {
			e.errorf("never a delivery without its event (the outbox rule)", "GetEvent(%s) of delivery %s: %v", d.EventID, d.ID, err)
		}
	}
	if got := e.getEvent(ev.ID).PendingDeliveries; got != 2 {
		e.errorf("StoredEvent.PendingDeliveries counts the event's deliveries not yet succeeded or dead", "GetEvent: got %d, want 2", got)
	}
	if l := e.listEvents(shipevents.EventFilter{}); len(l.Items) != 1 || l.Items[0].PendingDeliveries != 2 {
		e.errorf("StoredEvent.PendingDeliveries counts the event's deliveries not yet succeeded or dead", "ListEvents: got %d items, want 1 with PendingDeliveries 2", len(l.Items))
	}
	bare := e.orderEvent(base)
	if r := e.appendOne(bare); r.Outcome != shipevents.AppendNew || r.Deliveries != 0 {
		e.errorf("an event without deliveries is stored with none", "got %+v", r)
	}
	if got := e.getEvent(bare.ID).PendingDeliveries; got != 0 {
		e.errorf("StoredEvent.PendingDeliveries counts the event's deliveries not yet succeeded or dead", "event without deliveries: got %d, want 0", got)
	}
}

func testSeqIncreases(e *env) {
	var ids []string
	var last int64
	for i := range 5 {
		ev := e.orderEvent(at(time.Duration(5-i) * time.Hour)) // occurred_at decreasing: order is by append
		e.appendOne(ev)
		ids = append(ids, ev.ID)
		se := e.getEvent(ev.ID)
		if i > 0 && se.Seq <= last {
			e.errorf("StoredEvent.Seq is the store's append order, increasing", "event %d has Seq %d after Seq %d", i, se.Seq, last)
		}
		last = se.Seq
	}
	p := e.listEvents(shipevents.EventFilter{Limit: 10})
	if got, want := eventIDs(p.Items), reversed(ids); !slices.Equal(got, want) {
		e.errorf("ListEvents is newest first (by append order)", "got %v, want %v", got, want)
	}
	for i := 1; i < len(p.Items); i++ {
		if p.Items[i].Seq >= p.Items[i-1].Seq {
			e.errorf("ListEvents is newest first (by append order)", "item %d has Seq %d after Seq %d", i, p.Items[i].Seq, p.Items[i-1].Seq)
		}
	}
}

func testEventRoundTrip(e *env) {
	id, trk := newID("evt"), newID("trk")
	ev := e.fullEvent(id, trk)
	sub := newID("sub")
	e.appendOne(ev, nd(ev, sub, base))
	want := e.fullEvent(id, trk)
	e.sameEvent("GetEvent returns the event exactly as appended", e.getEvent(id).Event, want)
	p := e.listEvents(shipevents.EventFilter{})
	if len(p.Items) != 1 {
		e.fatalf("ListEvents lists every stored event", "got %d items, want 1", len(p.Items))
	}
	e.sameEvent("ListEvents returns the event exactly as appended", p.Items[0].Event, want)
	cl := e.claim(base, 10)
	if len(cl) != 1 {
		e.fatalf("ClaimDeliveries leases due pending deliveries", "got %d claims, want 1", len(cl))
	}
	e.sameEvent("ClaimDeliveries returns each delivery's event exactly as appended", cl[0].Event, want)
}

// ---------------------------------------------------------------------------
// The ordering rule.

func testLateAfterTerminal(e *env) {
	trk := newID("trk")
	t1 := e.shipmentEvent(shipevents.StatusInTransit, trk, at(time.Hour))
	t2 := e.shipmentEvent(shipevents.StatusDelivered, trk, at(2*time.Hour))
	t3 := e.shipmentEvent(shipevents.StatusInTransit, trk, at(3*time.Hour))
	if r := e.appendOne(t1); r.Outcome != shipevents.AppendNew {
		e.errorf("the first event of a shipment is AppendNew", "IN_TRANSIT at t1: got %v, want new", r.Outcome)
	}
	if r := e.appendOne(t2); r.Outcome != shipevents.AppendNew {
		e.errorf("a later event supersedes the shipment's state (AppendNew)", "DELIVERED at t2 > t1: got %v, want new", r.Outcome)
	}
	if r := e.appendOne(t3); r.Outcome != shipevents.AppendLate {
		e.errorf("a terminal status is never replaced by a non-terminal one (AppendLate)", "IN_TRANSIT at t3 > t2 after DELIVERED: got %v, want late", r.Outcome)
	}
	st := e.shipmentState(t1.Shipment())
	if st.Status != shipevents.StatusDelivered || st.EventID != t2.ID || !st.OccurredAt.Equal(t2.OccurredAt) || st.EventName != t2.EventName {
		e.errorf("a late event does not move the shipment's state", "ShipmentState = %s %s (event %s at %s), want DELIVERED %s (event %s at %s)",
			st.Status, st.EventName, st.EventID, st.OccurredAt, t2.EventName, t2.ID, t2.OccurredAt)
	}
	if st.Key != t1.Shipment() {
		e.errorf("ShipmentState.Key is the shipment's key", "got %+v, want %+v", st.Key, t1.Shipment())
	}
	for _, c := range []struct {
		ev   shipevents.Event
		late bool
	}{{t1, false}, {t2, false}, {t3, true}} {
		if got := e.getEvent(c.ev.ID).Late; got != c.late {
			e.errorf("StoredEvent.Late marks exactly the events that did not supersede their shipment's state", "event %s (%s): Late = %v, want %v", c.ev.ID, c.ev.Status, got, c.late)
		}
	}
	p := e.listEvents(shipevents.EventFilter{Limit: 10})
	if len(p.Items) != 3 {
		e.fatalf("a late event is stored", "ListEvents has %d items, want 3", len(p.Items))
	}
	if !p.Items[0].Late || p.Items[1].Late || p.Items[2].Late {
		e.errorf("StoredEvent.Late marks exactly the events that did not supersede their shipment's state", "ListEvents Late flags = %v, %v, %v; want true, false, false", p.Items[0].Late, p.Items[1].Late, p.Items[2].Late)
	}
}

func testLateEarlier(e *env) {
	trk := newID("trk")
	cur := e.shipmentEvent(shipevents.StatusOutForDelivery, trk, at(2*time.Hour))
	early := e.shipmentEvent(shipevents.StatusInTransit, trk, at(time.Hour))
	e.appendOne(cur)
	if r := e.appendOne(early); r.Outcome != shipevents.AppendLate {
		e.errorf("an event with an earlier occurred_at than the shipment's state is AppendLate", "IN_TRANSIT at t1 after OUT_FOR_DELIVERY at t2 > t1: got %v, want late", r.Outcome)
	}
	if st := e.shipmentState(cur.Shipment()); st.EventID != cur.ID || st.Status != shipevents.StatusOutForDelivery {
		e.errorf("a late event does not move the shipment's state", "ShipmentState = %s (event %s), want OUT_FOR_DELIVERY (event %s)", st.Status, st.EventID, cur.ID)
	}
	later := e.shipmentEvent(shipevents.StatusFailedDelivery, trk, at(3*time.Hour))
	if r := e.appendOne(later); r.Outcome != shipevents.AppendNew {
		e.errorf("an event with a later occurred_at supersedes a non-terminal state (AppendNew)", "FAILED_DELIVERY at t3 after OUT_FOR_DELIVERY at t2: got %v, want new", r.Outcome)
	}
	if st := e.shipmentState(cur.Shipment()); st.EventID != later.ID {
		e.errorf("AppendNew moves the shipment's state to the event", "ShipmentState.EventID = %s, want %s", st.EventID, later.ID)
	}
}

func testSameInstant(e *env) {
	trk := newID("trk")
	first := e.shipmentEvent(shipevents.StatusInTransit, trk, at(time.Hour))
	replay := e.shipmentEvent(shipevents.StatusInTransit, trk, at(time.Hour))
	e.appendOne(first)
	if r := e.appendOne(replay); r.Outcome != shipevents.AppendLate {
		e.errorf("at the same instant, a status of the same kind keeps the current one (AppendLate)", "second IN_TRANSIT at the same occurred_at: got %v, want late", r.Outcome)
	}
	term := e.shipmentEvent(shipevents.StatusDelivered, trk, at(time.Hour))
	if r := e.appendOne(term); r.Outcome != shipevents.AppendNew {
		e.errorf("at the same instant, a terminal status wins over a non-terminal one (AppendNew)", "DELIVERED at the same occurred_at as IN_TRANSIT: got %v, want new", r.Outcome)
	}
	term2 := e.shipmentEvent(shipevents.StatusReturned, trk, at(time.Hour))
	if r := e.appendOne(term2); r.Outcome != shipevents.AppendLate {
		e.errorf("at the same instant, a status of the same kind keeps the current one (AppendLate)", "RETURNED at the same occurred_at as DELIVERED: got %v, want late", r.Outcome)
	}
	if st := e.shipmentState(first.Shipment()); st.EventID != term.ID {
		e.errorf("the shipment's state is the last event that superseded it", "ShipmentState.EventID = %s (%s), want %s (DELIVERED)", st.EventID, st.Status, term.ID)
	}
}

func testOnlyIfCurrentDropped(e *env) {
	trk := newID("trk")
	s1, s2 := newID("sub"), newID("sub")
	cur := e.shipmentEvent(shipevents.StatusDelivered, trk, at(2*time.Hour))
	if r := e.appendOne(cur, ndCurrent(cur, s1, base), nd(cur, s2, base)); r.Outcome != shipevents.AppendNew || r.Deliveries != 2 {
		e.errorf("deliveries with OnlyIfCurrent are created for an event that supersedes the state", "got %v with %d deliveries, want new with 2", r.Outcome, r.Deliveries)
	}
	late := e.shipmentEvent(shipevents.StatusInTransit, trk, at(3*time.Hour))
	r := e.appendOne(late, ndCurrent(late, s1, base), nd(late, s2, base))
	if r.Outcome != shipevents.AppendLate {
		e.errorf("a terminal status is never replaced by a non-terminal one (AppendLate)", "got %v, want late", r.Outcome)
	}
	if r.Deliveries != 1 {
		e.errorf("for a late event, deliveries with OnlyIfCurrent are dropped and the others created", "AppendResult.Deliveries = %d, want 1", r.Deliveries)
	}
	p := e.listDeliveries(shipevents.DeliveryFilter{EventID: late.ID})
	if got, want := deliveryIDs(p.Items), []string{shipevents.DeliveryID(late.ID, s2)}; !slices.Equal(got, want) {
		e.errorf("for a late event, deliveries with OnlyIfCurrent are dropped and the others created", "deliveries of the late event = %v, want %v (the one without OnlyIfCurrent)", got, want)
	}
	if got := e.getEvent(late.ID).PendingDeliveries; got != 1 {
		e.errorf("StoredEvent.PendingDeliveries counts the event's deliveries not yet succeeded or dead", "late event: got %d, want 1", got)
	}
	if cl := e.claim(base, 10); len(cl) != 3 {
		e.errorf("a dropped OnlyIfCurrent delivery is never claimed", "claimed %d deliveries, want 3 (2 of the current event, 1 of the late one)", len(cl))
	}
}

func testNoShipmentKeyAlwaysNew(e *env) {
	for i, d := range []time.Duration{3 * time.Hour, time.Hour, 2 * time.Hour} {
		ev := e.orderEvent(at(d))
		if r := e.appendOne(ev, ndCurrent(ev, newID("sub"), base)); r.Outcome != shipevents.AppendNew || r.Deliveries != 1 {
			e.errorf("events without a shipment key are always AppendNew", "order event %d (occurred_at falling): got %v with %d deliveries, want new with 1", i, r.Outcome, r.Deliveries)
		}
	}
	// Shipment events without a tracking number have no shipment key either.
	del := e.shipmentEvent(shipevents.StatusDelivered, "", at(2*time.Hour))
	it := e.shipmentEvent(shipevents.StatusInTransit, "", at(time.Hour))
	e.appendOne(del)
	if r := e.appendOne(it); r.Outcome != shipevents.AppendNew {
		e.errorf("events without a shipment key (no tracking number) are always AppendNew", "IN_TRANSIT without tracking number after DELIVERED without one: got %v, want new", r.Outcome)
	}
	for _, se := range e.listEvents(shipevents.EventFilter{}).Items {
		if se.Late {
			e.errorf("events without a shipment key are never late", "event %s is marked late", se.Event.ID)
		}
	}
}

func testShipmentKey(e *env) {
	trk := newID("trk")
	ups := e.shipmentEvent(shipevents.StatusDelivered, trk, at(2*time.Hour))
	fedex := e.shipmentEvent(shipevents.StatusInTransit, trk, at(time.Hour))
	fedex.Carrier = "fedex"
	other := e.shipmentEvent(shipevents.StatusInTransit, trk, at(time.Hour))
	other.TenantID = "other-" + e.tenant
	e.appendOne(ups)
	if r := e.appendOne(fedex); r.Outcome != shipevents.AppendNew {
		e.errorf("the shipment key includes the carrier: a recycled tracking number of another carrier is another shipment", "got %v, want new", r.Outcome)
	}
	if r := e.appendOne(other); r.Outcome != shipevents.AppendNew {
		e.errorf("the shipment key includes the tenant: another tenant's tracking number is another shipment", "got %v, want new", r.Outcome)
	}
	for _, ev := range []shipevents.Event{ups, fedex, other} {
		if st := e.shipmentState(ev.Shipment()); st.EventID != ev.ID || st.Key != ev.Shipment() {
			e.errorf("ShipmentState is kept per shipment key", "ShipmentState(%s) = event %s key %+v, want event %s", ev.Shipment(), st.EventID, st.Key, ev.ID)
		}
	}
}

func testShipmentStateNotFound(e *env) {
	e.appendOne(e.orderEvent(base))
	_, err := e.s.ShipmentState(e.ctx, shipevents.ShipmentKey{TenantID: e.tenant, Carrier: carrier, TrackingNumber: newID("trk")})
	if !errors.Is(err, shipevents.ErrNotFound) {
		e.errorf("ShipmentState of an unknown shipment is an error wrapping ErrNotFound", "got %v", err)
	}
}

// ---------------------------------------------------------------------------
// Claims and leases.

func testClaimDue(e *env) {
	ev, ids := e.seed(at(0), at(time.Minute), at(time.Hour))
	now := at(time.Minute)
	cl := e.claim(now, 10)
	if got := claimIDs(cl); !sameSet(got, ids[:2]) {
		e.fatalf("ClaimDeliveries leases pending deliveries whose NextAttemptAt is at or before req.Now, and no others", "claimed %v, want %v (due at now-1m and at now; not the one due at now+59m)", got, ids[:2])
	}
	tokens := map[string]bool{}
	for _, c := range cl {
		if c.Lease.DeliveryID != c.Delivery.ID {
			e.errorf("a claim's lease is for its delivery", "Lease.DeliveryID = %q, Delivery.ID = %q", c.Lease.DeliveryID, c.Delivery.ID)
		}
		if c.Lease.Token == "" || tokens[c.Lease.Token] {
			e.errorf("each claimed delivery gets a fresh lease token", "delivery %s: token %q is empty or repeated", c.Delivery.ID, c.Lease.Token)
		}
		tokens[c.Lease.Token] = true
		if want := now.Add(lease); !c.Lease.ExpiresAt.Equal(want) || !c.Delivery.LeaseExpiresAt.Equal(want) {
			e.errorf("a claimed delivery's LeaseExpiresAt is req.Now + req.Lease", "delivery %s: Lease.ExpiresAt %s, Delivery.LeaseExpiresAt %s; want %s", c.Delivery.ID, c.Lease.ExpiresAt, c.Delivery.LeaseExpiresAt, want)
		}
		if c.Delivery.State != shipevents.DeliveryInFlight || c.Delivery.Attempts != 0 {
			e.errorf("a claimed delivery is in flight, with its attempts so far", "delivery %s: State %q Attempts %d, want in_flight, 0", c.Delivery.ID, c.Delivery.State, c.Delivery.Attempts)
		}
		if c.Delivery.EventID != ev.ID || c.Event.ID != ev.ID {
			e.errorf("the event of each delivery is returned with it", "delivery %s: Delivery.EventID %q, Event.ID %q; want %q", c.Delivery.ID, c.Delivery.EventID, c.Event.ID, ev.ID)
		}
		e.sameEvent("the event of each delivery is returned with it", c.Event, ev)
		d := e.delivery(c.Delivery.ID)
		e.checkState("a claimed delivery is listed in flight", d, shipevents.DeliveryInFlight, 0)
		if !d.LeaseExpiresAt.Equal(now.Add(lease)) {
			e.errorf("a claimed delivery's LeaseExpiresAt is req.Now + req.Lease", "listed delivery %s: LeaseExpiresAt %s, want %s", d.ID, d.LeaseExpiresAt, now.Add(lease))
		}
	}
	e.checkState("a delivery not yet due stays pending", e.delivery(ids[2]), shipevents.DeliveryPending, 0)
	if cl := claimIDs(e.claim(at(time.Hour), 10)); !slices.Contains(cl, ids[2]) {
		e.errorf("a pending delivery is claimed once its NextAttemptAt is reached", "claim at +1h got %v, want it to include %s", cl, ids[2])
	}
}

func testClaimLimit(e *env) {
	_, ids := e.seed(base, base, base, base, base)
	var got []string
	for i, want := range []int{3, 2, 0} {
		cl := e.claim(base, 3)
		if len(cl) != want {
			e.errorf("ClaimDeliveries leases up to req.Limit due deliveries", "claim %d with Limit 3 and %d due got %d, want %d", i, 5-len(got), len(cl), want)
		}
		got = append(got, claimIDs(cl)...)
	}
	if !sameSet(got, ids) {
		e.errorf("successive claims lease every due delivery once", "claimed %v, want %v", got, ids)
	}
}

func testClaimOrder(e *env) {
	// Created in an order other than NextAttemptAt order.
	_, ids := e.seed(at(3*time.Minute), at(time.Minute), at(4*time.Minute), at(2*time.Minute))
	now := at(10 * time.Minute)
	if got, want := claimIDs(e.claim(now, 2)), []string{ids[1], ids[3]}; !sameSet(got, want) {
		e.errorf("deliveries are claimed in NextAttemptAt order: a limited claim takes the earliest due", "Limit 2 claimed %v, want %v (due at +1m and +2m)", got, want)
	}
	if got, want := claimIDs(e.claim(now, 1)), []string{ids[0]}; !slices.Equal(got, want) {
		e.errorf("deliveries are claimed in NextAttemptAt order: a limited claim takes the earliest due", "Limit 1 claimed %v, want %v (due at +3m)", got, want)
	}
	if got, want := claimIDs(e.claim(now, 5)), []string{ids[2]}; !slices.Equal(got, want) {
		e.errorf("deliveries are claimed in NextAttemptAt order", "last claim got %v, want %v", got, want)
	}
}

func testClaimOrderExpired(e *env) {
	_, ids := e.seed(base, at(20*time.Second))
	first := e.claim(base, 1) // ids[0], lease until +30s
	if got := claimIDs(first); !slices.Equal(got, ids[:1]) {
		e.fatalf("ClaimDeliveries leases due pending deliveries only", "claim at +0 got %v, want %v", got, ids[:1])
	}
	// At +60s both are claimable: ids[0] (NextAttemptAt +0, lease expired
	// at +30s) and ids[1] (pending, NextAttemptAt +20s). NextAttemptAt
	// order puts ids[0] first, though its lease expired after ids[1] fell due.
	if got := claimIDs(e.claim(at(time.Minute), 1)); !slices.Equal(got, ids[:1]) {
		e.errorf("deliveries are claimed in NextAttemptAt order, expired in-flight ones included (not in order of lease expiry)",
			"Limit 1 at +60s claimed %v, want %v (NextAttemptAt +0, lease expired +30s) before %s (NextAttemptAt +20s)", got, ids[0], ids[1])
	}
}

func testLeaseExcludes(e *env) {
	_, ids := e.seed(base)
	e.claimOne(base, ids[0], "ClaimDeliveries leases a due pending delivery")
	for _, now := range []time.Time{base, at(lease / 2), at(lease - time.Second)} {
		if cl := e.claim(now, 10); len(cl) != 0 {
			e.errorf("while a lease holds, no other call claims the delivery", "claim at lease start + %s got %v, want none", now.Sub(base), claimIDs(cl))
		}
	}
}

func testConcurrentClaimers(e *env) {
	const events, perEvent, workers = 20, 10, 8
	var all []string
	for range events {
		_, ids := e.seed(slices.Repeat([]time.Time{base}, perEvent)...)
		all = append(all, ids...)
	}
	var (
		mu      sync.Mutex
		claimed = map[string]int{}
		tokens  = map[string]bool{}
		dupTok  int
		total   int
		errs    []error
		wg      sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			// A store that claims leased deliveries again would keep this
			// loop going: stop once twice the deliveries were handed out.
			for range 2 * len(all) {
				cl, err := e.s.ClaimDeliveries(e.ctx, shipevents.ClaimRequest{Now: base, Lease: time.Minute, Limit: 7, Owner: fmt.Sprintf("worker-%d", w)})
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				for _, c := range cl {
					claimed[c.Delivery.ID]++
					total++
					if tokens[c.Lease.Token] {
						dupTok++
					}
					tokens[c.Lease.Token] = true
				}
				stop := err != nil || len(cl) == 0 || total > 2*len(all)
				mu.Unlock()
				if stop {
					return
				}
			}
		})
	}
	wg.Wait()
	e.noErr(errors.Join(errs...), "ClaimDeliveries (concurrent)")
	var twice []string
	for id, n := range claimed {
		if n > 1 {
			twice = append(twice, fmt.Sprintf("%s ×%d", id, n))
		}
	}
	if len(twice) > 0 {
		slices.Sort(twice)
		e.errorf("while a lease holds, no other call claims the delivery", "%d deliveries claimed more than once by %d concurrent claimers: %v", len(twice), workers, twice)
	}
	if len(claimed) != len(all) {
		e.errorf("concurrent claimers lease every due delivery", "claimed %d distinct deliveries, want %d", len(claimed), len(all))
	}
	if dupTok > 0 {
		e.errorf("each claimed delivery gets a fresh lease token", "%d tokens were handed out twice", dupTok)
	}
	if cl := e.claim(base, 10); len(cl) != 0 {
		e.errorf("while a lease holds, no other call claims the delivery", "a claim after the race got %d deliveries, want none", len(cl))
	}
}

func testLeaseExpiry(e *env) {
	_, ids := e.seed(base)
	c1 := e.claimOne(base, ids[0], "ClaimDeliveries leases a due pending delivery")
	later := c1.Lease.ExpiresAt.Add(time.Second)
	c2 := e.claimOne(later, ids[0], "an in-flight delivery whose lease expired before req.Now is claimed again")
	if c2.Lease.Token == c1.Lease.Token {
		e.errorf("a delivery claimed again gets a new lease token", "both claims got token %q", c1.Lease.Token)
	}
	if want := later.Add(lease); !c2.Lease.ExpiresAt.Equal(want) {
		e.errorf("a claimed delivery's LeaseExpiresAt is req.Now + req.Lease", "second claim: Lease.ExpiresAt %s, want %s", c2.Lease.ExpiresAt, want)
	}
	if c2.Delivery.Attempts != 0 {
		e.errorf("claiming does not count an attempt", "Attempts = %d after two claims, want 0", c2.Delivery.Attempts)
	}
	if cl := e.claim(later.Add(lease-time.Second), 10); len(cl) != 0 {
		e.errorf("while a lease holds, no other call claims the delivery", "the second lease was claimed over: got %v", claimIDs(cl))
	}
}

func testFencing(e *env) {
	_, ids := e.seed(base)
	c1 := e.claimOne(base, ids[0], "ClaimDeliveries leases a due pending delivery")
	c2 := e.claimOne(c1.Lease.ExpiresAt.Add(time.Second), ids[0], "an in-flight delivery whose lease expired before req.Now is claimed again")

	errs := e.record(succeed(c1))
	if !isLost(errs[0]) {
		e.errorf("recording with a lease that was claimed again gets an error wrapping ErrLeaseLost (errors.Is)", "got %v", errs[0])
	}
	d := e.delivery(ids[0])
	e.checkState("a record whose lease was lost changes nothing", d, shipevents.DeliveryInFlight, 0)
	if !d.LeaseExpiresAt.Equal(c2.Lease.ExpiresAt) {
		e.errorf("a record whose lease was lost changes nothing", "LeaseExpiresAt = %s, want the new lease's %s", d.LeaseExpiresAt, c2.Lease.ExpiresAt)
	}
	if as := e.attempts(ids[0]); len(as) != 0 {
		e.errorf("a record whose lease was lost changes nothing: its attempt is discarded", "ListAttempts has %d attempts, want 0", len(as))
	}
	forged := c2
	forged.Lease.Token = "forged-" + c2.Lease.Token
	if errs := e.record(succeed(forged)); !isLost(errs[0]) {
		e.errorf("recording with a token the store did not issue gets an error wrapping ErrLeaseLost", "got %v", errs[0])
	}

	if errs := e.record(succeed(c2)); errs[0] != nil {
		e.errorf("recording with the current lease succeeds", "got %v", errs[0])
	}
	e.checkState("OutcomeSucceeded moves the delivery to succeeded and counts the attempt", e.delivery(ids[0]), shipevents.DeliverySucceeded, 1)
}

func testFencingPerRecord(e *env) {
	_, ids := e.seed(base, at(2*time.Minute))
	a := e.claimFor(base, time.Hour, 10)
	if len(a) != 1 || a[0].Delivery.ID != ids[0] {
		e.fatalf("ClaimDeliveries leases due pending deliveries only", "claimed %v, want [%s]", claimIDs(a), ids[0])
	}
	b1 := e.claimOne(at(2*time.Minute), ids[1], "a pending delivery is claimed once its NextAttemptAt is reached")
	e.claimOne(b1.Lease.ExpiresAt.Add(time.Second), ids[1], "an in-flight delivery whose lease expired before req.Now is claimed again")

	errs := e.record(succeed(a[0]), succeed(b1))
	if errs[0] != nil {
		e.errorf("errors are per record: a held lease records even when another record's lease was lost", "first record: got %v, want nil", errs[0])
	}
	if !isLost(errs[1]) {
		e.errorf("errors are per record, aligned with records: a lost lease gets ErrLeaseLost", "second record: got %v", errs[1])
	}
	e.checkState("the record whose lease was held is applied", e.delivery(ids[0]), shipevents.DeliverySucceeded, 1)
	e.checkState("a record whose lease was lost changes nothing", e.delivery(ids[1]), shipevents.DeliveryInFlight, 0)
}

func testExpiredLeaseNotReclaimed(e *env) {
	_, ids := e.seed(base)
	c := e.claimOne(base, ids[0], "ClaimDeliveries leases a due pending delivery")
	// Time passes beyond the lease; nobody claims the delivery again. The
	// lease is lost only when the delivery is claimed again or requeued
	// (ErrLeaseLost), so the token still fences in.
	if errs := e.record(succeed(c)); errs[0] != nil {
		e.errorf("a lease is lost when the delivery is claimed again or requeued, not by the passing of time alone (fencing is by token; the store must not judge expiry by its own clock)", "RecordAttempts got %v, want nil", errs[0])
	}
	e.checkState("OutcomeSucceeded moves the delivery to succeeded and counts the attempt", e.delivery(ids[0]), shipevents.DeliverySucceeded, 1)
}

func testOutcomeEndsLease(e *env) {
	_, ids := e.seed(base)
	c := e.claimOne(base, ids[0], "ClaimDeliveries leases a due pending delivery")
	if errs := e.record(succeed(c)); errs[0] != nil {
		e.fatalf("recording with the current lease succeeds", "got %v", errs[0])
	}
	again := attemptRecord(c, shipevents.OutcomeRetry, at(time.Minute), 500, "500 Internal Server Error")
	again.Attempt.Number = 2
	if errs := e.record(again); !isLost(errs[0]) {
		e.errorf("recording an outcome ends the lease: the same lease recording again gets ErrLeaseLost", "got %v", errs[0])
	}
	e.checkState("a record whose lease was lost changes nothing", e.delivery(ids[0]), shipevents.DeliverySucceeded, 1)
	if as := e.attempts(ids[0]); len(as) != 1 {
		e.errorf("a record whose lease was lost changes nothing: its attempt is discarded", "ListAttempts has %d attempts, want 1", len(as))
	}
}

func testExtendLeases(e *env) {
	_, ids := e.seed(base, base)
	cl := e.claim(base, 10)
	if len(cl) != 2 {
		e.fatalf("ClaimDeliveries leases due pending deliveries", "claimed %v, want both of %v", claimIDs(cl), ids)
	}
	keep, drop := cl[0], cl[1]
	until := at(2 * time.Minute)
	if errs := e.extend(until, keep.Lease); errs[0] != nil {
		e.errorf("ExtendLeases extends a held lease", "got %v, want nil", errs[0])
	}
	if d := e.delivery(keep.Delivery.ID); !d.LeaseExpiresAt.Equal(until) || d.State != shipevents.DeliveryInFlight {
		e.errorf("ExtendLeases moves the expiry of a held lease to until", "listed delivery: State %s, LeaseExpiresAt %s; want in_flight, %s", d.State, d.LeaseExpiresAt, until)
	}
	// At the old expiry (+1m) the extended lease still holds; the other one
	// expired and is claimed again.
	reclaimed := e.claim(at(time.Minute), 10)
	if got := claimIDs(reclaimed); !slices.Equal(got, []string{drop.Delivery.ID}) {
		e.errorf("an extended lease is not claimable after its old expiry; an expired one is", "claim after the old expiry got %v, want only %s", got, drop.Delivery.ID)
	}
	errs := e.extend(at(3*time.Minute), keep.Lease, drop.Lease)
	if errs[0] != nil {
		e.errorf("ExtendLeases extends a held lease, including one it extended before", "got %v, want nil", errs[0])
	}
	if !isLost(errs[1]) {
		e.errorf("ExtendLeases reports a lease no longer held with an error wrapping ErrLeaseLost, aligned with leases", "lease of a delivery claimed again: got %v", errs[1])
	}
	if cl := e.claim(at(2*time.Minute+time.Second), 10); slices.Contains(claimIDs(cl), keep.Delivery.ID) {
		e.errorf("a lease extended to until holds until then", "delivery extended to +3m was claimed at +2m1s")
	}
	if errs := e.record(succeed(keep)); errs[0] != nil {
		e.errorf("an extended lease keeps its token and can record", "got %v", errs[0])
	}
	if errs := e.record(succeed(drop)); !isLost(errs[0]) {
		e.errorf("recording with a lease that was claimed again gets ErrLeaseLost", "got %v", errs[0])
	}
}

// ---------------------------------------------------------------------------
// Outcomes.

func (e *env) checkAttempt(rule string, got, want shipevents.Attempt) {
	e.Helper()
	if d := diffFields("", reflect.ValueOf(got), reflect.ValueOf(want)); len(d) > 0 {
		e.errorf(rule, "attempt differs:\n\t\t%s", strings.Join(d, "\n\t\t"))
	}
}

func testOutcomeSucceeded(e *env) {
	ev, ids := e.seed(base)
	c := e.claimOne(base, ids[0], "ClaimDeliveries leases a due pending delivery")
	rec := succeed(c)
	if errs := e.record(rec); errs[0] != nil {
		e.fatalf("recording with the current lease succeeds", "got %v", errs[0])
	}
	d := e.delivery(ids[0])
	e.checkState("OutcomeSucceeded moves the delivery to succeeded and counts the attempt", d, shipevents.DeliverySucceeded, 1)
	if d.LastStatusCode != rec.Attempt.StatusCode || d.LastError != "" {
		e.errorf("Delivery.LastStatusCode and LastError are the last attempt's", "LastStatusCode %d, LastError %q; want %d, \"\"", d.LastStatusCode, d.LastError, rec.Attempt.StatusCode)
	}
	as := e.attempts(ids[0])
	if len(as) != 1 {
		e.fatalf("the attempt is appended to the delivery's history", "ListAttempts has %d attempts, want 1", len(as))
	}
	e.checkAttempt("ListAttempts returns the attempt as recorded", as[0], rec.Attempt)
	if cl := e.claim(at(24*time.Hour), 10); len(cl) != 0 {
		e.errorf("a succeeded delivery is never claimed again", "claimed %v", claimIDs(cl))
	}
	if got := e.getEvent(ev.ID).PendingDeliveries; got != 0 {
		e.errorf("StoredEvent.PendingDeliveries does not count succeeded deliveries", "got %d, want 0", got)
	}
}

func testOutcomeRetry(e *env) {
	_, ids := e.seed(base)
	c := e.claimOne(base, ids[0], "ClaimDeliveries leases a due pending delivery")
	next := at(5 * time.Minute)
	rec := attemptRecord(c, shipevents.OutcomeRetry, next, 503, "503 Service Unavailable")
	if errs := e.record(rec); errs[0] != nil {
		e.fatalf("recording with the current lease succeeds", "got %v", errs[0])
	}
	d := e.delivery(ids[0])
	e.checkState("OutcomeRetry makes the delivery pending again and counts the attempt", d, shipevents.DeliveryPending, 1)
	if !d.NextAttemptAt.Equal(next) {
		e.errorf("OutcomeRetry makes the delivery pending again at NextAttemptAt", "NextAttemptAt = %s, want %s", d.NextAttemptAt, next)
	}
	if d.LastStatusCode != 503 || d.LastError != rec.Attempt.Error {
		e.errorf("Delivery.LastStatusCode and LastError are the last attempt's", "LastStatusCode %d, LastError %q; want 503, %q", d.LastStatusCode, d.LastError, rec.Attempt.Error)
	}
	if cl := e.claim(next.Add(-time.Second), 10); len(cl) != 0 {
		e.errorf("a retried delivery is not claimed before its NextAttemptAt", "claimed %v one second early", claimIDs(cl))
	}
	c2 := e.claimOne(next, ids[0], "a retried delivery is claimed at its NextAttemptAt")
	if c2.Delivery.Attempts != 1 {
		e.errorf("a claimed delivery carries its attempts so far", "Claim.Delivery.Attempts = %d, want 1", c2.Delivery.Attempts)
	}
	rec2 := attemptRecord(c2, shipevents.OutcomeRetry, at(time.Hour), 0, "dial tcp: connection refused")
	if errs := e.record(rec2); errs[0] != nil {
		e.fatalf("recording with the current lease succeeds", "got %v", errs[0])
	}
	e.checkState("OutcomeRetry counts the attempt", e.delivery(ids[0]), shipevents.DeliveryPending, 2)
	as := e.attempts(ids[0])
	if len(as) != 2 {
		e.fatalf("each attempt is appended to the delivery's history", "ListAttempts has %d attempts, want 2", len(as))
	}
	e.checkAttempt("ListAttempts returns every attempt, oldest first", as[0], rec.Attempt)
	e.checkAttempt("ListAttempts returns every attempt, oldest first", as[1], rec2.Attempt)
}

func testOutcomeDead(e *env) {
	ev, ids := e.seed(base, at(time.Hour))
	c := e.claimOne(base, ids[0], "ClaimDeliveries leases due pending deliveries only")
	rec := attemptRecord(c, shipevents.OutcomeDead, time.Time{}, 400, "400 Bad Request")
	if errs := e.record(rec); errs[0] != nil {
		e.fatalf("recording with the current lease succeeds", "got %v", errs[0])
	}
	d := e.delivery(ids[0])
	e.checkState("OutcomeDead moves the delivery to dead and counts the attempt", d, shipevents.DeliveryDead, 1)
	if d.LastStatusCode != 400 || d.LastError != rec.Attempt.Error {
		e.errorf("Delivery.LastStatusCode and LastError are the last attempt's", "LastStatusCode %d, LastError %q; want 400, %q", d.LastStatusCode, d.LastError, rec.Attempt.Error)
	}
	dead := e.listDeliveries(shipevents.DeliveryFilter{State: shipevents.DeliveryDead})
	if got := deliveryIDs(dead.Items); !slices.Equal(got, ids[:1]) || dead.PageInfo.Count != 1 {
		e.errorf("a dead delivery is listed by ListDeliveries{State: dead}, and only dead ones are", "got %v (Count %d), want %v", got, dead.PageInfo.Count, ids[:1])
	}
	if as := e.attempts(ids[0]); len(as) != 1 {
		e.errorf("the attempt is appended to the delivery's history", "ListAttempts has %d attempts, want 1", len(as))
	} else {
		e.checkAttempt("ListAttempts returns the attempt as recorded", as[0], rec.Attempt)
	}
	if got := claimIDs(e.claim(at(24*time.Hour), 10)); !slices.Equal(got, ids[1:]) {
		e.errorf("a dead delivery is never claimed again", "claim a day later got %v, want only %v", got, ids[1:])
	}
	if got := e.getEvent(ev.ID).PendingDeliveries; got != 1 {
		e.errorf("StoredEvent.PendingDeliveries does not count dead deliveries", "got %d, want 1", got)
	}
}

func testOutcomeReleased(e *env) {
	_, ids := e.seed(base)
	c := e.claimOne(base, ids[0], "ClaimDeliveries leases a due pending delivery")
	next := at(10 * time.Second)
	rec := attemptRecord(c, shipevents.OutcomeReleased, next, 500, "must be ignored")
	if errs := e.record(rec); errs[0] != nil {
		e.fatalf("recording with the current lease succeeds", "got %v", errs[0])
	}
	d := e.delivery(ids[0])
	e.checkState("OutcomeReleased makes the delivery pending with no attempt counted", d, shipevents.DeliveryPending, 0)
	if !d.NextAttemptAt.Equal(next) {
		e.errorf("OutcomeReleased makes the delivery pending at NextAttemptAt", "NextAttemptAt = %s, want %s", d.NextAttemptAt, next)
	}
	if as := e.attempts(ids[0]); len(as) != 0 {
		e.errorf("OutcomeReleased records no attempt (Attempt is ignored)", "ListAttempts has %d attempts, want 0", len(as))
	}
	if cl := e.claim(next.Add(-time.Second), 10); len(cl) != 0 {
		e.errorf("a released delivery is not claimed before its NextAttemptAt", "claimed %v one second early", claimIDs(cl))
	}
	c2 := e.claimOne(next, ids[0], "a released delivery is claimed again at its NextAttemptAt (before its old lease would have expired)")
	if c2.Lease.Token == c.Lease.Token {
		e.errorf("a delivery claimed again gets a new lease token", "both claims got token %q", c.Lease.Token)
	}
}

func testPendingDeliveriesCount(e *env) {
	ev, _ := e.seed(base, base, base, base)
	cl := e.claim(base, 3)
	if len(cl) != 3 {
		e.fatalf("ClaimDeliveries leases up to req.Limit due deliveries", "claimed %d, want 3", len(cl))
	}
	if got := e.getEvent(ev.ID).PendingDeliveries; got != 4 {
		e.errorf("StoredEvent.PendingDeliveries counts deliveries not yet succeeded or dead (in flight ones included)", "got %d, want 4", got)
	}
	errs := e.record(
		succeed(cl[0]),
		attemptRecord(cl[1], shipevents.OutcomeDead, time.Time{}, 410, "410 Gone"),
		attemptRecord(cl[2], shipevents.OutcomeRetry, at(time.Minute), 500, "500"),
	)
	e.noErr(errors.Join(errs...), "RecordAttempts with held leases")
	if got := e.getEvent(ev.ID).PendingDeliveries; got != 2 {
		e.errorf("StoredEvent.PendingDeliveries counts deliveries not yet succeeded or dead", "after succeeded, dead, retry of 3 of 4: got %d, want 2", got)
	}
	if p := e.listEvents(shipevents.EventFilter{}); len(p.Items) != 1 || p.Items[0].PendingDeliveries != 2 {
		e.errorf("StoredEvent.PendingDeliveries counts deliveries not yet succeeded or dead", "ListEvents disagrees with GetEvent (want 2)")
	}
}

// ---------------------------------------------------------------------------
// DeliveryLog.

func testRequeue(e *env) {
	_, ids := e.seed(base, base, base)
	cl := e.claim(base, 2)
	if len(cl) != 2 {
		e.fatalf("ClaimDeliveries leases up to req.Limit due deliveries", "claimed %d, want 2", len(cl))
	}
	deadRec := attemptRecord(cl[0], shipevents.OutcomeDead, time.Time{}, 400, "400 Bad Request")
	errs := e.record(deadRec, succeed(cl[1]))
	e.noErr(errors.Join(errs...), "RecordAttempts with held leases")
	deadID, doneID := cl[0].Delivery.ID, cl[1].Delivery.ID
	pendingID := ids[slices.IndexFunc(ids, func(id string) bool { return id != deadID && id != doneID })]

	at1h := at(time.Hour)
	n, err := e.s.RequeueDeliveries(e.ctx, []string{deadID, "unknown-" + newID("dlv"), doneID, pendingID}, at1h)
	e.noErr(err, "RequeueDeliveries")
	if n != 3 {
		e.errorf("RequeueDeliveries returns how many it requeued; unknown ids are skipped", "got %d, want 3", n)
	}
	for _, id := range []string{deadID, doneID, pendingID} {
		d := e.delivery(id)
		hist := e.attempts(id)
		e.checkState("RequeueDeliveries makes a delivery pending again whatever its state, attempt history kept", d, shipevents.DeliveryPending, len(hist))
		if !d.NextAttemptAt.Equal(at1h) {
			e.errorf("RequeueDeliveries makes the delivery due at `at`", "delivery %s: NextAttemptAt %s, want %s", id, d.NextAttemptAt, at1h)
		}
	}
	if hist := e.attempts(deadID); len(hist) != 1 {
		e.errorf("RequeueDeliveries keeps the attempt history", "dead delivery: ListAttempts has %d attempts after requeue, want 1", len(hist))
	} else {
		e.checkAttempt("RequeueDeliveries keeps the attempt history", hist[0], deadRec.Attempt)
	}
	if cl := e.claim(at1h.Add(-time.Second), 10); len(cl) != 0 {
		e.errorf("a requeued delivery is due at `at`, not before", "claimed %v one second early", claimIDs(cl))
	}
	if got := claimIDs(e.claim(at1h, 10)); !sameSet(got, []string{deadID, doneID, pendingID}) {
		e.errorf("requeued deliveries are claimable at `at`", "claimed %v, want all three", got)
	}
	if n, err := e.s.RequeueDeliveries(e.ctx, []string{"unknown-" + newID("dlv")}, at1h); err != nil || n != 0 {
		e.errorf("RequeueDeliveries skips unknown ids", "got %d, %v; want 0, nil", n, err)
	}
}

func testRequeueRevokesLease(e *env) {
	_, ids := e.seed(base)
	c := e.claimOne(base, ids[0], "ClaimDeliveries leases a due pending delivery")
	requeueAt := at(10 * time.Second) // before the lease would expire
	n, err := e.s.RequeueDeliveries(e.ctx, ids, requeueAt)
	e.noErr(err, "RequeueDeliveries")
	if n != 1 {
		e.errorf("RequeueDeliveries returns how many it requeued (in-flight ones included)", "got %d, want 1", n)
	}
	d := e.delivery(ids[0])
	e.checkState("RequeueDeliveries makes an in-flight delivery pending again", d, shipevents.DeliveryPending, 0)
	if errs := e.record(succeed(c)); !isLost(errs[0]) {
		e.errorf("RequeueDeliveries revokes any lease held: its holder gets ErrLeaseLost from RecordAttempts", "got %v", errs[0])
	}
	if errs := e.extend(at(time.Hour), c.Lease); !isLost(errs[0]) {
		e.errorf("RequeueDeliveries revokes any lease held: its holder gets ErrLeaseLost from ExtendLeases", "got %v", errs[0])
	}
	e.checkState("a record whose lease was lost changes nothing", e.delivery(ids[0]), shipevents.DeliveryPending, 0)
	c2 := e.claimOne(requeueAt, ids[0], "a requeued delivery is claimable at `at`, even while its revoked lease would still have held")
	if c2.Lease.Token == c.Lease.Token {
		e.errorf("a lease token changes on every claim and requeue", "the claim after requeue got the revoked token %q", c.Lease.Token)
	}
}

func testListAttempts(e *env) {
	_, ids := e.seed(base)
	as, err := e.s.ListAttempts(e.ctx, ids[0])
	if err != nil || len(as) != 0 {
		e.errorf("ListAttempts of a delivery without attempts returns none", "got %d attempts, %v", len(as), err)
	}
	_, err = e.s.ListAttempts(e.ctx, "unknown-"+newID("dlv"))
	if !errors.Is(err, shipevents.ErrNotFound) {
		e.errorf("ListAttempts of an unknown delivery is an error wrapping ErrNotFound", "got %v", err)
	}
}

func testListDeliveriesPagination(e *env) {
	sub := newID("sub")
	var ids []string
	for i := range 25 {
		ev := e.orderEvent(at(time.Duration(i) * time.Minute))
		d := nd(ev, sub, at(time.Duration(25-i)*time.Minute)) // NextAttemptAt falling: order is by creation
		e.appendOne(ev, d)
		ids = append(ids, d.ID)
	}
	f := shipevents.DeliveryFilter{SubscriptionID: sub, Limit: 10}
	want := [][]string{ids[0:10], ids[10:20], ids[20:25]}
	for i, w := range want {
		p := e.listDeliveries(f)
		if got := deliveryIDs(p.Items); !slices.Equal(got, w) {
			e.fatalf("ListDeliveries pages are oldest first (by creation order); After continues to newer ones", "page %d = %v, want %v", i+1, got, w)
		}
		if p.PageInfo.Count != 25 {
			e.errorf("PageInfo.Count is the number of all items matching the filter", "page %d: Count %d, want 25", i+1, p.PageInfo.Count)
		}
		if hasNext := i < 2; p.PageInfo.HasNextPage != hasNext {
			e.errorf("PageInfo.HasNextPage says whether items follow the page", "page %d: HasNextPage %v, want %v", i+1, p.PageInfo.HasNextPage, hasNext)
		}
		if hasPrev := i > 0; p.PageInfo.HasPreviousPage != hasPrev {
			e.errorf("PageInfo.HasPreviousPage says whether items precede the page", "page %d: HasPreviousPage %v, want %v", i+1, p.PageInfo.HasPreviousPage, hasPrev)
		}
		if p.PageInfo.EndCursor == "" {
			e.fatalf("a non-empty page has an EndCursor", "page %d: EndCursor is empty", i+1)
		}
		f.After = p.PageInfo.EndCursor
	}
}

func testListDeliveriesFilters(e *env) {
	sA, sB := newID("sub"), newID("sub")
	ev1, ev2 := e.orderEvent(base), e.orderEvent(base)
	e.appendOne(ev1, nd(ev1, sA, base), nd(ev1, sB, at(time.Hour)))
	e.appendOne(ev2, nd(ev2, sA, at(time.Hour)))
	d1A, d1B, d2A := shipevents.DeliveryID(ev1.ID, sA), shipevents.DeliveryID(ev1.ID, sB), shipevents.DeliveryID(ev2.ID, sA)
	e.claimOne(base, d1A, "ClaimDeliveries leases due pending deliveries only")
	for _, c := range []struct {
		f    shipevents.DeliveryFilter
		want []string
	}{
		{shipevents.DeliveryFilter{}, []string{d1A, d1B, d2A}},
		{shipevents.DeliveryFilter{EventID: ev1.ID}, []string{d1A, d1B}},
		{shipevents.DeliveryFilter{SubscriptionID: sA}, []string{d1A, d2A}},
		{shipevents.DeliveryFilter{State: shipevents.DeliveryInFlight}, []string{d1A}},
		{shipevents.DeliveryFilter{State: shipevents.DeliveryPending}, []string{d1B, d2A}},
		{shipevents.DeliveryFilter{EventID: ev1.ID, SubscriptionID: sA}, []string{d1A}},
		{shipevents.DeliveryFilter{SubscriptionID: sA, State: shipevents.DeliveryPending}, []string{d2A}},
		{shipevents.DeliveryFilter{EventID: "unknown-" + newID("evt")}, nil},
	} {
		p := e.listDeliveries(c.f)
		if got := deliveryIDs(p.Items); !sameSet(got, c.want) || p.PageInfo.Count != len(c.want) {
			e.errorf("DeliveryFilter: each set field filters, zero fields do not; Count is all matching", "ListDeliveries(%+v) = %v (Count %d), want %v", c.f, got, p.PageInfo.Count, c.want)
		}
	}
}

// ---------------------------------------------------------------------------
// GetEvent and ListEvents.

func testGetEventNotFound(e *env) {
	e.appendOne(e.orderEvent(base))
	_, err := e.s.GetEvent(e.ctx, "unknown-"+newID("evt"))
	if !errors.Is(err, shipevents.ErrNotFound) {
		e.errorf("GetEvent of an unknown id is an error wrapping ErrNotFound", "got %v", err)
	}
}

// filterFixture appends five events, in this order:
//
//	0: tracking.updated IN_TRANSIT, tenant T, ups, trk A, corr c1, +1h
//	1: tracking.updated DELIVERED, tenant T, ups, trk A, +2h
//	2: shipment.status_changed DELIVERED, tenant T, fedex, trk B, corr c1, +3h
//	3: order.created, tenant T, corr c2, +4h
//	4: tracking.updated FAILED_DELIVERY, tenant T2, dhl, trk C, +5h
type filterFixture struct {
	ev                     [5]shipevents.Event
	t2, trkA, trkC, c1, c2 string
}

func (e *env) filterFixture() filterFixture {
	e.Helper()
	var x filterFixture
	x.trkA, x.trkC = newID("trk"), newID("trk")
	x.c1, x.c2, x.t2 = newID("corr"), newID("corr"), "other-"+e.tenant
	x.ev[0] = e.shipmentEvent(shipevents.StatusInTransit, x.trkA, at(time.Hour))
	x.ev[0].CorrelationID = x.c1
	x.ev[1] = e.shipmentEvent(shipevents.StatusDelivered, x.trkA, at(2*time.Hour))
	x.ev[2] = e.shipmentEvent(shipevents.StatusDelivered, newID("trk"), at(3*time.Hour))
	x.ev[2].Type = shipevents.TypeShipmentStatus
	x.ev[2].Carrier = "fedex"
	x.ev[2].CorrelationID = x.c1
	x.ev[3] = e.orderEvent(at(4 * time.Hour))
	x.ev[3].CorrelationID = x.c2
	x.ev[4] = e.shipmentEvent(shipevents.StatusFailedDelivery, x.trkC, at(5*time.Hour))
	x.ev[4].Carrier = "dhl"
	x.ev[4].TenantID = x.t2
	for _, ev := range x.ev {
		e.appendOne(ev)
	}
	return x
}

// expect checks that f lists exactly the fixture events with the given
// indexes, newest first, with the right Count.
func (e *env) expect(rule string, x filterFixture, f shipevents.EventFilter, idx ...int) {
	e.Helper()
	var want []string
	for i := len(x.ev) - 1; i >= 0; i-- {
		if slices.Contains(idx, i) {
			want = append(want, x.ev[i].ID)
		}
	}
	p := e.listEvents(f)
	if got := eventIDs(p.Items); !slices.Equal(got, want) {
		e.errorf(rule, "ListEvents(%s) = %v, want events %v newest first: %v", describe(f), got, idx, want)
	}
	if p.PageInfo.Count != len(want) {
		e.errorf("PageInfo.Count is the number of all items matching the filter", "ListEvents(%s): Count %d, want %d", describe(f), p.PageInfo.Count, len(want))
	}
}

// describe prints the set fields of an event filter.
func describe(f shipevents.EventFilter) string {
	var parts []string
	v := reflect.ValueOf(f)
	for i := range v.NumField() {
		if fv := v.Field(i); !fv.IsZero() {
			parts = append(parts, fmt.Sprintf("%s: %v", v.Type().Field(i).Name, fv.Interface()))
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func testListEventsTypes(e *env) {
	x := e.filterFixture()
	const rule = "EventFilter.Types: an event matches when its type is one of Types"
	e.expect(rule, x, shipevents.EventFilter{Types: []string{shipevents.TypeTrackingUpdated}}, 0, 1, 4)
	e.expect(rule, x, shipevents.EventFilter{Types: []string{shipevents.TypeShipmentStatus, shipevents.TypeOrderCreated}}, 2, 3)
	e.expect(rule, x, shipevents.EventFilter{Types: []string{"claim.created"}})
	e.expect("a zero EventFilter lists every event", x, shipevents.EventFilter{}, 0, 1, 2, 3, 4)
}

func testListEventsRefPattern(e *env) {
	x := e.filterFixture()
	const rule = "EventFilter.RefPattern: an event matches when its ref matches the pattern as MatchRef"
	e.expect(rule, x, shipevents.EventFilter{RefPattern: "shipments/delivered"}, 1, 2)
	e.expect(rule, x, shipevents.EventFilter{RefPattern: "shipments/*/SUCCESSFULLY_DELIVERED"}, 1, 2)
	e.expect(rule, x, shipevents.EventFilter{RefPattern: "shipments/*/DELIVERY_ATTEMPT_FAILED"}, 4)
	e.expect(rule, x, shipevents.EventFilter{RefPattern: "shipments/in_transit/IN_TRANSIT"}, 0)
	e.expect(rule, x, shipevents.EventFilter{RefPattern: "shipments"}, 0, 1, 2, 4)
	e.expect(rule, x, shipevents.EventFilter{RefPattern: "orders"}, 3)
	e.expect(rule, x, shipevents.EventFilter{RefPattern: "*"}, 0, 1, 2, 3, 4)
	e.expect(rule+" (segments are whole)", x, shipevents.EventFilter{RefPattern: "shipments/deliv"})
}

func testListEventsTenantID(e *env) {
	x := e.filterFixture()
	const rule = "EventFilter.TenantID: an event matches when its tenant equals TenantID"
	e.expect(rule, x, shipevents.EventFilter{TenantID: e.tenant}, 0, 1, 2, 3)
	e.expect(rule, x, shipevents.EventFilter{TenantID: x.t2}, 4)
	e.expect(rule, x, shipevents.EventFilter{TenantID: "nobody-" + e.tenant})
}

func testListEventsCarrier(e *env) {
	x := e.filterFixture()
	const rule = "EventFilter.Carrier: an event matches when its carrier equals Carrier"
	e.expect(rule, x, shipevents.EventFilter{Carrier: carrier}, 0, 1)
	e.expect(rule, x, shipevents.EventFilter{Carrier: "fedex"}, 2)
	e.expect(rule, x, shipevents.EventFilter{Carrier: "usps"})
}

func testListEventsTrackingNumber(e *env) {
	x := e.filterFixture()
	const rule = "EventFilter.TrackingNumber: an event matches when its tracking number equals TrackingNumber"
	e.expect(rule, x, shipevents.EventFilter{TrackingNumber: x.trkA}, 0, 1)
	e.expect(rule, x, shipevents.EventFilter{TrackingNumber: x.trkC}, 4)
	e.expect(rule, x, shipevents.EventFilter{TrackingNumber: newID("trk")})
}

func testListEventsCorrelationID(e *env) {
	x := e.filterFixture()
	const rule = "EventFilter.CorrelationID: an event matches when its correlation id equals CorrelationID"
	e.expect(rule, x, shipevents.EventFilter{CorrelationID: x.c1}, 0, 2)
	e.expect(rule, x, shipevents.EventFilter{CorrelationID: x.c2}, 3)
	e.expect(rule, x, shipevents.EventFilter{CorrelationID: newID("corr")})
}

func testListEventsOccurredRange(e *env) {
	x := e.filterFixture()
	e.expect("EventFilter.OccurredAfter is inclusive", x, shipevents.EventFilter{OccurredAfter: at(2 * time.Hour)}, 1, 2, 3, 4)
	e.expect("EventFilter.OccurredBefore is exclusive", x, shipevents.EventFilter{OccurredBefore: at(3 * time.Hour)}, 0, 1)
	e.expect("EventFilter.OccurredAfter (inclusive) and OccurredBefore (exclusive) bound a range", x,
		shipevents.EventFilter{OccurredAfter: at(2 * time.Hour), OccurredBefore: at(4 * time.Hour)}, 1, 2)
	// The same instant in another zone is the same instant.
	cet := time.FixedZone("CET", 3600)
	e.expect("EventFilter.OccurredAfter compares instants, whatever the zone", x, shipevents.EventFilter{OccurredAfter: at(4 * time.Hour).In(cet)}, 3, 4)
}

func testListEventsFiltersCombine(e *env) {
	x := e.filterFixture()
	const rule = "EventFilter: set fields combine (every one must match)"
	e.expect(rule, x, shipevents.EventFilter{TenantID: e.tenant, RefPattern: "shipments/delivered", Carrier: carrier}, 1)
	e.expect(rule, x, shipevents.EventFilter{CorrelationID: x.c1, Types: []string{shipevents.TypeTrackingUpdated}}, 0)
	e.expect(rule, x, shipevents.EventFilter{TrackingNumber: x.trkA, OccurredAfter: at(90 * time.Minute)}, 1)
	e.expect(rule, x, shipevents.EventFilter{TenantID: x.t2, Carrier: carrier})
}

// appendN appends n order events one call each and returns their ids in
// append order.
func (e *env) appendN(n int) []string {
	e.Helper()
	ids := make([]string, n)
	for i := range n {
		ev := e.orderEvent(at(time.Duration(i) * time.Minute))
		e.appendOne(ev)
		ids[i] = ev.ID
	}
	return ids
}

// checkPage compares a page of events with want (ids, newest first) and
// its PageInfo with count, hasNext and hasPrev.
func (e *env) checkPage(label string, p shipevents.Page[shipevents.StoredEvent], want []string, count int, hasNext, hasPrev bool) {
	e.Helper()
	if got := eventIDs(p.Items); !slices.Equal(got, want) {
		e.fatalf("ListEvents pages are newest first; After continues to older events, Before goes back to newer ones", "%s = %v, want %v", label, got, want)
	}
	pi := p.PageInfo
	if pi.Count != count {
		e.errorf("PageInfo.Count is the number of all items matching the filter, on every page", "%s: Count %d, want %d", label, pi.Count, count)
	}
	if pi.HasNextPage != hasNext {
		e.errorf("PageInfo.HasNextPage says whether older events follow the page", "%s: HasNextPage %v, want %v", label, pi.HasNextPage, hasNext)
	}
	if pi.HasPreviousPage != hasPrev {
		e.errorf("PageInfo.HasPreviousPage says whether newer events precede the page", "%s: HasPreviousPage %v, want %v", label, pi.HasPreviousPage, hasPrev)
	}
	if len(p.Items) > 0 && (pi.StartCursor == "" || pi.EndCursor == "") {
		e.fatalf("a non-empty page has a StartCursor and an EndCursor", "%s: StartCursor %q, EndCursor %q", label, pi.StartCursor, pi.EndCursor)
	}
}

func testListEventsPagination(e *env) {
	ids := reversed(e.appendN(25)) // newest first
	f := shipevents.EventFilter{Limit: 10}
	p1 := e.listEvents(f)
	e.checkPage("page 1", p1, ids[0:10], 25, true, false)
	f.After = p1.PageInfo.EndCursor
	p2 := e.listEvents(f)
	e.checkPage("page 2 (After page 1's EndCursor)", p2, ids[10:20], 25, true, true)
	f.After = p2.PageInfo.EndCursor
	p3 := e.listEvents(f)
	e.checkPage("page 3 (After page 2's EndCursor)", p3, ids[20:25], 25, false, true)
}

func testListEventsPageBack(e *env) {
	ids := reversed(e.appendN(25))
	p1 := e.listEvents(shipevents.EventFilter{Limit: 10})
	p2 := e.listEvents(shipevents.EventFilter{Limit: 10, After: p1.PageInfo.EndCursor})
	p3 := e.listEvents(shipevents.EventFilter{Limit: 10, After: p2.PageInfo.EndCursor})
	e.checkPage("page 3", p3, ids[20:25], 25, false, true)
	back2 := e.listEvents(shipevents.EventFilter{Limit: 10, Before: p3.PageInfo.StartCursor})
	e.checkPage("Before page 3's StartCursor (page 2)", back2, ids[10:20], 25, true, true)
	back1 := e.listEvents(shipevents.EventFilter{Limit: 10, Before: back2.PageInfo.StartCursor})
	e.checkPage("Before page 2's StartCursor (page 1)", back1, ids[0:10], 25, true, false)
	back0 := e.listEvents(shipevents.EventFilter{Limit: 10, Before: back1.PageInfo.StartCursor})
	if len(back0.Items) != 0 || back0.PageInfo.HasPreviousPage {
		e.errorf("Before the newest event there is nothing", "got %v, HasPreviousPage %v; want no items, false", eventIDs(back0.Items), back0.PageInfo.HasPreviousPage)
	}
}

func testListEventsCursorStable(e *env) {
	ids := reversed(e.appendN(15))
	p1 := e.listEvents(shipevents.EventFilter{Limit: 5})
	e.checkPage("page 1", p1, ids[0:5], 15, true, false)
	newer := reversed(e.appendN(3))
	p2 := e.listEvents(shipevents.EventFilter{Limit: 5, After: p1.PageInfo.EndCursor})
	e.checkPage("page 2 after 3 more appends", p2, ids[5:10], 18, true, true)
	back := e.listEvents(shipevents.EventFilter{Limit: 5, Before: p2.PageInfo.StartCursor})
	e.checkPage("Before page 2's StartCursor after 3 more appends", back, ids[0:5], 18, true, true)
	top := e.listEvents(shipevents.EventFilter{Limit: 5, Before: back.PageInfo.StartCursor})
	e.checkPage("Before that page's StartCursor (the new events)", top, newer, 18, true, false)
}

func testInvalidCursor(e *env) {
	e.appendN(3)
	e.seed(base)
	const bad = "%%not a cursor%%"
	if _, err := e.s.ListEvents(e.ctx, shipevents.EventFilter{After: bad}); !errors.Is(err, shipevents.ErrInvalidCursor) {
		e.errorf("ListEvents with an After cursor the store did not issue is an error wrapping ErrInvalidCursor", "got %v", err)
	}
	if _, err := e.s.ListEvents(e.ctx, shipevents.EventFilter{Before: bad}); !errors.Is(err, shipevents.ErrInvalidCursor) {
		e.errorf("ListEvents with a Before cursor the store did not issue is an error wrapping ErrInvalidCursor", "got %v", err)
	}
	if _, err := e.s.ListDeliveries(e.ctx, shipevents.DeliveryFilter{After: bad}); !errors.Is(err, shipevents.ErrInvalidCursor) {
		e.errorf("ListDeliveries with an After cursor the store did not issue is an error wrapping ErrInvalidCursor", "got %v", err)
	}
}

func testPageLimit(e *env) {
	n := shipevents.DefaultPageSize + 1
	if !testing.Short() {
		n = shipevents.MaxPageSize + 1
	}
	recs := make([]shipevents.AppendRecord, n)
	for i := range recs {
		recs[i] = shipevents.AppendRecord{Event: e.orderEvent(at(time.Duration(i) * time.Second))}
	}
	e.appendRecords(recs...)
	for _, limit := range []int{0, -1} {
		p := e.listEvents(shipevents.EventFilter{Limit: limit})
		if len(p.Items) != shipevents.DefaultPageSize || !p.PageInfo.HasNextPage || p.PageInfo.Count != n {
			e.errorf("EventFilter.Limit ≤ 0 means DefaultPageSize (PageLimit)", "Limit %d over %d events: %d items, HasNextPage %v, Count %d; want %d, true, %d",
				limit, n, len(p.Items), p.PageInfo.HasNextPage, p.PageInfo.Count, shipevents.DefaultPageSize, n)
		}
	}
	if testing.Short() {
		return // MaxPageSize needs more than 1000 events
	}
	p := e.listEvents(shipevents.EventFilter{Limit: shipevents.MaxPageSize + 500})
	if len(p.Items) != shipevents.MaxPageSize || !p.PageInfo.HasNextPage {
		e.errorf("EventFilter.Limit is at most MaxPageSize (PageLimit)", "Limit %d over %d events: %d items, HasNextPage %v; want %d, true",
			shipevents.MaxPageSize+500, n, len(p.Items), p.PageInfo.HasNextPage, shipevents.MaxPageSize)
	}
}

// ---------------------------------------------------------------------------
// Subscriptions.

func (e *env) listSubs() []shipevents.Subscription {
	e.Helper()
	subs, err := e.s.ListSubscriptions(e.ctx)
	e.noErr(err, "ListSubscriptions")
	return subs
}

func subIDs(subs []shipevents.Subscription) []string {
	out := make([]string, len(subs))
	for i, s := range subs {
		out[i] = s.ID
	}
	return out
}

func (e *env) sameSub(rule string, got, want shipevents.Subscription) {
	e.Helper()
	if d := diffSubscription(got, want); len(d) > 0 {
		e.errorf(rule, "subscription %s differs:\n\t\t%s", want.ID, strings.Join(d, "\n\t\t"))
	}
}

func testSubscriptions(e *env) {
	if subs := e.listSubs(); len(subs) != 0 {
		e.errorf("a fresh store has no subscriptions", "got %v", subIDs(subs))
	}
	p := newID("sub")
	a, b, c := p+"-a", p+"-b", p+"-c"
	for _, id := range []string{c, a, b} {
		s := subscription(id)
		if err := s.Validate(); err != nil {
			e.Fatalf("storetest bug: invalid subscription: %v", err)
		}
		e.noErr(e.s.PutSubscription(e.ctx, s), "PutSubscription of a new subscription")
	}
	subs := e.listSubs()
	if got := subIDs(subs); !slices.Equal(got, []string{a, b, c}) {
		e.fatalf("ListSubscriptions returns every subscription, sorted by id", "got %v, want %v", got, []string{a, b, c})
	}
	for _, s := range subs {
		e.sameSub("a subscription reads back exactly as put", s, subscription(s.ID))
	}

	repl := subscription(b)
	repl.Name, repl.Active, repl.DisabledReason = "renamed", false, "410 Gone"
	repl.EnabledEvents = []string{"orders"}
	repl.Headers = nil
	e.noErr(e.s.PutSubscription(e.ctx, repl), "PutSubscription replacing a subscription")
	subs = e.listSubs()
	if got := subIDs(subs); !slices.Equal(got, []string{a, b, c}) {
		e.fatalf("PutSubscription with an existing id replaces it (no second copy)", "got %v, want %v", got, []string{a, b, c})
	}
	e.sameSub("PutSubscription with an existing id replaces it", subs[1], repl)

	e.noErr(e.s.DeleteSubscription(e.ctx, a), "DeleteSubscription of an existing subscription")
	if got := subIDs(e.listSubs()); !slices.Equal(got, []string{b, c}) {
		e.errorf("DeleteSubscription removes the subscription", "got %v, want %v", got, []string{b, c})
	}
	if err := e.s.DeleteSubscription(e.ctx, a); !errors.Is(err, shipevents.ErrNotFound) {
		e.errorf("DeleteSubscription of a deleted subscription is an error wrapping ErrNotFound", "got %v", err)
	}
	if err := e.s.DeleteSubscription(e.ctx, "unknown-"+p); !errors.Is(err, shipevents.ErrNotFound) {
		e.errorf("DeleteSubscription of an unknown id is an error wrapping ErrNotFound", "got %v", err)
	}
	other := subscription(p + "-0")
	other.TenantID = "another-tenant"
	e.noErr(e.s.PutSubscription(e.ctx, other), "PutSubscription")
	if got := subIDs(e.listSubs()); !slices.Equal(got, []string{other.ID, b, c}) {
		e.errorf("ListSubscriptions returns every subscription (all tenants), sorted by id", "got %v, want %v", got, []string{other.ID, b, c})
	}
}

func testDeleteSubscriptionKeepsDeliveries(e *env) {
	s := subscription(newID("sub"))
	e.noErr(e.s.PutSubscription(e.ctx, s), "PutSubscription")
	ev := e.orderEvent(base)
	e.appendOne(ev, nd(ev, s.ID, base))
	e.noErr(e.s.DeleteSubscription(e.ctx, s.ID), "DeleteSubscription")
	p := e.listDeliveries(shipevents.DeliveryFilter{SubscriptionID: s.ID})
	if len(p.Items) != 1 || p.Items[0].State != shipevents.DeliveryPending {
		e.fatalf("DeleteSubscription leaves the subscription's pending deliveries", "ListDeliveries{SubscriptionID} = %v after delete, want the pending delivery", deliveryIDs(p.Items))
	}
	e.claimOne(base, p.Items[0].ID, "a deleted subscription's pending deliveries stay claimable (the dispatcher dead-letters them)")
}

// ---------------------------------------------------------------------------
// Store-wide rules.

// mutateEvent changes every map, slice and pointer target of ev in place.
func mutateEvent(ev *shipevents.Event) {
	if ev.Metadata != nil {
		ev.Metadata["order"] = "mutated"
		ev.Metadata["added"] = "mutated"
	}
	if ev.Context != nil {
		ev.Context["source_ip"] = "mutated"
		if m, ok := ev.Context["nested"].(map[string]any); ok {
			m["k"] = "mutated"
			if l, ok := m["list"].([]any); ok && len(l) > 0 {
				l[0] = "mutated"
			}
		}
	}
	if ev.Data.Extra != nil {
		ev.Data.Extra["fragile"] = "mutated"
		if l, ok := ev.Data.Extra["tags"].([]any); ok && len(l) > 0 {
			l[0] = "mutated"
		}
		if m, ok := ev.Data.Extra["dims"].(map[string]any); ok {
			m["unit"] = "mutated"
		}
	}
	if ev.CarrierStatus != nil {
		ev.CarrierStatus.Code = "mutated"
	}
	if ev.Data.Location != nil {
		ev.Data.Location.City = "mutated"
	}
	if ev.Data.EstimatedDelivery != nil {
		*ev.Data.EstimatedDelivery = ev.Data.EstimatedDelivery.Add(time.Hour)
	}
}

func testNoAliasingEvents(e *env) {
	id, trk := newID("evt"), newID("trk")
	ev := e.fullEvent(id, trk)
	rec := []shipevents.AppendRecord{{Event: ev, Deliveries: []shipevents.NewDelivery{nd(ev, newID("sub"), base)}}}
	e.evOf[rec[0].Deliveries[0].ID] = id
	_, err := e.s.AppendEvents(e.ctx, rec)
	e.noErr(err, "AppendEvents")
	want := e.fullEvent(id, trk)

	mutateEvent(&ev)
	mutateEvent(&rec[0].Event)
	rec[0].Deliveries[0].SubscriptionID = "mutated"
	e.sameEvent("values passed in belong to the caller and must not be retained (the appended event was changed after AppendEvents)", e.getEvent(id).Event, want)

	got := e.getEvent(id)
	mutateEvent(&got.Event)
	e.sameEvent("values returned must not alias the store's state (the event GetEvent returned was changed)", e.getEvent(id).Event, want)

	p := e.listEvents(shipevents.EventFilter{})
	for i := range p.Items {
		mutateEvent(&p.Items[i].Event)
	}
	e.sameEvent("values returned must not alias the store's state (the events ListEvents returned were changed)", e.getEvent(id).Event, want)

	cl := e.claim(base, 10)
	if len(cl) != 1 {
		e.fatalf("ClaimDeliveries leases due pending deliveries", "claimed %d, want 1", len(cl))
	}
	if cl[0].Delivery.SubscriptionID == "mutated" {
		e.errorf("values passed in belong to the caller and must not be retained", "the delivery's SubscriptionID changed with the caller's NewDelivery")
	}
	mutateEvent(&cl[0].Event)
	e.sameEvent("values returned must not alias the store's state (the event ClaimDeliveries returned was changed)", e.getEvent(id).Event, want)
}

// mutateSubscription changes every map, slice and pointer target of s.
func mutateSubscription(s *shipevents.Subscription) {
	if len(s.EnabledEvents) > 0 {
		s.EnabledEvents[0] = "mutated"
	}
	if len(s.EventGroups) > 0 {
		s.EventGroups[0] = "mutated"
	}
	if len(s.Types) > 0 {
		s.Types[0] = "mutated"
	}
	if len(s.Conditions) > 0 {
		s.Conditions[0].Field = "mutated"
		if len(s.Conditions[0].Values) > 0 {
			s.Conditions[0].Values[0] = "mutated"
		}
	}
	if s.Headers != nil {
		s.Headers["X-Api-Key"] = "mutated"
	}
	if len(s.Secrets) > 0 {
		s.Secrets[0] = "mutated"
	}
	if s.OAuth2 != nil {
		s.OAuth2.ClientSecret = "mutated"
		if len(s.OAuth2.Scopes) > 0 {
			s.OAuth2.Scopes[0] = "mutated"
		}
		if s.OAuth2.Params != nil {
			s.OAuth2.Params["audience"] = "mutated"
		}
	}
	if s.Retry != nil {
		s.Retry.MaxAttempts = 99
		if len(s.Retry.Schedule) > 0 {
			s.Retry.Schedule[0] = time.Hour
		}
	}
}

func testNoAliasingSubscriptions(e *env) {
	id := newID("sub")
	s := subscription(id)
	e.noErr(e.s.PutSubscription(e.ctx, s), "PutSubscription")
	mutateSubscription(&s)
	subs := e.listSubs()
	if len(subs) != 1 {
		e.fatalf("ListSubscriptions returns every subscription", "got %d, want 1", len(subs))
	}
	e.sameSub("values passed in belong to the caller and must not be retained (the subscription was changed after PutSubscription)", subs[0], subscription(id))
	mutateSubscription(&subs[0])
	subs = e.listSubs()
	if len(subs) != 1 {
		e.fatalf("ListSubscriptions returns every subscription", "got %d, want 1", len(subs))
	}
	e.sameSub("values returned must not alias the store's state (the subscription ListSubscriptions returned was changed)", subs[0], subscription(id))
}

func testNoAliasingDeliveries(e *env) {
	ev, ids := e.seed(base)
	c := e.claimOne(base, ids[0], "ClaimDeliveries leases a due pending delivery")
	rec := attemptRecord(c, shipevents.OutcomeRetry, at(time.Minute), 500, "500 Internal Server Error")
	e.noErr(errors.Join(e.record(rec)...), "RecordAttempts with a held lease")

	p := e.listDeliveries(shipevents.DeliveryFilter{EventID: ev.ID})
	want := p.Items[0]
	p.Items[0].State = "mutated"
	p.Items[0].LastError = "mutated"
	if got := e.listDeliveries(shipevents.DeliveryFilter{EventID: ev.ID}).Items[0]; got.State != want.State || got.LastError != want.LastError {
		e.errorf("values returned must not alias the store's state (the deliveries ListDeliveries returned were changed)", "State %q LastError %q, want %q %q", got.State, got.LastError, want.State, want.LastError)
	}
	as := e.attempts(ids[0])
	as[0].Error = "mutated"
	as[0].Response = "mutated"
	if got := e.attempts(ids[0]); len(got) != 1 || got[0].Error != rec.Attempt.Error || got[0].Response != rec.Attempt.Response {
		e.errorf("values returned must not alias the store's state (the attempts ListAttempts returned were changed)", "got %+v", got)
	}
}

func testCancelledContext(e *env) {
	ev, ids := e.seed(base)
	ship := e.shipmentEvent(shipevents.StatusInTransit, newID("trk"), base)
	e.appendOne(ship)
	sub := subscription(newID("sub"))
	e.noErr(e.s.PutSubscription(e.ctx, sub), "PutSubscription")
	c := e.claimOne(base, ids[0], "ClaimDeliveries leases a due pending delivery")

	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	fresh := e.orderEvent(base)
	calls := []struct {
		name string
		call func() error
	}{
		{"AppendEvents", func() error {
			_, err := e.s.AppendEvents(ctx, []shipevents.AppendRecord{{Event: fresh}})
			return err
		}},
		{"GetEvent", func() error { _, err := e.s.GetEvent(ctx, ev.ID); return err }},
		{"ListEvents", func() error { _, err := e.s.ListEvents(ctx, shipevents.EventFilter{}); return err }},
		{"PutSubscription", func() error { return e.s.PutSubscription(ctx, subscription(newID("sub"))) }},
		{"DeleteSubscription", func() error { return e.s.DeleteSubscription(ctx, sub.ID) }},
		{"ListSubscriptions", func() error { _, err := e.s.ListSubscriptions(ctx); return err }},
		{"ClaimDeliveries", func() error {
			_, err := e.s.ClaimDeliveries(ctx, shipevents.ClaimRequest{Now: base, Lease: lease, Limit: 10})
			return err
		}},
		{"ExtendLeases", func() error { _, err := e.s.ExtendLeases(ctx, []shipevents.Lease{c.Lease}, at(time.Hour)); return err }},
		{"RecordAttempts", func() error { _, err := e.s.RecordAttempts(ctx, []shipevents.AttemptRecord{succeed(c)}); return err }},
		{"ListDeliveries", func() error { _, err := e.s.ListDeliveries(ctx, shipevents.DeliveryFilter{}); return err }},
		{"ListAttempts", func() error { _, err := e.s.ListAttempts(ctx, ids[0]); return err }},
		{"RequeueDeliveries", func() error { _, err := e.s.RequeueDeliveries(ctx, ids, at(time.Hour)); return err }},
		{"ShipmentState", func() error {
			_, err := e.s.ShipmentState(ctx, ship.Shipment())
			return err
		}},
	}
	for _, m := range calls {
		if err := m.call(); err == nil {
			e.errorf("every method honours ctx cancellation", "%s with a cancelled ctx returned no error", m.name)
		}
	}
}

func testAddDeliveries(e *env) {
	adder, ok := e.s.(shipevents.DeliveryAdder)
	if !ok {
		e.Logf("the store does not implement shipevents.DeliveryAdder; this optional rule does not apply")
		return
	}
	ev, ids := e.seed(base)
	first, second := nd(ev, newID("sub"), at(time.Second)), nd(ev, newID("sub"), at(2*time.Second))
	e.evOf[first.ID], e.evOf[second.ID] = ev.ID, ev.ID
	// The existing delivery is passed again: it must be left alone.
	existing := shipevents.NewDelivery{ID: ids[0], SubscriptionID: "someone-else", NextAttemptAt: at(time.Hour)}
	n, err := adder.AddDeliveries(e.ctx, ev.ID, []shipevents.NewDelivery{first, existing, second})
	e.noErr(err, "AddDeliveries for a stored event")
	if n != 2 {
		e.errorf("AddDeliveries returns how many deliveries it created", "got %d, want 2", n)
	}
	if n, err := adder.AddDeliveries(e.ctx, ev.ID, []shipevents.NewDelivery{first, second}); err != nil || n != 0 {
		e.errorf("AddDeliveries is idempotent: existing ids are left as they are", "adding again = %d, %v; want 0, nil", n, err)
	}
	if d := e.delivery(ids[0]); !d.NextAttemptAt.Equal(base) || d.SubscriptionID == "someone-else" {
		e.errorf("AddDeliveries leaves an existing delivery as it is", "delivery %s became %+v", ids[0], d)
	}
	for _, x := range []shipevents.NewDelivery{first, second} {
		d := e.delivery(x.ID)
		e.checkState("AddDeliveries creates deliveries pending with no attempts", d, shipevents.DeliveryPending, 0)
		if d.SubscriptionID != x.SubscriptionID || d.EventID != ev.ID || !d.NextAttemptAt.Equal(x.NextAttemptAt) {
			e.errorf("AddDeliveries creates each delivery as given", "got %+v, want %+v of event %s", d, x, ev.ID)
		}
	}
	if got := e.getEvent(ev.ID).PendingDeliveries; got != 3 {
		e.errorf("added deliveries count as the event's pending deliveries", "PendingDeliveries = %d, want 3", got)
	}
	e.claimOne(base, ids[0], "the seeded delivery is due first")
	c := e.claimOne(at(time.Second), first.ID, "an added delivery is claimed at its NextAttemptAt")
	e.sameEvent("an added delivery's claim carries its event", c.Event, ev)

	missing := shipevents.NewDelivery{ID: shipevents.DeliveryID("no-such-event", "s"), SubscriptionID: "s", NextAttemptAt: base}
	if n, err := adder.AddDeliveries(e.ctx, "no-such-event", []shipevents.NewDelivery{missing}); !errors.Is(err, shipevents.ErrNotFound) || n != 0 {
		e.errorf("AddDeliveries for an unknown event fails with ErrNotFound and creates nothing", "got %d, %v", n, err)
	}
	if p := e.listDeliveries(shipevents.DeliveryFilter{EventID: "no-such-event"}); len(p.Items) != 0 {
		e.errorf("AddDeliveries for an unknown event creates nothing", "listed %d deliveries", len(p.Items))
	}
}
