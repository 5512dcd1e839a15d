package shipevents

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Errors a Store returns; test with [errors.Is]. Adapters wrap them with
// detail (fmt.Errorf("...: %w", ErrNotFound)).
var (
	// ErrNotFound: no event, subscription or delivery with that id.
	ErrNotFound = errors.New("shipevents: not found")
	// ErrLeaseLost: the delivery's lease expired and was claimed again, or
	// the delivery was requeued, so this worker may no longer record its
	// outcome (fencing). The attempt's result is discarded.
	ErrLeaseLost = errors.New("shipevents: lease lost")
	// ErrInvalidCursor: a pagination cursor this store did not issue.
	ErrInvalidCursor = errors.New("shipevents: invalid cursor")
	// ErrClosed: the store or dispatcher has been closed.
	ErrClosed = errors.New("shipevents: closed")
	// ErrNotSupported: the store lacks an optional capability the call
	// needs (such as [DeliveryAdder]).
	ErrNotSupported = errors.New("shipevents: not supported by the store")
	// ErrTxConflict: the database refused a statement of the caller's
	// transaction for a conflict with a concurrent transaction (a
	// deadlock, a serialization failure); see [TxAppender]. Roll the
	// transaction back and run all of it again: a new attempt, with a
	// new snapshot, may succeed.
	ErrTxConflict = errors.New("shipevents: transaction conflicts with a concurrent one; run it again")
)

// Store is where events, subscriptions and deliveries live. It is the sum
// of small interfaces so that a host can reason about each part alone; an
// adapter implements all of them. [MemoryStore] is the embedded default,
// and the storetest package checks an adapter against every rule written
// in these doc comments.
//
// An event's identity is its [EventKey], the pair (TenantID, ID): a store
// deduplicates and looks events up by the pair, never by the ID alone.
// The same ID under two tenants is two events, each with its own
// deliveries (two tenants tracking one parcel publish the same scan id);
// within one tenant, and among events without a tenant (TenantID ""), the
// ID stays idempotent. A delivery names its event by the pair too
// ([Delivery.TenantID] and [Delivery.EventID]); delivery ids are unique
// across tenants ([DeliveryID] derives them with the tenant).
//
// All methods may be called concurrently, from several goroutines and, for
// a shared database, several processes. Every method honours ctx
// cancellation. An error that no retry can cure (data the store can never
// take, a constraint it will always refuse) is wrapped with [Permanent],
// so it matches [ErrPermanent]; any other error may be transient, and
// callers retry it. Slices and structs passed in belong to the caller and must
// not be retained; values returned belong to the caller and must not alias
// the store's internal state.
type Store interface {
	EventStore
	SubscriptionStore
	DeliveryQueue
	DeliveryLog
	ShipmentStore
}

// EventStore appends and reads events.
type EventStore interface {
	// AppendEvents stores each record's event together with its
	// deliveries, atomically per record (the outbox rule: an event is never
	// stored without its deliveries, nor a delivery without its event).
	//
	// It is idempotent by event key ([Event.Key]: tenant and id): a record
	// whose key is already stored writes nothing and reports
	// AppendDuplicate. An event whose ID is stored only under other
	// tenants is new.
	//
	// For a shipment status event (a tracking number and a Status), the
	// store applies the ordering rule ([Supersedes]) to the shipment's
	// current state, keyed by [Event.StatusKey], in the same atomic step:
	// if the event supersedes it, the state moves to the event
	// (AppendNew); otherwise the event is stored marked late (AppendLate)
	// and the deliveries with OnlyIfCurrent set are not created. Other
	// events (no tracking number, or no status, as record events) leave
	// shipment state alone and are always AppendNew. [UpdateShipment] is
	// that step. For each record that is not a duplicate, in order (a
	// record sees the states the records before it in the same call set),
	// a store reads the shipment's state under the lock or transaction
	// that writes the event, calls UpdateShipment, writes
	// ShipmentUpdate.State when Changed, stores the event marked late when
	// Late, reports its Outcome, and creates the deliveries Creates
	// accepts.
	//
	// The results are in the order of records. The error is non-nil only
	// when the call as a whole failed; records before the failure may have
	// been stored (each atomically), so callers retry the whole call,
	// which idempotency makes safe.
	AppendEvents(ctx context.Context, records []AppendRecord) ([]AppendResult, error)

	// GetEvent returns the stored event with the given key (tenant and
	// id), or an error wrapping ErrNotFound: an ID stored under another
	// tenant only is not found.
	GetEvent(ctx context.Context, key EventKey) (StoredEvent, error)

	// ListEvents returns one page of stored events matching the filter,
	// newest first (by append order). See [EventFilter] for cursors and
	// offsets, and [PageInfo] for the count.
	ListEvents(ctx context.Context, f EventFilter) (Page[StoredEvent], error)
}

// SubscriptionStore keeps subscriptions.
type SubscriptionStore interface {
	// PutSubscription creates or replaces the subscription with s.ID.
	PutSubscription(ctx context.Context, s Subscription) error
	// DeleteSubscription removes a subscription; its pending deliveries
	// stay and are dead-lettered by the dispatcher when claimed. It
	// returns an error wrapping ErrNotFound if there was none.
	DeleteSubscription(ctx context.Context, id string) error
	// ListSubscriptions returns every subscription (all tenants), sorted by
	// id. Hosts with very many subscriptions page them in their adapter.
	ListSubscriptions(ctx context.Context) ([]Subscription, error)
}

// DeliveryQueue is the work queue of pending deliveries.
type DeliveryQueue interface {
	// ClaimDeliveries leases up to req.Limit due deliveries: pending ones
	// whose NextAttemptAt is at or before req.Now, and in-flight ones whose
	// LeaseExpiresAt is at or before req.Now (a crashed or stalled worker's
	// work). A lease holds while now < LeaseExpiresAt. Each claimed
	// delivery moves to DeliveryInFlight with a fresh lease token (never
	// reused) and LeaseExpiresAt = req.Now + req.Lease; while that lease
	// holds, no other call claims it. The event of each delivery (the one
	// its TenantID and EventID name) is returned with it.
	//
	// Worker shares: a claim never returns more deliveries of one
	// subscription than the request allows it (see [ClaimRequest.Max]).
	// Within a subscription, deliveries are claimed in NextAttemptAt order
	// (ties in creation order), expired in-flight ones included in their
	// NextAttemptAt place: the oldest work first. Across subscriptions the
	// claim takes from each in turn: first the oldest due delivery of every
	// subscription that has one and may have more, the subscriptions
	// ordered by that delivery (NextAttemptAt, then creation order); then
	// the next of each, in the same order; and so on up to req.Limit. So a
	// claim of one delivery per subscription, or of one subscription's
	// deliveries, is in NextAttemptAt order, and a backlog of one
	// subscription at the head of the queue never holds back the others'
	// work. Claims are returned in the order taken. A subscription the
	// request allows nothing should cost the claim nothing: a store does
	// not read its due deliveries one by one.
	ClaimDeliveries(ctx context.Context, req ClaimRequest) ([]Claim, error)

	// ExtendLeases moves the expiry of each held lease to until. Leases no
	// longer held are reported in the returned slice (aligned with leases,
	// nil for success, an error wrapping ErrLeaseLost otherwise).
	ExtendLeases(ctx context.Context, leases []Lease, until time.Time) ([]error, error)

	// RecordAttempts records the outcome of attempts, in one atomic step
	// for the whole batch where the store can (a database transaction).
	// Each record's lease must still be held: its token must be the
	// delivery's current one and the delivery in flight. Fencing is by
	// token, not by time: a lease that expired but that nobody claimed
	// again is still honoured. A record whose lease was lost changes
	// nothing and gets an error wrapping ErrLeaseLost in the returned slice
	// (aligned with records, nil for success). Otherwise the attempt is
	// appended to the delivery's history (Attempts counts it; LastError and
	// LastStatusCode take its values), the delivery moves to the record's
	// outcome state, and the lease ends: recording twice with one lease
	// gets ErrLeaseLost the second time. The store truncates
	// Attempt.Response to MaxStoredResponse bytes, and keeps copies of the
	// strings it is given, not slices of them (a slice of a large string
	// keeps all of it alive).
	RecordAttempts(ctx context.Context, records []AttemptRecord) ([]error, error)
}

// DeliveryLog reads delivery history and replays deliveries.
type DeliveryLog interface {
	// ListDeliveries returns one page of deliveries matching the filter,
	// oldest first (by creation order) or, with NewestFirst, newest
	// first. See [DeliveryFilter] for the cursor and [PageInfo] for the
	// count.
	ListDeliveries(ctx context.Context, f DeliveryFilter) (Page[Delivery], error)
	// ListAttempts returns every recorded attempt of a delivery, oldest
	// first, or an error wrapping ErrNotFound for an unknown delivery.
	ListAttempts(ctx context.Context, deliveryID string) ([]Attempt, error)
	// RequeueDeliveries makes the given deliveries pending again, due at
	// at, whatever their state (dead, succeeded, pending or in flight); any
	// lease held on them is revoked (its holder gets ErrLeaseLost). Attempt
	// history and the Attempts count are kept. It returns how many deliveries it requeued; unknown
	// ids are skipped.
	RequeueDeliveries(ctx context.Context, ids []string, at time.Time) (int, error)
}

// ShipmentStore reads per-shipment current state.
type ShipmentStore interface {
	// ShipmentState returns a shipment's current state (maintained by
	// AppendEvents), or an error wrapping ErrNotFound.
	ShipmentState(ctx context.Context, key ShipmentKey) (ShipmentState, error)
}

// DeliveryAdder is an optional capability of a Store, discovered by type
// assertion: adding deliveries to an event already stored.
// [Dispatcher.Backfill] uses it to send past events to a subscription
// created after they were published.
type DeliveryAdder interface {
	// AddDeliveries creates each of the deliveries of the event with the
	// given key (tenant and id) whose ID does not exist yet, pending at
	// its NextAttemptAt with no attempts, and returns how many it created;
	// an existing delivery is left as it is, so adding is idempotent.
	// OnlyIfCurrent is ignored: whether the event is late was settled when
	// it was stored. If the event is not stored (under that tenant), the
	// error wraps ErrNotFound and nothing is created. Like AppendEvents,
	// it never leaves a delivery without its event, even when the event is
	// being deleted concurrently (retention).
	AddDeliveries(ctx context.Context, key EventKey, deliveries []NewDelivery) (int, error)
}

// TxAppender is an optional capability of a Store, discovered by type
// assertion: appending events inside a transaction of type Tx that the
// caller owns (pgstore's Store is a TxAppender[pgx.Tx]), so that the
// caller's own writes and the events with their deliveries commit or roll
// back together. [PublishTx] uses it.
type TxAppender[Tx any] interface {
	// AppendEventsTx is AppendEvents inside tx: the same records,
	// results, idempotency by event key and ordering rule, but it commits
	// nothing. Until tx commits, no other transaction sees the events or
	// claims their deliveries; if tx rolls back, they never existed. An
	// event stored before, or by an earlier call in the same tx, is a
	// duplicate. The whole call is one atomic step within tx.
	//
	// It never retries. An error wrapping ErrTxConflict means the
	// database aborted tx (or will refuse to commit it) for a conflict
	// with a concurrent transaction: the caller rolls tx back and runs
	// the whole transaction again, its own writes included. After any
	// error, nothing of the call is left for tx to commit, whether tx is
	// still usable or not; whether to commit the rest of tx is the
	// caller's choice.
	AppendEventsTx(ctx context.Context, tx Tx, records []AppendRecord) ([]AppendResult, error)
}

// AppendOutcome says what AppendEvents did with a record.
type AppendOutcome int

// The outcomes of appending an event.
const (
	// AppendNew: stored; it is the shipment's current state (or has no
	// shipment).
	AppendNew AppendOutcome = iota + 1
	// AppendLate: stored and marked late: it did not supersede the
	// shipment's current state. Deliveries with OnlyIfCurrent were dropped.
	AppendLate
	// AppendDuplicate: an event with this key (tenant and id) was already
	// stored; nothing was written.
	AppendDuplicate
)

// String returns new, late or duplicate.
func (o AppendOutcome) String() string {
	switch o {
	case AppendNew:
		return "new"
	case AppendLate:
		return "late"
	case AppendDuplicate:
		return "duplicate"
	}
	return "AppendOutcome(" + strconv.Itoa(int(o)) + ")"
}

// AppendRecord is one event and the deliveries to create with it.
type AppendRecord struct {
	Event      Event
	Deliveries []NewDelivery
}

// NewDelivery is a delivery to create with its event.
type NewDelivery struct {
	ID             string // deterministic: [DeliveryID] of the event's key and the subscription
	SubscriptionID string
	// OnlyIfCurrent drops the delivery when the event turns out late.
	OnlyIfCurrent bool
	NextAttemptAt time.Time
}

// AppendResult reports what happened to one AppendRecord: TenantID and
// EventID are the record's event key.
type AppendResult struct {
	TenantID   string
	EventID    string
	Outcome    AppendOutcome
	Deliveries int // deliveries created
}

// StoredEvent is an event with what the store knows about it.
type StoredEvent struct {
	Event Event
	// Seq is the store's append order, increasing.
	Seq int64
	// Late marks an event that did not supersede its shipment's state.
	Late     bool
	StoredAt time.Time
	// PendingDeliveries counts the event's deliveries not yet succeeded
	// or dead.
	PendingDeliveries int
}

// EventFilter selects events. Zero fields do not filter. Pages are newest
// first: After continues to older events (pass the previous page's
// EndCursor), Before goes back to newer ones (pass its StartCursor).
// Offset skips that many matches in the page's direction, so that pages
// can also be numbered (Karrio's offset and first): from the newest match
// (or from After) toward older ones, or, with Before alone, from Before
// toward newer ones.
type EventFilter struct {
	Types          []string
	RefPattern     string // as [MatchRef]
	TenantID       string
	Carrier        string
	TrackingNumber string
	CorrelationID  string
	TransactionID  string
	// EventGroups and Statuses keep the events whose event_group, or
	// status, is one of those listed.
	EventGroups []string
	Statuses    []Status
	// Metadata keeps the events whose metadata holds every key listed
	// with the value given.
	Metadata       map[string]string
	TestMode       TestModeFilter
	OccurredAfter  time.Time // inclusive
	OccurredBefore time.Time // exclusive
	After, Before  string
	Offset         int // matches skipped; negative counts as zero
	Limit          int // default 50, at most 1000
}

// TestModeFilter selects events by their test_mode flag.
type TestModeFilter int8

// The test mode filters.
const (
	TestModeAny  TestModeFilter = iota // test and live events alike
	TestModeOnly                       // test events only (test_mode true)
	TestModeLive                       // live events only (test_mode false)
)

// EventMatchesFilter reports whether e passes every set field of f
// (cursors, offset and limit aside). Adapters that filter in process can
// use it.
func EventMatchesFilter(e *Event, f *EventFilter) bool {
	if len(f.Types) > 0 && !slices.Contains(f.Types, e.Type) {
		return false
	}
	if f.RefPattern != "" && !MatchRef(f.RefPattern, e.Ref) {
		return false
	}
	if f.TenantID != "" && e.TenantID != f.TenantID {
		return false
	}
	if f.Carrier != "" && e.Carrier != f.Carrier {
		return false
	}
	if f.TrackingNumber != "" && e.TrackingNumber != f.TrackingNumber {
		return false
	}
	if f.CorrelationID != "" && e.CorrelationID != f.CorrelationID {
		return false
	}
	if f.TransactionID != "" && e.TransactionID != f.TransactionID {
		return false
	}
	if len(f.EventGroups) > 0 && !slices.Contains(f.EventGroups, e.EventGroup) {
		return false
	}
	if len(f.Statuses) > 0 && !slices.Contains(f.Statuses, e.Status) {
		return false
	}
	for k, v := range f.Metadata {
		if got, ok := e.Metadata[k]; !ok || got != v {
			return false
		}
	}
	switch f.TestMode {
	case TestModeOnly:
		if !e.TestMode {
			return false
		}
	case TestModeLive:
		if e.TestMode {
			return false
		}
	}
	if !f.OccurredAfter.IsZero() && e.OccurredAt.Before(f.OccurredAfter) {
		return false
	}
	if !f.OccurredBefore.IsZero() && !e.OccurredAt.Before(f.OccurredBefore) {
		return false
	}
	return true
}

// Page is one page of a list, with Relay-style page information.
type Page[T any] struct {
	Items    []T
	PageInfo PageInfo
}

// PageInfo describes where a page sits in the whole list.
//
// Count is the number of all items matching the filter, counted exactly
// up to at least [MaxExactCount]. Past that a store may estimate instead
// of counting every match on every call (a database's count is a scan of
// all of them), and then sets CountEstimated; an estimated Count is more
// than MaxExactCount. When CountEstimated is false, Count is exact.
type PageInfo struct {
	Count           int    `json:"count"`
	CountEstimated  bool   `json:"count_estimated,omitempty"`
	HasNextPage     bool   `json:"has_next_page"`
	HasPreviousPage bool   `json:"has_previous_page"`
	StartCursor     string `json:"start_cursor,omitempty"`
	EndCursor       string `json:"end_cursor,omitempty"`
}

// MaxExactCount is how far every store counts the matches of a list
// exactly; see [PageInfo].
const MaxExactCount = 1000

// Page size bounds for list calls.
const (
	DefaultPageSize = 50
	MaxPageSize     = 1000
)

// PageLimit returns the effective page size for a requested limit.
func PageLimit(limit int) int {
	switch {
	case limit <= 0:
		return DefaultPageSize
	case limit > MaxPageSize:
		return MaxPageSize
	}
	return limit
}

// EncodeCursor and DecodeCursor turn a sequence number into an opaque
// cursor and back; adapters may use them or issue their own cursors.
func EncodeCursor(seq int64) string {
	return base64.RawURLEncoding.EncodeToString(strconv.AppendInt(nil, seq, 10))
}

// DecodeCursor parses a cursor made by [EncodeCursor]; the error wraps
// ErrInvalidCursor.
func DecodeCursor(c string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return 0, fmt.Errorf("%w: %q", ErrInvalidCursor, c)
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %q", ErrInvalidCursor, c)
	}
	return n, nil
}

// DeliveryState is where a delivery is in its life.
type DeliveryState string

// The delivery states.
const (
	DeliveryPending   DeliveryState = "pending"   // waiting for its next attempt
	DeliveryInFlight  DeliveryState = "in_flight" // leased by a worker
	DeliverySucceeded DeliveryState = "succeeded"
	DeliveryDead      DeliveryState = "dead" // dead letter: retries exhausted or permanent failure
)

// Delivery is one event on its way to one subscription. TenantID and
// EventID name the event ([Delivery.EventKey]).
type Delivery struct {
	ID             string
	TenantID       string // the event's tenant
	EventID        string
	SubscriptionID string
	State          DeliveryState
	Attempts       int // attempts recorded so far
	NextAttemptAt  time.Time
	CreatedAt      time.Time
	UpdatedAt      time.Time
	LastError      string
	LastStatusCode int
	LeaseExpiresAt time.Time // zero unless in flight
}

// EventKey returns the key of the delivery's event.
func (d *Delivery) EventKey() EventKey { return EventKey{TenantID: d.TenantID, ID: d.EventID} }

// DeliveryFilter selects deliveries. Zero fields do not filter, with one
// exception: TenantID and EventID together name an event, so EventID
// alone selects the deliveries of the event without a tenant, and
// TenantID alone the deliveries of every event of that tenant. ID selects
// the one delivery with that id. Pages are oldest first (by creation
// order), or newest first with NewestFirst; After continues past the
// previous page's EndCursor in the same order.
type DeliveryFilter struct {
	ID             string
	TenantID       string
	EventID        string
	SubscriptionID string
	State          DeliveryState
	NewestFirst    bool
	After          string
	Limit          int
}

// DeliveryMatchesFilter reports whether d passes f's ID, TenantID,
// EventID, SubscriptionID and State (order, cursor and limit aside).
// Adapters that filter in process can use it.
func DeliveryMatchesFilter(d *Delivery, f *DeliveryFilter) bool {
	switch {
	case f.ID != "" && d.ID != f.ID:
		return false
	case f.EventID != "" && (d.EventID != f.EventID || d.TenantID != f.TenantID):
		return false
	case f.TenantID != "" && d.TenantID != f.TenantID:
		return false
	case f.SubscriptionID != "" && d.SubscriptionID != f.SubscriptionID:
		return false
	case f.State != "" && d.State != f.State:
		return false
	}
	return true
}

// ClaimRequest asks for due deliveries.
type ClaimRequest struct {
	Now   time.Time
	Lease time.Duration
	Limit int
	// MaxPerSubscription, when positive, bounds the deliveries of any one
	// subscription that the claim returns. A dispatcher sets it to the
	// share of its workers one subscription may hold.
	MaxPerSubscription int
	// SubscriptionMax replaces MaxPerSubscription for the subscriptions
	// it lists, whatever MaxPerSubscription is: at most
	// SubscriptionMax[id] deliveries of subscription id, none when that
	// is zero or less. A dispatcher lists what is left of the share of
	// each subscription it already holds deliveries of, and the share of
	// each subscription with a MaxInFlight of its own. The store reads
	// the map during the call only.
	SubscriptionMax map[string]int
	// Owner names the claiming worker, for diagnostics only.
	Owner string
}

// Max returns how many deliveries of subscription id the claim may
// return: SubscriptionMax[id] when listed (at least 0), else
// MaxPerSubscription when positive, else Limit.
func (r *ClaimRequest) Max(id string) int {
	if n, ok := r.SubscriptionMax[id]; ok {
		return max(n, 0)
	}
	if r.MaxPerSubscription > 0 {
		return r.MaxPerSubscription
	}
	return max(r.Limit, 0)
}

// Lease is a worker's right to record a delivery's outcome. Token changes
// on every claim and requeue, which is what fences stale workers out.
type Lease struct {
	DeliveryID string
	Token      string
	ExpiresAt  time.Time
}

// Claim is a leased delivery with its event.
type Claim struct {
	Delivery Delivery
	Event    Event
	Lease    Lease
}

// AttemptOutcome is the state an attempt moves its delivery to.
type AttemptOutcome string

// The outcomes of one attempt.
const (
	OutcomeSucceeded AttemptOutcome = "succeeded"
	OutcomeRetry     AttemptOutcome = "retry"    // failed; pending again at NextAttemptAt
	OutcomeDead      AttemptOutcome = "dead"     // failed for good
	OutcomeReleased  AttemptOutcome = "released" // not attempted (shutdown); pending at NextAttemptAt, no attempt counted
)

// AttemptRecord is one attempt's outcome, as given to RecordAttempts.
type AttemptRecord struct {
	Lease         Lease
	Outcome       AttemptOutcome
	NextAttemptAt time.Time // for OutcomeRetry and OutcomeReleased
	Attempt       Attempt   // ignored for OutcomeReleased
}

// Attempt is the record of one try to deliver.
type Attempt struct {
	DeliveryID string
	Number     int // 1 for the first attempt
	StartedAt  time.Time
	Duration   time.Duration
	StatusCode int // HTTP status, 0 if none
	// Error is empty on success; it never contains secrets, and the
	// dispatcher cuts it to MaxStoredError bytes.
	Error string
	// Response holds the start of the response body (at most
	// MaxStoredResponse bytes).
	Response string
}

// MaxStoredResponse bounds the response bytes kept per attempt.
const MaxStoredResponse = 2048

// MaxStoredError bounds the error text kept per attempt (and in
// Delivery.LastError and the webhooks/failed event): a handler's or an
// endpoint's failure can be any size.
const MaxStoredError = 1024

// ShipmentUpdate is what the ordering rule makes of one appended event;
// see [UpdateShipment]. Changed and Late are never both set; an event that
// leaves shipment state alone has neither.
type ShipmentUpdate struct {
	// Changed: the event supersedes the shipment's state, and State is
	// the new state to write (an insert when the shipment had none).
	Changed bool
	// Late: the event does not supersede the state, which stays as it
	// was; the event is stored marked late.
	Late bool
	// State is the shipment's state after the event.
	State ShipmentState
}

// UpdateShipment is the ordering rule as AppendEvents applies it, the one
// definition every Store shares. cur is the current state of the shipment
// e is about (the key [Event.StatusKey] returns) and exists says whether
// there is one; now is the store's clock, for UpdatedAt.
//
// When e supersedes cur ([Supersedes]; anything supersedes no state) the
// update is Changed, with State holding e's key, status, event name, id and
// occurred_at. Otherwise it is Late and State is cur. An event that leaves
// shipment state alone (StatusKey reports false) is neither, and State is
// cur.
func UpdateShipment(cur ShipmentState, exists bool, e *Event, now time.Time) ShipmentUpdate {
	key, ok := e.StatusKey()
	if !ok {
		return ShipmentUpdate{State: cur}
	}
	if !exists {
		cur = ShipmentState{}
	}
	if !Supersedes(StatusPoint{Status: cur.Status, OccurredAt: cur.OccurredAt}, StatusPoint{Status: e.Status, OccurredAt: e.OccurredAt}) {
		return ShipmentUpdate{Late: true, State: cur}
	}
	return ShipmentUpdate{Changed: true, State: ShipmentState{Key: key, Status: e.Status, EventName: e.EventName,
		EventID: e.ID, OccurredAt: e.OccurredAt, UpdatedAt: now}}
}

// Outcome is the AppendOutcome of the stored event: AppendLate for a late
// one, AppendNew otherwise.
func (u ShipmentUpdate) Outcome() AppendOutcome {
	if u.Late {
		return AppendLate
	}
	return AppendNew
}

// Creates reports whether nd is created with the event: every delivery,
// except those with OnlyIfCurrent when the event is late.
func (u ShipmentUpdate) Creates(nd NewDelivery) bool { return !u.Late || !nd.OnlyIfCurrent }

// ShipmentState is a shipment's current status and the event that set it.
type ShipmentState struct {
	Key        ShipmentKey
	Status     Status
	EventName  string
	EventID    string // the event's tenant is Key.TenantID
	OccurredAt time.Time
	UpdatedAt  time.Time
}
