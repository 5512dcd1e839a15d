package shipevents

import (
	"container/heap"
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// MemoryStoreConfig configures a [MemoryStore]. The zero value is ready to
// use.
type MemoryStoreConfig struct {
	// Now stamps StoredAt, CreatedAt and UpdatedAt; nil means time.Now.
	Now func() time.Time
	// Retention, when positive, bounds memory in a long-running process:
	// events stored more than Retention ago whose deliveries have all
	// succeeded (or that had none) are forgotten, with their deliveries
	// and attempts, and so are terminal shipment states last updated that
	// long ago. Events with pending or in-flight deliveries and dead
	// letters are kept whatever their age. A forgotten event is no longer
	// recognised as a duplicate, so choose a Retention longer than the
	// time within which carriers re-send a history (days, not minutes).
	// Zero keeps everything (but dead letters beyond MaxDeadLetters).
	Retention time.Duration
	// MaxDeadLetters bounds the dead letters kept, which Retention does
	// not forget: an endpoint that fails everything would otherwise grow
	// memory without end. Beyond it the oldest dead letters (by the time
	// they died) are forgotten with their attempts, and counted
	// ([MemoryStore.DroppedDeadLetters]); their events stay, and are then
	// forgotten under Retention like any other. A dead letter keeps its
	// attempts, each at most MaxStoredResponse plus MaxStoredError bytes
	// of text. Zero means DefaultMaxDeadLetters; negative keeps every one.
	MaxDeadLetters int
}

// DefaultMaxDeadLetters is the MemoryStore's bound on dead letters when
// MemoryStoreConfig.MaxDeadLetters is zero.
const DefaultMaxDeadLetters = 10_000

// MemoryStore is the embedded [Store]: everything in process memory, safe
// for concurrent use, and fast (claims are served from a queue of due
// deliveries per subscription, and a heap of those queues by their oldest
// delivery). It is the default for a single process and for tests; its
// contents die with the process, and unless [MemoryStoreConfig.Retention]
// is set it keeps every event it is given, so hosts with large volumes or
// several instances use a database-backed Store (see the pgstore module).
type MemoryStore struct {
	now       func() time.Time
	retention time.Duration

	mu         sync.Mutex
	events     map[EventKey]*memEvent
	eventLog   []*memEvent // append order; Seq = index+1
	subs       map[string]Subscription
	deliveries map[string]*memDelivery
	delivLog   []*memDelivery
	// Pending deliveries, and in-flight ones whose lease has expired, wait
	// in their subscription's queue (queueOf), by NextAttemptAt; queues
	// holds the non-empty ones by their first delivery. leased holds live
	// leases by expiry.
	queueOf   map[string]*subQueue
	queues    queueHeap
	leased    deliveryHeap
	shipments map[ShipmentKey]ShipmentState
	tokenSeq  uint64
	// Retention bookkeeping: appends since the last sweep, and the first
	// eventLog index that may still hold something to forget.
	sincePrune int
	pruneFrom  int
	// Dead letters in the order they died, for MaxDeadLetters: an entry
	// is live while deadSeqs holds its seq for its delivery; entries whose
	// delivery was replayed (or died again since) are stale and skipped.
	// The seqs live in a map of their own, not in memDelivery: only dead
	// letters need one.
	maxDead     int
	deadOrder   []deadEntry
	deadHead    int
	deadSeq     uint64
	deadSeqs    map[*memDelivery]uint64
	deadDropped int64
}

type deadEntry struct {
	md  *memDelivery
	seq uint64
}

var _ Store = (*MemoryStore)(nil)

type memEvent struct {
	stored     StoredEvent // PendingDeliveries is computed on read
	pending    int
	deliveries []string // ids of its deliveries, for retention
}

type memDelivery struct {
	logIdx   int // index in delivLog
	d        Delivery
	token    string
	attempts []Attempt
	heap     *deliveryHeap // the heap it is in, nil if none
	heapIdx  int
}

// deliveryHeap orders deliveries by NextAttemptAt (a subscription's due
// queue) or by LeaseExpiresAt (the leased heap), ties in creation order.
type deliveryHeap struct {
	items   []*memDelivery
	byLease bool
	sub     *subQueue // the queue this heap is, nil for the leased heap
}

func (h *deliveryHeap) Len() int { return len(h.items) }
func (h *deliveryHeap) Less(i, j int) bool {
	a, b := h.items[i], h.items[j]
	if h.byLease && !a.d.LeaseExpiresAt.Equal(b.d.LeaseExpiresAt) {
		return a.d.LeaseExpiresAt.Before(b.d.LeaseExpiresAt)
	}
	return dueBefore(a, b)
}

// dueBefore is the claim order: NextAttemptAt, then creation order.
func dueBefore(a, b *memDelivery) bool {
	if !a.d.NextAttemptAt.Equal(b.d.NextAttemptAt) {
		return a.d.NextAttemptAt.Before(b.d.NextAttemptAt)
	}
	return a.logIdx < b.logIdx
}
func (h *deliveryHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].heapIdx, h.items[j].heapIdx = i, j
}
func (h *deliveryHeap) Push(x any) {
	m := x.(*memDelivery)
	m.heap, m.heapIdx = h, len(h.items)
	h.items = append(h.items, m)
}
func (h *deliveryHeap) Pop() any {
	m := h.items[len(h.items)-1]
	h.items[len(h.items)-1] = nil
	h.items = h.items[:len(h.items)-1]
	m.heap, m.heapIdx = nil, -1
	return m
}
func (h *deliveryHeap) top() *memDelivery { return h.items[0] }

// subQueue is one subscription's due deliveries.
type subQueue struct {
	id  string
	due deliveryHeap
	idx int // in MemoryStore.queues, -1 when not in it
}

// queueHeap orders non-empty subscription queues by their first delivery.
type queueHeap []*subQueue

func (h queueHeap) Len() int           { return len(h) }
func (h queueHeap) Less(i, j int) bool { return dueBefore(h[i].due.top(), h[j].due.top()) }
func (h queueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *queueHeap) Push(x any) {
	q := x.(*subQueue)
	q.idx = len(*h)
	*h = append(*h, q)
}
func (h *queueHeap) Pop() any {
	old := *h
	q := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	q.idx = -1
	return q
}

// unqueue takes a delivery out of whichever heap holds it.
func (s *MemoryStore) unqueue(m *memDelivery) {
	h := m.heap
	if h == nil {
		return
	}
	heap.Remove(h, m.heapIdx)
	if h.sub != nil {
		s.requeue(h.sub)
	}
}

// pushDue puts a delivery in its subscription's queue.
func (s *MemoryStore) pushDue(m *memDelivery) {
	q := s.queueOf[m.d.SubscriptionID]
	if q == nil {
		q = &subQueue{id: m.d.SubscriptionID, idx: -1}
		q.due.sub = q
		s.queueOf[q.id] = q
	}
	heap.Push(&q.due, m)
	s.requeue(q)
}

// requeue puts q in its place in s.queues after its first delivery
// changed, and forgets it once empty.
func (s *MemoryStore) requeue(q *subQueue) {
	switch {
	case q.due.Len() == 0:
		if q.idx >= 0 {
			heap.Remove(&s.queues, q.idx)
		}
		delete(s.queueOf, q.id)
	case q.idx < 0:
		heap.Push(&s.queues, q)
	default:
		heap.Fix(&s.queues, q.idx)
	}
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(cfg MemoryStoreConfig) *MemoryStore {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	maxDead := cfg.MaxDeadLetters
	if maxDead == 0 {
		maxDead = DefaultMaxDeadLetters
	}
	return &MemoryStore{
		now:        now,
		retention:  cfg.Retention,
		maxDead:    maxDead,
		deadSeqs:   map[*memDelivery]uint64{},
		events:     map[EventKey]*memEvent{},
		subs:       map[string]Subscription{},
		deliveries: map[string]*memDelivery{},
		shipments:  map[ShipmentKey]ShipmentState{},
		queueOf:    map[string]*subQueue{},
		leased:     deliveryHeap{byLease: true},
	}
}

// AppendEvents implements [EventStore].
func (s *MemoryStore) AppendEvents(ctx context.Context, records []AppendRecord) ([]AppendResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	results := make([]AppendResult, len(records))
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range records {
		r := &records[i]
		key := r.Event.Key()
		results[i].TenantID, results[i].EventID = key.TenantID, key.ID
		if _, dup := s.events[key]; dup {
			results[i].Outcome = AppendDuplicate
			continue
		}
		var u ShipmentUpdate
		if sk, ok := r.Event.StatusKey(); ok {
			cur, exists := s.shipments[sk]
			if u = UpdateShipment(cur, exists, &r.Event, now); u.Changed {
				s.shipments[sk] = u.State
			}
		}
		me := &memEvent{stored: StoredEvent{Event: r.Event.Clone(), Seq: int64(len(s.eventLog) + 1), Late: u.Late, StoredAt: now}}
		s.events[key] = me
		s.eventLog = append(s.eventLog, me)
		results[i].Outcome = u.Outcome()
		for _, nd := range r.Deliveries {
			if u.Creates(nd) && s.addDeliveryLocked(me, nd, now) {
				results[i].Deliveries++
			}
		}
	}
	if s.retention > 0 {
		s.sincePrune += len(records)
		if s.sincePrune >= pruneEvery {
			s.sincePrune = 0
			s.prune(now.Add(-s.retention))
		}
	}
	return results, nil
}

// addDeliveryLocked creates the delivery nd of event me, pending, unless
// its id exists; it reports whether it did. s.mu must be held.
func (s *MemoryStore) addDeliveryLocked(me *memEvent, nd NewDelivery, now time.Time) bool {
	if _, exists := s.deliveries[nd.ID]; exists {
		return false
	}
	ev := &me.stored.Event
	md := &memDelivery{logIdx: len(s.delivLog), d: Delivery{ID: nd.ID, TenantID: ev.TenantID, EventID: ev.ID, SubscriptionID: nd.SubscriptionID,
		State: DeliveryPending, NextAttemptAt: nd.NextAttemptAt, CreatedAt: now, UpdatedAt: now}, heapIdx: -1}
	s.deliveries[nd.ID] = md
	s.delivLog = append(s.delivLog, md)
	if s.retention > 0 {
		me.deliveries = append(me.deliveries, nd.ID)
	}
	s.pushDue(md)
	me.pending++
	return true
}

// AddDeliveries implements [DeliveryAdder].
func (s *MemoryStore) AddDeliveries(ctx context.Context, key EventKey, deliveries []NewDelivery) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	now := s.now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	me := s.events[key]
	if me == nil {
		return 0, fmt.Errorf("event %s: %w", key, ErrNotFound)
	}
	n := 0
	for _, nd := range deliveries {
		if s.addDeliveryLocked(me, nd, now) {
			n++
		}
	}
	return n, nil
}

// pruneEvery is how many appends pass between two retention sweeps.
const pruneEvery = 1024

// prune forgets what Retention allows: events stored before cutoff whose
// deliveries all succeeded, with their deliveries, and terminal shipment
// states last updated before cutoff. Forgotten slots in the logs stay as
// nil entries, so sequence numbers and cursors keep their meaning.
func (s *MemoryStore) prune(cutoff time.Time) {
	next := len(s.eventLog) // where the next sweep starts
	for i := s.pruneFrom; i < len(s.eventLog); i++ {
		me := s.eventLog[i]
		if me == nil {
			continue
		}
		if !me.stored.StoredAt.Before(cutoff) {
			next = min(next, i) // append order is StoredAt order: the rest is younger
			break
		}
		if me.pending > 0 || s.hasDeadLetter(me) {
			next = min(next, i) // kept for now; look again next time
			continue
		}
		for _, id := range me.deliveries {
			if md := s.deliveries[id]; md != nil {
				s.delivLog[md.logIdx] = nil
				delete(s.deliveries, id)
			}
		}
		delete(s.events, me.stored.Event.Key())
		s.eventLog[i] = nil
	}
	s.pruneFrom = next
	for k, st := range s.shipments {
		if st.Status.Terminal() && st.UpdatedAt.Before(cutoff) {
			delete(s.shipments, k)
		}
	}
}

func (s *MemoryStore) hasDeadLetter(me *memEvent) bool {
	for _, id := range me.deliveries {
		if md := s.deliveries[id]; md != nil && md.d.State == DeliveryDead {
			return true
		}
	}
	return false
}

func (s *MemoryStore) storedCopy(me *memEvent) StoredEvent {
	out := me.stored
	out.Event = me.stored.Event.Clone()
	out.PendingDeliveries = me.pending
	return out
}

// GetEvent implements [EventStore].
func (s *MemoryStore) GetEvent(ctx context.Context, key EventKey) (StoredEvent, error) {
	if err := ctx.Err(); err != nil {
		return StoredEvent{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	me, ok := s.events[key]
	if !ok {
		return StoredEvent{}, fmt.Errorf("event %s: %w", key, ErrNotFound)
	}
	return s.storedCopy(me), nil
}

// ListEvents implements [EventStore].
func (s *MemoryStore) ListEvents(ctx context.Context, f EventFilter) (Page[StoredEvent], error) {
	if err := ctx.Err(); err != nil {
		return Page[StoredEvent]{}, err
	}
	limit := PageLimit(f.Limit)
	var after, before int64 = -1, -1
	var err error
	if f.After != "" {
		if after, err = DecodeCursor(f.After); err != nil {
			return Page[StoredEvent]{}, err
		}
	}
	if f.Before != "" {
		if before, err = DecodeCursor(f.Before); err != nil {
			return Page[StoredEvent]{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Walk newest first; collect every match's seq (cheap ints) to answer
	// count and page edges in one pass.
	var seqs []int64
	for i := len(s.eventLog) - 1; i >= 0; i-- {
		if s.eventLog[i] != nil && EventMatchesFilter(&s.eventLog[i].stored.Event, &f) {
			seqs = append(seqs, s.eventLog[i].stored.Seq)
		}
	}
	return pageBySeq(seqs, after, before, max(f.Offset, 0), limit, func(seq int64) StoredEvent {
		return s.storedCopy(s.eventLog[seq-1])
	}), nil
}

// pageBySeq cuts one page out of seqs (sorted newest first) given the
// cursors (-1 when absent) and the offset: After continues to older
// items, Before walks back to the newer ones just before the cursor, and
// the offset skips matches in the page's direction.
func pageBySeq[T any](seqs []int64, after, before int64, offset, limit int, get func(int64) T) Page[T] {
	lo, hi := 0, len(seqs)
	if after >= 0 {
		lo = sort.Search(len(seqs), func(i int) bool { return seqs[i] < after })
	}
	if before >= 0 {
		hi = sort.Search(len(seqs), func(i int) bool { return seqs[i] <= before })
	}
	start := min(lo+offset, hi)
	end := min(hi, start+limit)
	if before >= 0 && after < 0 {
		end = max(0, hi-offset)
		start = max(0, end-limit)
	}
	p := Page[T]{PageInfo: PageInfo{Count: len(seqs), HasPreviousPage: start > 0, HasNextPage: end < len(seqs)}}
	if start >= end {
		return p
	}
	p.Items = make([]T, 0, end-start)
	for _, seq := range seqs[start:end] {
		p.Items = append(p.Items, get(seq))
	}
	p.PageInfo.StartCursor = EncodeCursor(seqs[start])
	p.PageInfo.EndCursor = EncodeCursor(seqs[end-1])
	return p
}

// PutSubscription implements [SubscriptionStore].
func (s *MemoryStore) PutSubscription(ctx context.Context, sub Subscription) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.subs[sub.ID] = sub.Clone()
	return nil
}

// DeleteSubscription implements [SubscriptionStore].
func (s *MemoryStore) DeleteSubscription(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.subs[id]; !ok {
		return fmt.Errorf("subscription %q: %w", id, ErrNotFound)
	}
	delete(s.subs, id)
	return nil
}

// ListSubscriptions implements [SubscriptionStore].
func (s *MemoryStore) ListSubscriptions(ctx context.Context) ([]Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Subscription, 0, len(s.subs))
	for _, sub := range s.subs {
		out = append(out, sub.Clone())
	}
	slices.SortFunc(out, func(a, b Subscription) int { return strings.Compare(a.ID, b.ID) })
	return out, nil
}

// ClaimDeliveries implements [DeliveryQueue].
func (s *MemoryStore) ClaimDeliveries(ctx context.Context, req ClaimRequest) ([]Claim, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if req.Limit <= 0 {
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	// Expired leases make their deliveries due again, in their original
	// NextAttemptAt place: the oldest work goes first.
	for s.leased.Len() > 0 && !s.leased.top().d.LeaseExpiresAt.After(req.Now) {
		s.pushDue(heap.Pop(&s.leased).(*memDelivery))
	}
	// The first round takes the first delivery of each subscription whose
	// first delivery is due, oldest first; it takes the queues out of
	// s.queues, so a subscription whose share is used up costs one heap
	// operation, however long its queue. Later rounds go through the
	// subscriptions that may give more, in the same order.
	type turn struct {
		q    *subQueue
		left int
	}
	var (
		out    []Claim
		popped []*subQueue
		turns  []turn
	)
	due := func(q *subQueue) bool { return q.due.Len() > 0 && !q.due.top().d.NextAttemptAt.After(req.Now) }
	for len(out) < req.Limit && s.queues.Len() > 0 && due(s.queues[0]) {
		q := heap.Pop(&s.queues).(*subQueue)
		popped = append(popped, q)
		n := req.Max(q.id)
		if n == 0 {
			continue
		}
		out = append(out, s.lease(heap.Pop(&q.due).(*memDelivery), req))
		if n > 1 {
			turns = append(turns, turn{q, n - 1})
		}
	}
	for len(out) < req.Limit && len(turns) > 0 {
		next := turns[:0]
		for _, tr := range turns {
			if len(out) == req.Limit {
				break
			}
			if !due(tr.q) {
				continue
			}
			out = append(out, s.lease(heap.Pop(&tr.q.due).(*memDelivery), req))
			if tr.left--; tr.left > 0 {
				next = append(next, tr)
			}
		}
		turns = next
	}
	for _, q := range popped {
		s.requeue(q)
	}
	return out, nil
}

// lease moves a delivery taken out of its queue to the leased heap under a
// new token and returns its claim.
func (s *MemoryStore) lease(md *memDelivery, req ClaimRequest) Claim {
	s.tokenSeq++
	md.token = strconv.FormatUint(s.tokenSeq, 36)
	md.d.State = DeliveryInFlight
	md.d.LeaseExpiresAt = req.Now.Add(req.Lease)
	md.d.UpdatedAt = req.Now
	heap.Push(&s.leased, md)
	ev := s.events[md.d.EventKey()]
	return Claim{Delivery: md.d, Event: ev.stored.Event.Clone(),
		Lease: Lease{DeliveryID: md.d.ID, Token: md.token, ExpiresAt: md.d.LeaseExpiresAt}}
}

// held returns the delivery when lease is still its current lease. An
// expired lease that nobody has claimed again is still honoured: the
// worker was slow, not wrong, and no newer attempt exists to protect.
func (s *MemoryStore) held(l Lease) (*memDelivery, error) {
	md, ok := s.deliveries[l.DeliveryID]
	if !ok {
		return nil, fmt.Errorf("delivery %q: %w", l.DeliveryID, ErrNotFound)
	}
	if md.d.State != DeliveryInFlight || md.token != l.Token {
		return nil, fmt.Errorf("delivery %q: %w", l.DeliveryID, ErrLeaseLost)
	}
	return md, nil
}

// ExtendLeases implements [DeliveryQueue].
func (s *MemoryStore) ExtendLeases(ctx context.Context, leases []Lease, until time.Time) ([]error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	errs := make([]error, len(leases))
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, l := range leases {
		md, err := s.held(l)
		if err != nil {
			errs[i] = err
			continue
		}
		md.d.LeaseExpiresAt = until
		s.unqueue(md) // it may have moved to due when the lease lapsed
		heap.Push(&s.leased, md)
	}
	return errs, nil
}

// RecordAttempts implements [DeliveryQueue].
func (s *MemoryStore) RecordAttempts(ctx context.Context, records []AttemptRecord) ([]error, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	errs := make([]error, len(records))
	now := s.now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range records {
		r := &records[i]
		md, err := s.held(r.Lease)
		if err != nil {
			errs[i] = err
			continue
		}
		md.token = "" // the lease is spent
		md.d.LeaseExpiresAt = time.Time{}
		md.d.UpdatedAt = now
		if r.Outcome != OutcomeReleased {
			a := r.Attempt
			a.DeliveryID = md.d.ID
			if a.Number == 0 {
				a.Number = md.d.Attempts + 1
			}
			// Copies: the caller's strings may be slices of much larger
			// ones, which a slice kept here would keep alive.
			a.Response = strings.Clone(a.Response[:min(len(a.Response), MaxStoredResponse)])
			a.Error = strings.Clone(a.Error)
			md.attempts = append(md.attempts, a)
			md.d.Attempts++
			md.d.LastError = a.Error
			md.d.LastStatusCode = a.StatusCode
		}
		switch r.Outcome {
		case OutcomeSucceeded, OutcomeDead:
			if r.Outcome == OutcomeSucceeded {
				md.d.State = DeliverySucceeded
			} else {
				md.d.State = DeliveryDead
			}
			s.unqueue(md)
			if me := s.events[md.d.EventKey()]; me != nil {
				me.pending--
			}
			if r.Outcome == OutcomeDead {
				s.addDeadLocked(md)
			}
		case OutcomeRetry, OutcomeReleased:
			md.d.State = DeliveryPending
			md.d.NextAttemptAt = r.NextAttemptAt
			s.unqueue(md)
			s.pushDue(md)
		default:
			errs[i] = fmt.Errorf("delivery %q: unknown outcome %q", md.d.ID, r.Outcome)
		}
	}
	return errs, nil
}

// ListDeliveries implements [DeliveryLog].
func (s *MemoryStore) ListDeliveries(ctx context.Context, f DeliveryFilter) (Page[Delivery], error) {
	if err := ctx.Err(); err != nil {
		return Page[Delivery]{}, err
	}
	limit := PageLimit(f.Limit)
	after := int64(-1)
	if f.After != "" {
		var err error
		if after, err = DecodeCursor(f.After); err != nil {
			return Page[Delivery]{}, err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	log := s.delivLog
	if f.ID != "" { // one delivery at most: no walk through the log
		log = nil
		if md := s.deliveries[f.ID]; md != nil {
			log = s.delivLog[md.logIdx : md.logIdx+1]
		}
	}
	var p Page[Delivery]
	for i := range log {
		if f.NewestFirst {
			i = len(log) - 1 - i
		}
		md := log[i]
		if md == nil { // forgotten by retention
			continue
		}
		seq := int64(md.logIdx + 1)
		d := &md.d
		if !DeliveryMatchesFilter(d, &f) {
			continue
		}
		p.PageInfo.Count++
		// At or before the cursor, in the page order.
		if after >= 0 && (!f.NewestFirst && seq <= after || f.NewestFirst && seq >= after) {
			p.PageInfo.HasPreviousPage = true
			continue
		}
		if len(p.Items) == limit {
			p.PageInfo.HasNextPage = true
			continue
		}
		if len(p.Items) == 0 {
			p.PageInfo.StartCursor = EncodeCursor(seq)
		}
		p.Items = append(p.Items, *d)
		p.PageInfo.EndCursor = EncodeCursor(seq)
	}
	return p, nil
}

// ListAttempts implements [DeliveryLog].
func (s *MemoryStore) ListAttempts(ctx context.Context, deliveryID string) ([]Attempt, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	md, ok := s.deliveries[deliveryID]
	if !ok {
		return nil, fmt.Errorf("delivery %q: %w", deliveryID, ErrNotFound)
	}
	return slices.Clone(md.attempts), nil
}

// RequeueDeliveries implements [DeliveryLog].
func (s *MemoryStore) RequeueDeliveries(ctx context.Context, ids []string, at time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	now := s.now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, id := range ids {
		md, ok := s.deliveries[id]
		if !ok {
			continue
		}
		if md.d.State == DeliverySucceeded || md.d.State == DeliveryDead {
			if me := s.events[md.d.EventKey()]; me != nil {
				me.pending++
			}
		}
		delete(s.deadSeqs, md) // its entry in deadOrder is stale now
		md.token = ""
		md.d.State = DeliveryPending
		md.d.NextAttemptAt = at
		md.d.LeaseExpiresAt = time.Time{}
		md.d.UpdatedAt = now
		s.unqueue(md)
		s.pushDue(md)
		n++
	}
	return n, nil
}

// addDeadLocked records that md just died, and forgets the oldest dead
// letters beyond MaxDeadLetters. s.mu must be held.
func (s *MemoryStore) addDeadLocked(md *memDelivery) {
	s.deadSeq++
	s.deadSeqs[md] = s.deadSeq
	s.deadOrder = append(s.deadOrder, deadEntry{md, s.deadSeq})
	for s.maxDead >= 0 && len(s.deadSeqs) > s.maxDead {
		e := s.deadOrder[s.deadHead]
		s.deadOrder[s.deadHead] = deadEntry{}
		s.deadHead++
		if !s.liveDead(e) {
			continue
		}
		delete(s.deadSeqs, e.md)
		delete(s.deliveries, e.md.d.ID)
		s.delivLog[e.md.logIdx] = nil
		s.deadDropped++
	}
	// Compact once the consumed head or the stale entries (replayed dead
	// letters) outweigh the live ones.
	if n := len(s.deadOrder) - s.deadHead; s.deadHead > 1024 && s.deadHead > n || n > 2*len(s.deadSeqs)+1024 {
		live := make([]deadEntry, 0, len(s.deadSeqs))
		for _, e := range s.deadOrder[s.deadHead:] {
			if s.liveDead(e) {
				live = append(live, e)
			}
		}
		s.deadOrder, s.deadHead = live, 0
	}
}

// liveDead reports whether e still stands for a dead letter the store
// holds: neither replayed nor dead again since.
func (s *MemoryStore) liveDead(e deadEntry) bool {
	seq, ok := s.deadSeqs[e.md]
	return ok && seq == e.seq
}

// DroppedDeadLetters returns how many dead letters the store has
// forgotten to stay within MemoryStoreConfig.MaxDeadLetters.
func (s *MemoryStore) DroppedDeadLetters() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deadDropped
}

// ShipmentState implements [ShipmentStore].
func (s *MemoryStore) ShipmentState(ctx context.Context, key ShipmentKey) (ShipmentState, error) {
	if err := ctx.Err(); err != nil {
		return ShipmentState{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.shipments[key]
	if !ok {
		return ShipmentState{}, fmt.Errorf("shipment %s: %w", key, ErrNotFound)
	}
	return st, nil
}
