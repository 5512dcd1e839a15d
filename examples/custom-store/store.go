package main

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shipevents/shipevents"
)

// Store is a deliberately simple [shipevents.Store]: one mutex guards plain
// slices and maps, and every method holds it for its whole run, which makes
// each call atomic. A database adapter does the same work with a
// transaction per call (and SELECT ... FOR UPDATE SKIP LOCKED for claims).
//
// Four habits carry over to any adapter:
//   - know an event by its key, tenant and id together (Event.Key): two
//     tenants tracking one parcel publish the same scan id, and each copy
//     is an event of its own; a delivery names its event by both
//     (Delivery.EventKey);
//   - copy on the way in and on the way out (Event.Clone, Subscription.Clone):
//     values passed in belong to the caller, values returned must not alias
//     the store;
//   - judge due deliveries and expired leases by the times the caller
//     passes (ClaimRequest.Now), never by the store's own clock;
//   - fence by lease token: a token is issued on every claim and cleared by
//     an outcome or a requeue, and only the current token may record.
//
// Store is safe for concurrent use. It keeps everything in memory and scans
// whole slices, so it suits tests and demos, not production volumes.
type Store struct {
	// now stamps StoredAt, CreatedAt and UpdatedAt (bookkeeping only).
	now func() time.Time

	mu           sync.Mutex
	events       []*eventRow                       // append order; Seq = index + 1
	eventByKey   map[shipevents.EventKey]*eventRow // the idempotency index
	deliveries   []*deliveryRow                    // creation order; cursor = index + 1
	deliveryByID map[string]*deliveryRow
	shipments    map[shipevents.ShipmentKey]shipevents.ShipmentState
	subs         map[string]shipevents.Subscription
	lastToken    int64 // lease tokens are "1", "2", ...: unique per store
}

// eventRow is a stored event and the deliveries created with it.
type eventRow struct {
	stored     shipevents.StoredEvent // PendingDeliveries is computed on read
	deliveries []*deliveryRow
}

// deliveryRow is a delivery, its current lease token and its attempts.
type deliveryRow struct {
	seq      int64
	d        shipevents.Delivery
	token    string // "" when no lease is held
	attempts []shipevents.Attempt
}

var _ shipevents.Store = (*Store)(nil)

// NewStore returns an empty Store.
func NewStore() *Store {
	return &Store{
		now:          time.Now,
		eventByKey:   map[shipevents.EventKey]*eventRow{},
		deliveryByID: map[string]*deliveryRow{},
		shipments:    map[shipevents.ShipmentKey]shipevents.ShipmentState{},
		subs:         map[string]shipevents.Subscription{},
	}
}

// ---------------------------------------------------------------------------
// EventStore

// AppendEvents implements [shipevents.EventStore]. Records are handled in
// order under one lock, so each one is atomic: its event, its deliveries
// and the shipment's new state appear together or not at all.
func (s *Store) AppendEvents(ctx context.Context, records []shipevents.AppendRecord) ([]shipevents.AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	results := make([]shipevents.AppendResult, len(records))
	for i, r := range records {
		results[i] = s.appendLocked(r, now)
	}
	return results, nil
}

func (s *Store) appendLocked(r shipevents.AppendRecord, now time.Time) shipevents.AppendResult {
	ev := r.Event
	key := ev.Key()
	res := shipevents.AppendResult{TenantID: key.TenantID, EventID: key.ID}

	// Idempotency: a key seen before writes nothing. The same id under
	// another tenant is another event.
	if _, ok := s.eventByKey[key]; ok {
		res.Outcome = shipevents.AppendDuplicate
		return res
	}

	// The ordering rule, for events about a shipment's status. (An event
	// with a tracking number but no status, such as shipment.updated, says
	// nothing about the status and leaves the state alone.)
	var u shipevents.ShipmentUpdate
	if key, ok := ev.StatusKey(); ok {
		cur, exists := s.shipments[key]
		if u = shipevents.UpdateShipment(cur, exists, &ev, now); u.Changed {
			s.shipments[key] = u.State
		}
	}
	res.Outcome = u.Outcome()

	row := &eventRow{stored: shipevents.StoredEvent{
		Event:    ev.Clone(), // the caller keeps its maps
		Seq:      int64(len(s.events) + 1),
		Late:     u.Late,
		StoredAt: now,
	}}
	s.events = append(s.events, row)
	s.eventByKey[key] = row

	// The outbox: the deliveries are created in the same step; a late
	// event gets only those that do not need it to be current.
	for _, nd := range r.Deliveries {
		if !u.Creates(nd) {
			continue
		}
		if _, ok := s.deliveryByID[nd.ID]; ok {
			continue // delivery ids are deterministic; never create one twice
		}
		dr := &deliveryRow{
			seq: int64(len(s.deliveries) + 1),
			d: shipevents.Delivery{
				ID: nd.ID, TenantID: ev.TenantID, EventID: ev.ID, SubscriptionID: nd.SubscriptionID,
				State: shipevents.DeliveryPending, NextAttemptAt: nd.NextAttemptAt,
				CreatedAt: now, UpdatedAt: now,
			},
		}
		s.deliveries = append(s.deliveries, dr)
		s.deliveryByID[nd.ID] = dr
		row.deliveries = append(row.deliveries, dr)
		res.Deliveries++
	}
	return res
}

// storedCopy returns a copy of a stored event the caller may change.
func (row *eventRow) storedCopy() shipevents.StoredEvent {
	out := row.stored
	out.Event = row.stored.Event.Clone()
	for _, dr := range row.deliveries {
		if dr.d.State == shipevents.DeliveryPending || dr.d.State == shipevents.DeliveryInFlight {
			out.PendingDeliveries++
		}
	}
	return out
}

// GetEvent implements [shipevents.EventStore].
func (s *Store) GetEvent(ctx context.Context, key shipevents.EventKey) (shipevents.StoredEvent, error) {
	if err := ctx.Err(); err != nil {
		return shipevents.StoredEvent{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	row, ok := s.eventByKey[key]
	if !ok {
		return shipevents.StoredEvent{}, fmt.Errorf("event %s: %w", key, shipevents.ErrNotFound)
	}
	return row.storedCopy(), nil
}

// ListEvents implements [shipevents.EventStore]. A cursor is an event's Seq
// (shipevents.EncodeCursor), so it stays valid when events are appended.
func (s *Store) ListEvents(ctx context.Context, f shipevents.EventFilter) (shipevents.Page[shipevents.StoredEvent], error) {
	var page shipevents.Page[shipevents.StoredEvent]
	if err := ctx.Err(); err != nil {
		return page, err
	}
	after, err := decodeCursor(f.After)
	if err != nil {
		return page, err
	}
	before, err := decodeCursor(f.Before)
	if err != nil {
		return page, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	// Every match, newest first.
	var matches []*eventRow
	for i := len(s.events) - 1; i >= 0; i-- {
		if shipevents.EventMatchesFilter(&s.events[i].stored.Event, &f) {
			matches = append(matches, s.events[i])
		}
	}
	// The cursors bound a window of the list: After keeps the older events
	// (smaller Seq), Before the newer ones (larger Seq).
	lo, hi := 0, len(matches)
	if after > 0 {
		lo = sort.Search(len(matches), func(i int) bool { return matches[i].stored.Seq < after })
	}
	if before > 0 {
		hi = sort.Search(len(matches), func(i int) bool { return matches[i].stored.Seq <= before })
	}
	start, end := cut(lo, hi, max(f.Offset, 0), shipevents.PageLimit(f.Limit), before > 0 && after == 0)

	page.PageInfo = shipevents.PageInfo{Count: len(matches), HasPreviousPage: start > 0, HasNextPage: end < len(matches)}
	for _, row := range matches[start:end] {
		page.Items = append(page.Items, row.storedCopy())
	}
	if start < end {
		page.PageInfo.StartCursor = shipevents.EncodeCursor(matches[start].stored.Seq)
		page.PageInfo.EndCursor = shipevents.EncodeCursor(matches[end-1].stored.Seq)
	}
	return page, nil
}

// cut picks one page of at most limit items out of the window [lo, hi) of
// a list: the first items, or the last ones when walking back.
func cut(lo, hi, offset, limit int, back bool) (start, end int) {
	if hi < lo {
		hi = lo
	}
	if back { // the offset walks from the cursor toward newer events
		end = max(lo, hi-offset)
		return max(lo, end-limit), end
	}
	start = min(lo+offset, hi)
	return start, min(hi, start+limit)
}

// decodeCursor returns 0 for no cursor; a bad one wraps ErrInvalidCursor.
func decodeCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	return shipevents.DecodeCursor(c)
}

// ---------------------------------------------------------------------------
// SubscriptionStore

// PutSubscription implements [shipevents.SubscriptionStore].
func (s *Store) PutSubscription(ctx context.Context, sub shipevents.Subscription) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs[sub.ID] = sub.Clone()
	return nil
}

// DeleteSubscription implements [shipevents.SubscriptionStore]. The
// subscription's deliveries stay; the dispatcher dead-letters them.
func (s *Store) DeleteSubscription(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.subs[id]; !ok {
		return fmt.Errorf("subscription %q: %w", id, shipevents.ErrNotFound)
	}
	delete(s.subs, id)
	return nil
}

// ListSubscriptions implements [shipevents.SubscriptionStore].
func (s *Store) ListSubscriptions(ctx context.Context) ([]shipevents.Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]shipevents.Subscription, 0, len(s.subs))
	for _, sub := range s.subs {
		out = append(out, sub.Clone())
	}
	slices.SortFunc(out, func(a, b shipevents.Subscription) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// ---------------------------------------------------------------------------
// DeliveryQueue

// ClaimDeliveries implements [shipevents.DeliveryQueue].
func (s *Store) ClaimDeliveries(ctx context.Context, req shipevents.ClaimRequest) ([]shipevents.Claim, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req.Limit <= 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()

	// Due: pending and due by req.Now, or in flight with a lease that
	// expired at or before req.Now (its worker crashed or stalled).
	var due []*deliveryRow
	for _, dr := range s.deliveries {
		switch dr.d.State {
		case shipevents.DeliveryPending:
			if !dr.d.NextAttemptAt.After(req.Now) {
				due = append(due, dr)
			}
		case shipevents.DeliveryInFlight:
			if !dr.d.LeaseExpiresAt.After(req.Now) { // a lease holds while now < LeaseExpiresAt
				due = append(due, dr)
			}
		}
	}
	// NextAttemptAt order; the stable sort keeps creation order on ties.
	slices.SortStableFunc(due, func(a, b *deliveryRow) int { return a.d.NextAttemptAt.Compare(b.d.NextAttemptAt) })
	due = takeTurns(due, req)

	claims := make([]shipevents.Claim, 0, len(due))
	for _, dr := range due {
		s.lastToken++
		dr.token = strconv.FormatInt(s.lastToken, 10) // a new token fences out the previous holder
		dr.d.State = shipevents.DeliveryInFlight
		dr.d.LeaseExpiresAt = req.Now.Add(req.Lease)
		dr.d.UpdatedAt = req.Now
		claims = append(claims, shipevents.Claim{
			Delivery: dr.d, // Delivery holds no slices or maps: a plain copy is safe
			Event:    s.eventByKey[dr.d.EventKey()].stored.Event.Clone(),
			Lease:    shipevents.Lease{DeliveryID: dr.d.ID, Token: dr.token, ExpiresAt: dr.d.LeaseExpiresAt},
		})
	}
	return claims, nil
}

// takeTurns picks what a claim takes from due (sorted oldest first): at
// most req.Max(sub) per subscription, one of each subscription in turn,
// subscriptions in the order of their oldest due delivery, up to
// req.Limit.
func takeTurns(due []*deliveryRow, req shipevents.ClaimRequest) []*deliveryRow {
	var order []string // subscriptions by their oldest due delivery
	bySub := map[string][]*deliveryRow{}
	for _, dr := range due {
		id := dr.d.SubscriptionID
		if _, ok := bySub[id]; !ok {
			order = append(order, id)
			bySub[id] = nil
		}
		if len(bySub[id]) < req.Max(id) {
			bySub[id] = append(bySub[id], dr)
		}
	}
	var out []*deliveryRow
	for round := 0; len(out) < req.Limit; round++ {
		took := false
		for _, id := range order {
			if len(out) == req.Limit {
				break
			}
			if rows := bySub[id]; round < len(rows) {
				out = append(out, rows[round])
				took = true
			}
		}
		if !took {
			break
		}
	}
	return out
}

// held returns the delivery if l is its current lease. Time alone does not
// end a lease: only a new claim, an outcome or a requeue replaces the token.
func (s *Store) held(l shipevents.Lease) (*deliveryRow, error) {
	dr, ok := s.deliveryByID[l.DeliveryID]
	if !ok || dr.d.State != shipevents.DeliveryInFlight || dr.token == "" || dr.token != l.Token {
		return nil, fmt.Errorf("delivery %q: %w", l.DeliveryID, shipevents.ErrLeaseLost)
	}
	return dr, nil
}

// ExtendLeases implements [shipevents.DeliveryQueue].
func (s *Store) ExtendLeases(ctx context.Context, leases []shipevents.Lease, until time.Time) ([]error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	errs := make([]error, len(leases))
	for i, l := range leases {
		dr, err := s.held(l)
		if err != nil {
			errs[i] = err
			continue
		}
		dr.d.LeaseExpiresAt = until
	}
	return errs, nil
}

// RecordAttempts implements [shipevents.DeliveryQueue]. The whole batch
// runs under one lock, so it is atomic.
func (s *Store) RecordAttempts(ctx context.Context, records []shipevents.AttemptRecord) ([]error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	errs := make([]error, len(records))
	for i, r := range records {
		dr, err := s.held(r.Lease)
		if err != nil {
			errs[i] = err // fencing: a lost lease changes nothing
			continue
		}
		var state shipevents.DeliveryState
		switch r.Outcome {
		case shipevents.OutcomeSucceeded:
			state = shipevents.DeliverySucceeded
		case shipevents.OutcomeDead:
			state = shipevents.DeliveryDead
		case shipevents.OutcomeRetry, shipevents.OutcomeReleased:
			state = shipevents.DeliveryPending
			dr.d.NextAttemptAt = r.NextAttemptAt
		default:
			errs[i] = fmt.Errorf("delivery %q: unknown outcome %q", dr.d.ID, r.Outcome)
			continue
		}
		if r.Outcome != shipevents.OutcomeReleased { // a released delivery was not attempted
			a := r.Attempt
			a.DeliveryID = dr.d.ID
			if a.Number == 0 {
				a.Number = dr.d.Attempts + 1
			}
			// Copies, not slices: a slice of a large string keeps all of
			// it alive.
			a.Response = strings.Clone(a.Response[:min(len(a.Response), shipevents.MaxStoredResponse)])
			a.Error = strings.Clone(a.Error)
			dr.attempts = append(dr.attempts, a)
			dr.d.Attempts++
			dr.d.LastError = a.Error
			dr.d.LastStatusCode = a.StatusCode
		}
		dr.d.State = state
		dr.token = "" // the outcome spends the lease
		dr.d.LeaseExpiresAt = time.Time{}
		dr.d.UpdatedAt = now
	}
	return errs, nil
}

// ---------------------------------------------------------------------------
// DeliveryLog

// ListDeliveries implements [shipevents.DeliveryLog]: oldest first, and a
// cursor is a delivery's position in creation order.
func (s *Store) ListDeliveries(ctx context.Context, f shipevents.DeliveryFilter) (shipevents.Page[shipevents.Delivery], error) {
	var page shipevents.Page[shipevents.Delivery]
	if err := ctx.Err(); err != nil {
		return page, err
	}
	after, err := decodeCursor(f.After)
	if err != nil {
		return page, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var matches []*deliveryRow
	for i := range s.deliveries {
		if f.NewestFirst {
			i = len(s.deliveries) - 1 - i
		}
		// TenantID and EventID together name one event (see
		// shipevents.DeliveryFilter); DeliveryMatchesFilter knows the rule.
		if dr := s.deliveries[i]; shipevents.DeliveryMatchesFilter(&dr.d, &f) {
			matches = append(matches, dr)
		}
	}
	lo := sort.Search(len(matches), func(i int) bool { return matches[i].seq > after })
	if f.NewestFirst && after > 0 {
		lo = sort.Search(len(matches), func(i int) bool { return matches[i].seq < after })
	}
	start, end := cut(lo, len(matches), 0, shipevents.PageLimit(f.Limit), false)
	page.PageInfo = shipevents.PageInfo{Count: len(matches), HasPreviousPage: start > 0, HasNextPage: end < len(matches)}
	for _, dr := range matches[start:end] {
		page.Items = append(page.Items, dr.d)
	}
	if start < end {
		page.PageInfo.StartCursor = shipevents.EncodeCursor(matches[start].seq)
		page.PageInfo.EndCursor = shipevents.EncodeCursor(matches[end-1].seq)
	}
	return page, nil
}

// ListAttempts implements [shipevents.DeliveryLog].
func (s *Store) ListAttempts(ctx context.Context, deliveryID string) ([]shipevents.Attempt, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	dr, ok := s.deliveryByID[deliveryID]
	if !ok {
		return nil, fmt.Errorf("delivery %q: %w", deliveryID, shipevents.ErrNotFound)
	}
	return slices.Clone(dr.attempts), nil // Attempt is flat: a new slice suffices
}

// RequeueDeliveries implements [shipevents.DeliveryLog]. Clearing the token
// revokes any lease held on the delivery.
func (s *Store) RequeueDeliveries(ctx context.Context, ids []string, at time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, id := range ids {
		dr, ok := s.deliveryByID[id]
		if !ok {
			continue // unknown ids are skipped
		}
		dr.token = ""
		dr.d.State = shipevents.DeliveryPending
		dr.d.NextAttemptAt = at
		dr.d.LeaseExpiresAt = time.Time{}
		dr.d.UpdatedAt = now
		n++
	}
	return n, nil
}

// ---------------------------------------------------------------------------
// ShipmentStore

// ShipmentState implements [shipevents.ShipmentStore].
func (s *Store) ShipmentState(ctx context.Context, key shipevents.ShipmentKey) (shipevents.ShipmentState, error) {
	if err := ctx.Err(); err != nil {
		return shipevents.ShipmentState{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.shipments[key]
	if !ok {
		return shipevents.ShipmentState{}, fmt.Errorf("shipment %s: %w", key, shipevents.ErrNotFound)
	}
	return st, nil
}
