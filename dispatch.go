package shipevents

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// Defaults for a zero [DispatcherConfig].
const (
	DefaultWorkers             = 32
	DefaultLease               = time.Minute
	DefaultAttemptTimeout      = 15 * time.Second
	DefaultPollInterval        = 250 * time.Millisecond
	DefaultSubscriptionRefresh = 5 * time.Second
	DefaultShutdownGrace       = 10 * time.Second
)

// ErrInvalidConfig: a [DispatcherConfig] that [DispatcherConfig.Validate]
// refuses; [Dispatcher.Run] returns it without starting.
var ErrInvalidConfig = errors.New("shipevents: invalid dispatcher configuration")

// DispatcherConfig configures a [Dispatcher]. The zero value is a working
// single-process setup: an in-memory store, the HTTP sender with its
// defaults, the default retry policy and the system clock.
type DispatcherConfig struct {
	// Store holds events, subscriptions and deliveries; nil means a new
	// MemoryStore.
	Store Store
	// Sender delivers to webhook URLs; nil means NewHTTPSender with its
	// defaults, keeping at least as many idle connections per host as
	// there are Workers. In-process handlers are registered with Handle.
	Sender Sender
	// Retry is the policy for subscriptions without their own.
	Retry RetryPolicy
	// Workers bounds concurrent attempts (default 32).
	Workers int
	// MaxInFlightPerSubscription bounds the attempts to one subscription
	// that this instance makes at once: each subscription's share of the
	// Workers. An endpoint that hangs then holds at most that many
	// workers, each until its attempt times out, and the others go on
	// being served by the rest; claims take from every subscription with
	// due work in turn. Zero means the default, a quarter of Workers (at
	// least 1); more than Workers means Workers. A subscription's own
	// MaxInFlight replaces it.
	MaxInFlightPerSubscription int
	// Lease is how long a claimed delivery is reserved. It must be at
	// least twice AttemptTimeout, so that an attempt still running is
	// never claimed again by another worker; zero means the default of
	// 1 min, or twice AttemptTimeout when that is longer. A worker that
	// dies holds its deliveries until their leases run out.
	Lease time.Duration
	// AttemptTimeout bounds one Send (default 15 s; the HTTP sender also
	// has its own 10 s timeout).
	AttemptTimeout time.Duration
	// PollInterval is how often an idle dispatcher looks for due
	// deliveries it was not told about (retries coming due, other
	// instances' publishes); default 250 ms.
	PollInterval time.Duration
	// SubscriptionRefresh is how often subscriptions are reloaded from the
	// store, to see other instances' changes (default 5 s).
	SubscriptionRefresh time.Duration
	// ShutdownGrace is how long Run lets in-flight attempts finish after
	// its context is cancelled; attempts still running then are cancelled
	// and their deliveries released for another worker (default 10 s).
	ShutdownGrace time.Duration
	// DisableDeliveryEvents turns off the webhooks/delivered and
	// webhooks/failed events the dispatcher publishes about its own work.
	DisableDeliveryEvents bool
	// DisableAfter deactivates subscriptions whose endpoint keeps failing,
	// as a 410 Gone does; the zero value never does. Each instance counts
	// the attempts it makes itself.
	DisableAfter FailureStreak
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives operational logs: at Warn, every failed attempt
	// (retried or not), every dead letter (with or without a send) and
	// every destination the sender's AddressPolicy refuses, with the
	// subscription and delivery ids and the reason. nil means
	// slog.Default(); slog.New(slog.DiscardHandler) silences them.
	// Secrets never appear in them, and URLs only as scheme, host and
	// port.
	Logger *slog.Logger
	// Name identifies this instance in claims (diagnostics only).
	Name string
}

// Dispatcher stores published events, matches them against subscriptions
// and delivers them, with retries, dead letters and replay. Publish may be
// called from any goroutine, before or while Run runs; several Dispatchers
// (processes) may share one Store that supports it. Delivery is at least
// once: receivers deduplicate on the webhook-id every attempt carries,
// [MessageID] of the event's key (the event id for an event without a
// tenant).
type Dispatcher struct {
	store    Store
	sender   Sender
	retry    RetryPolicy
	workers  int
	share    int // default attempts in flight per subscription
	lease    time.Duration
	timeout  time.Duration
	poll     time.Duration
	refresh  time.Duration
	grace    time.Duration
	emit     bool
	now      func() time.Time
	log      *slog.Logger
	name     string
	handlers sync.Map // name -> Handler or Sender

	subs   atomic.Pointer[subSnapshot]
	subsMu sync.Mutex // serialises reloads
	// lastMissReload is when a claim for an unknown subscription last
	// reloaded the snapshot (Unix nanoseconds).
	lastMissReload atomic.Int64
	// subsLoaded is when subs was last loaded from the store (Unix
	// nanoseconds); 0 until the first load succeeds.
	subsLoaded atomic.Int64
	wake       chan struct{}
	// freed tells an idle claim loop that a subscription whose share was
	// used up has a worker back, so that its withheld work is claimed now
	// rather than at the next poll.
	freed   chan struct{}
	running atomic.Bool

	stats        dispatchStats
	inFlight     inFlight
	limits       rateLimits
	disableAfter FailureStreak
	streaks      failureStreaks
	cfgErr       error // from DispatcherConfig.Validate, returned by Run
}

type subSnapshot struct {
	index *RefIndex[string]
	byID  map[string]*Subscription
	// shares holds the subscriptions whose MaxInFlight gives them a share
	// other than the default, and that share.
	shares      map[string]int
	fingerprint uint64
}

type dispatchStats struct {
	published, duplicates, late         atomic.Int64
	claimed                             atomic.Int64
	attempts, succeeded, retried, dead  atomic.Int64
	deadUnsent                          atomic.Int64
	released, leaseLost, recordFailures atomic.Int64
	rateLimited                         atomic.Int64
}

// Stats counts what a Dispatcher has done since it was made. The counts
// add up: every claimed delivery is counted once, as an attempt, a dead
// letter without a send, a release or a rate-limit wait,
//
//	Claimed == Attempts + DeadUnsent + Released + RateLimited
//
// every attempt has one outcome,
//
//	Attempts == Succeeded + Retried + Dead
//
// and Dead + DeadUnsent is every dead letter the dispatcher made (until
// they are replayed). An attempt counts when the dispatcher decides its
// outcome, before the store records it; LeaseLost says how many of those
// outcomes the store then discarded.
type Stats struct {
	// Published counts the events Publish stored (late ones included);
	// Duplicates those it found already stored, which it left alone;
	// Late those stored marked late (a part of Published). The
	// dispatcher's own webhooks/* events are published, and counted, too;
	// those of PublishTx are not (whether they are stored is up to the
	// caller's commit).
	Published, Duplicates, Late int64
	// Claimed counts the deliveries claimed from the store for an attempt.
	Claimed int64
	// Attempts counts sends, one per attempt: a webhook request (with its
	// OAuth2 token fetch and the retry after a 401, if any) or a handler
	// call. Each one Succeeded, or failed and was Retried (scheduled
	// again) or is Dead (a dead letter: a permanent failure, a 410, or the
	// retries ran out).
	Attempts, Succeeded, Retried, Dead int64
	// DeadUnsent counts the deliveries dead-lettered without a send: their
	// subscription was deleted or disabled, or their event could not be
	// encoded in its payload form.
	DeadUnsent int64
	// Released counts claimed deliveries put back without an attempt: at
	// shutdown, and while the subscription of one is not yet known to this
	// instance.
	Released int64
	// LeaseLost counts attempt outcomes the store refused because the
	// delivery's lease had been taken over (see ErrLeaseLost); they are in
	// the counts above as well.
	LeaseLost int64
	// RecordFailures counts batches of attempt outcomes the store would
	// not take after retries; their deliveries are sent again when their
	// leases run out.
	RecordFailures int64
	// RateLimited counts deliveries put back to wait for their turn under
	// a subscription's MaxPerSecond (not attempts).
	RateLimited int64
}

// Validate reports a configuration that cannot work, wrapping
// ErrInvalidConfig: a negative count or duration (zero means the
// default), a retry policy its own Validate refuses, or a Lease shorter
// than twice the AttemptTimeout.
func (c *DispatcherConfig) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"Lease", c.Lease}, {"AttemptTimeout", c.AttemptTimeout}, {"PollInterval", c.PollInterval},
		{"SubscriptionRefresh", c.SubscriptionRefresh}, {"ShutdownGrace", c.ShutdownGrace},
		{"DisableAfter.Duration", c.DisableAfter.Duration},
	} {
		if f.v < 0 {
			return bad("%s %v is negative", f.name, f.v)
		}
	}
	if c.Workers < 0 {
		return bad("Workers %d is negative", c.Workers)
	}
	if c.MaxInFlightPerSubscription < 0 {
		return bad("MaxInFlightPerSubscription %d is negative", c.MaxInFlightPerSubscription)
	}
	if c.DisableAfter.Failures < 0 {
		return bad("DisableAfter.Failures %d is negative", c.DisableAfter.Failures)
	}
	if err := c.Retry.Validate(); err != nil {
		return bad("Retry: %v", err)
	}
	if timeout := defaultDur(c.AttemptTimeout, DefaultAttemptTimeout); c.Lease != 0 && c.Lease < 2*timeout {
		return bad("Lease %v is shorter than twice the AttemptTimeout of %v: a delivery still being sent could be claimed again", c.Lease, timeout)
	}
	return nil
}

// NewDispatcher returns a Dispatcher with the given configuration. A
// configuration that [DispatcherConfig.Validate] refuses makes Run fail.
func NewDispatcher(cfg DispatcherConfig) *Dispatcher {
	d := &Dispatcher{
		store: cfg.Store, sender: cfg.Sender, retry: cfg.Retry, workers: cfg.Workers,
		lease: cfg.Lease, timeout: cfg.AttemptTimeout, poll: cfg.PollInterval,
		refresh: cfg.SubscriptionRefresh, grace: cfg.ShutdownGrace, emit: !cfg.DisableDeliveryEvents,
		now: cfg.Now, log: cfg.Logger, name: cfg.Name, wake: make(chan struct{}, 1),
		freed:        make(chan struct{}, 1),
		disableAfter: cfg.DisableAfter, cfgErr: cfg.Validate(),
	}
	if d.store == nil {
		d.store = NewMemoryStore(MemoryStoreConfig{Now: cfg.Now})
	}
	d.workers = defaultInt(d.workers, DefaultWorkers)
	d.share = min(defaultInt(cfg.MaxInFlightPerSubscription, max(1, d.workers/4)), d.workers)
	if d.sender == nil {
		// Every worker may be sending to the same host: keep a connection
		// for each, or each burst closes the surplus and dials anew.
		d.sender = NewHTTPSender(HTTPSenderConfig{Now: cfg.Now, MaxIdleConnsPerHost: max(DefaultMaxIdleConnsPerHost, d.workers)})
	}
	d.timeout = defaultDur(d.timeout, DefaultAttemptTimeout)
	if d.lease <= 0 {
		// A lease shorter than an attempt would let a second worker claim
		// a delivery that is still being sent.
		d.lease = max(DefaultLease, 2*d.timeout)
	}
	d.poll = defaultDur(d.poll, DefaultPollInterval)
	d.refresh = defaultDur(d.refresh, DefaultSubscriptionRefresh)
	d.grace = defaultDur(d.grace, DefaultShutdownGrace)
	if d.now == nil {
		d.now = time.Now
	}
	if d.log == nil {
		d.log = slog.Default()
	}
	if d.name == "" {
		d.name = "dispatcher-" + uuid.NewString()[:8]
	}
	d.subs.Store(&subSnapshot{index: NewRefIndex[string](), byID: map[string]*Subscription{}})
	d.inFlight.held = map[string]int{}
	return d
}

func defaultInt(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func defaultDur(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

// Store returns the dispatcher's store.
func (d *Dispatcher) Store() Store { return d.store }

// Stats returns the dispatcher's counters.
func (d *Dispatcher) Stats() Stats {
	s := &d.stats
	return Stats{
		Published: s.published.Load(), Duplicates: s.duplicates.Load(), Late: s.late.Load(), Claimed: s.claimed.Load(),
		Attempts: s.attempts.Load(), Succeeded: s.succeeded.Load(), Retried: s.retried.Load(), Dead: s.dead.Load(),
		DeadUnsent: s.deadUnsent.Load(), Released: s.released.Load(), LeaseLost: s.leaseLost.Load(),
		RecordFailures: s.recordFailures.Load(), RateLimited: s.rateLimited.Load(),
	}
}

// Handle registers an in-process handler under name, for subscriptions
// whose Handler field names it. Registering a name again replaces what
// was registered under it, handler or sender.
func (d *Dispatcher) Handle(name string, h Handler) { d.handlers.Store(name, h) }

// HandleSender registers s under name, for subscriptions whose Handler
// field names it: s receives each attempt as the webhook sender does, a
// [Message] with the body in the subscription's form, the signing time
// and the subscription (its Secrets included), and its errors are
// classified the same way. It serves in-process destinations that forward
// the payload, such as a message broker. Registering a name again
// replaces what was registered under it, handler or sender.
func (d *Dispatcher) HandleSender(name string, s Sender) { d.handlers.Store(name, s) }

// Subscribe validates and stores a subscription (creating or replacing
// it) and makes it effective for this instance at once; other instances
// see it within their SubscriptionRefresh.
func (d *Dispatcher) Subscribe(ctx context.Context, s Subscription) error {
	if err := s.Validate(); err != nil {
		return err
	}
	now := d.now().UTC()
	if s.CreatedAt.IsZero() {
		s.CreatedAt = now
	}
	s.UpdatedAt = now
	if err := d.store.PutSubscription(ctx, s); err != nil {
		return fmt.Errorf("shipevents: store subscription %s: %w", s.ID, err)
	}
	return d.ReloadSubscriptions(ctx)
}

// Subscription returns the subscription with the given id as the store
// holds it, or an error wrapping ErrNotFound. The caller owns the copy.
func (d *Dispatcher) Subscription(ctx context.Context, id string) (Subscription, error) {
	subs, err := d.store.ListSubscriptions(ctx)
	if err != nil {
		return Subscription{}, err
	}
	i := slices.IndexFunc(subs, func(s Subscription) bool { return s.ID == id })
	if i < 0 {
		return Subscription{}, fmt.Errorf("subscription %s: %w", quote(id), ErrNotFound)
	}
	return subs[i], nil
}

// Subscriptions returns every subscription the store holds (all tenants),
// sorted by id. The caller owns the slice.
func (d *Dispatcher) Subscriptions(ctx context.Context) ([]Subscription, error) {
	return d.store.ListSubscriptions(ctx)
}

// Unsubscribe deletes a subscription. Its pending deliveries are
// dead-lettered when they come due, so they can still be replayed to a
// new subscription's endpoint by requeueing.
func (d *Dispatcher) Unsubscribe(ctx context.Context, id string) error {
	if err := d.store.DeleteSubscription(ctx, id); err != nil {
		return err
	}
	return d.ReloadSubscriptions(ctx)
}

// ReloadSubscriptions reloads subscriptions from the store now. Run does
// it every SubscriptionRefresh, and Publish when its copy is older than
// that.
func (d *Dispatcher) ReloadSubscriptions(ctx context.Context) error {
	d.subsMu.Lock()
	defer d.subsMu.Unlock()
	return d.reloadLocked(ctx)
}

// subscriptionsForPublish makes sure the snapshot Publish matches against
// was loaded, and loaded within SubscriptionRefresh, so that a process
// that publishes without running workers still sees new subscriptions. An
// event matched against a snapshot that was never loaded would be stored
// with no deliveries, and a retry of the Publish would then be a
// duplicate: that is refused. A stale snapshot that cannot be refreshed
// is used as it is.
func (d *Dispatcher) subscriptionsForPublish(ctx context.Context) error {
	now := d.now().UnixNano()
	last := d.subsLoaded.Load()
	if last != 0 && now-last < int64(d.refresh) {
		return nil
	}
	d.subsMu.Lock()
	defer d.subsMu.Unlock()
	if l := d.subsLoaded.Load(); l != last && now-l < int64(d.refresh) {
		return nil // another caller reloaded while this one waited
	}
	err := d.reloadLocked(ctx)
	switch {
	case err == nil:
		return nil
	case last == 0:
		return err
	}
	d.log.Warn("subscription reload failed; publishing with the previous subscriptions", "error", err)
	return nil
}

func (d *Dispatcher) reloadLocked(ctx context.Context) error {
	subs, err := d.store.ListSubscriptions(ctx)
	if err != nil {
		return fmt.Errorf("shipevents: load subscriptions: %w", err)
	}
	h := fnv.New64a()
	for i := range subs {
		s := &subs[i]
		h.Write([]byte(s.ID))
		h.Write([]byte(s.UpdatedAt.String()))
		h.Write([]byte(strconv.FormatBool(s.Disabled) + s.DisabledReason))
		h.Write([]byte(strconv.Itoa(s.MaxInFlight)))
	}
	fp := h.Sum64()
	defer d.subsLoaded.Store(max(d.now().UnixNano(), 1))
	if cur := d.subs.Load(); cur != nil && cur.fingerprint == fp && len(cur.byID) == len(subs) {
		return nil
	}
	snap := &subSnapshot{index: NewRefIndex[string](), byID: make(map[string]*Subscription, len(subs)), shares: map[string]int{}, fingerprint: fp}
	for i := range subs {
		s := &subs[i]
		snap.byID[s.ID] = s
		if n := d.shareOf(s); n != d.share {
			snap.shares[s.ID] = n
		}
		for _, p := range s.patterns() {
			if err := snap.index.Add(p, s.ID); err != nil {
				d.log.Warn("subscription pattern refused", "subscription", s.ID, "error", err)
			}
		}
	}
	d.subs.Store(snap)
	return nil
}

// EventError is the error of a Publish call with an invalid event: nothing
// of the call was stored. It unwraps to the error of [Event.Validate],
// which wraps [ErrInvalidEvent].
type EventError struct {
	// Index is the event's position among Publish's arguments.
	Index int
	// ID is the event's id (hostile text: quote it before printing it).
	ID  string
	Err error
}

// Error implements error.
func (e *EventError) Error() string {
	return "shipevents: publish: event " + strconv.Itoa(e.Index) + ": " + e.Err.Error()
}

// Unwrap returns the validation error.
func (e *EventError) Unwrap() error { return e.Err }

// PublishResult says what Publish did with one event; TenantID and
// EventID are the event's key.
type PublishResult struct {
	TenantID string
	EventID  string
	// Outcome is AppendNew, AppendLate (stored, marked late: it did not
	// move its shipment's current status) or AppendDuplicate (already
	// known; nothing stored or delivered again).
	Outcome AppendOutcome
	// Deliveries is how many deliveries were created.
	Deliveries int
}

// Publish validates the events, stores each one with one delivery per
// matching enabled subscription in one Store call (the outbox), and wakes
// the workers. Publishing an event that is already stored (the same
// tenant and id, see [EventKey]) creates nothing; the same id under
// another tenant is another event. A shipment event that does not
// supersede its shipment's current status (see [Supersedes]) is stored
// and marked late, and only subscriptions with IncludeLate receive it.
//
// Events are matched against this instance's copy of the subscriptions,
// which Publish reloads when it is older than SubscriptionRefresh, so a
// process that only publishes (its workers run elsewhere) sees new
// subscriptions too. Until subscriptions have been loaded once, Publish
// stores nothing and fails: an event stored without its deliveries could
// not get them on a retry, which would be a duplicate.
//
// If any event is invalid ([Event.Validate]), nothing is stored and the
// error is an [*EventError] naming the first invalid event's index; it
// wraps [ErrInvalidEvent], and publishing the other events works. If the
// store fails, the error says so and Publish can be retried as a whole: it
// is idempotent; unless the error matches [ErrPermanent] (the store
// refused the data itself), when retrying cannot help.
func (d *Dispatcher) Publish(ctx context.Context, events ...Event) ([]PublishResult, error) {
	records, err := d.appendRecords(ctx, events)
	if err != nil {
		return nil, err
	}
	results, err := d.store.AppendEvents(ctx, records)
	if err != nil {
		return nil, fmt.Errorf("shipevents: publish: %w", err)
	}
	out := publishResults(results)
	created := 0
	for _, r := range results {
		created += r.Deliveries
		switch r.Outcome {
		case AppendNew:
			d.stats.published.Add(1)
		case AppendLate:
			d.stats.published.Add(1)
			d.stats.late.Add(1)
		case AppendDuplicate:
			d.stats.duplicates.Add(1)
		}
	}
	if created > 0 {
		d.signal()
	}
	return out, nil
}

// PublishTx publishes events as Publish does, but inside tx, a
// transaction the caller owns, so that its own writes and the events
// commit or roll back together: the order row updated and its "shipped"
// event, or neither. Events are validated, matched against the
// subscriptions (loaded as Publish loads them) and stored with their
// deliveries by the store's [TxAppender] for transactions of type Tx;
// pgstore's Store appends in a pgx.Tx. A store without that capability
// gets an error wrapping ErrNotSupported, and nothing is written.
//
// Nothing is sent before tx commits: the deliveries then exist for every
// dispatcher sharing the store, whose workers claim them on their next
// poll (PollInterval) or sooner when the store wakes them. The results
// say what the commit makes durable (a duplicate is an event stored
// before, or earlier in tx); if tx rolls back, nothing of the call
// remains, and a retry of the whole transaction is idempotent. As the
// dispatcher cannot know whether tx commits, PublishTx counts nothing in
// [Stats] and wakes no local worker.
//
// An invalid event fails the call with an [*EventError], as in Publish.
// An error wrapping ErrTxConflict means the database aborted tx for a
// conflict with a concurrent transaction: roll tx back and run it again
// from the start. After any error, the call left nothing in tx; see
// [TxAppender] and the store's documentation (isolation levels, where in
// the transaction to publish).
func PublishTx[Tx any](ctx context.Context, d *Dispatcher, tx Tx, events ...Event) ([]PublishResult, error) {
	a, ok := d.store.(TxAppender[Tx])
	if !ok {
		return nil, fmt.Errorf("shipevents: publish in a transaction: store %T cannot append in a transaction of type %T: %w", d.store, tx, ErrNotSupported)
	}
	records, err := d.appendRecords(ctx, events)
	if err != nil {
		return nil, err
	}
	results, err := a.AppendEventsTx(ctx, tx, records)
	if err != nil {
		return nil, fmt.Errorf("shipevents: publish in a transaction: %w", err)
	}
	return publishResults(results), nil
}

// appendRecords validates events and matches them against the
// subscriptions: what Publish and PublishTx give the store.
func (d *Dispatcher) appendRecords(ctx context.Context, events []Event) ([]AppendRecord, error) {
	for i := range events {
		if err := events[i].Validate(); err != nil {
			return nil, &EventError{Index: i, ID: events[i].ID, Err: err}
		}
	}
	if err := d.subscriptionsForPublish(ctx); err != nil {
		return nil, fmt.Errorf("shipevents: publish: %w", err)
	}
	return d.buildRecords(events, d.now().UTC()), nil
}

func publishResults(results []AppendResult) []PublishResult {
	out := make([]PublishResult, len(results))
	for i, r := range results {
		out[i] = PublishResult(r)
	}
	return out
}

// buildRecords matches each event against the subscription snapshot.
func (d *Dispatcher) buildRecords(events []Event, now time.Time) []AppendRecord {
	snap := d.subs.Load()
	records := make([]AppendRecord, len(events))
	var matched []string
	for i := range events {
		e := &events[i]
		records[i].Event = *e
		matched = snap.index.Match(e.Ref, matched[:0])
		if len(matched) == 0 {
			continue
		}
		deliveries := make([]NewDelivery, 0, len(matched))
		statusEvent := e.Source == SourceShipments && e.Status != ""
		for _, id := range matched {
			s := snap.byID[id]
			if s == nil || !s.Matches(e) {
				continue
			}
			deliveries = append(deliveries, NewDelivery{
				ID: DeliveryID(e.Key(), s.ID), SubscriptionID: s.ID,
				OnlyIfCurrent: statusEvent && !s.IncludeLate, NextAttemptAt: now,
			})
		}
		records[i].Deliveries = deliveries
	}
	return records
}

func (d *Dispatcher) signal() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// ErrAlreadyRunning is returned by Run when the dispatcher is running.
var ErrAlreadyRunning = errors.New("shipevents: dispatcher already running")

// Run claims due deliveries and sends them until ctx is cancelled, then
// shuts down gracefully: it stops claiming, lets attempts in flight finish
// for up to ShutdownGrace, releases the rest back to the store (no attempt
// counted), flushes every attempt record, and returns nil once every
// goroutine it started has ended. Store errors are logged and retried
// with backoff, so a store that is briefly down does not stop Run. A
// configuration that [DispatcherConfig.Validate] refuses makes Run return
// that error (wrapping ErrInvalidConfig) at once.
func (d *Dispatcher) Run(ctx context.Context) error {
	if d.cfgErr != nil {
		return d.cfgErr
	}
	if !d.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	defer d.running.Store(false)
	if err := d.ReloadSubscriptions(ctx); err != nil {
		d.log.Warn("initial subscription load failed; retrying in the background", "error", err)
	}

	// sendCtx outlives ctx by the grace period, so attempts in flight can
	// finish after shutdown starts.
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()

	r := newRecorder(d)
	var recWG sync.WaitGroup
	recWG.Add(1)
	go func() { defer recWG.Done(); r.run() }()

	work := make(chan Claim)
	slots := make(chan struct{}, d.workers) // one token per idle worker
	for range d.workers {
		slots <- struct{}{}
	}
	var workWG sync.WaitGroup
	for range d.workers {
		workWG.Add(1)
		go func() {
			defer workWG.Done()
			for c := range work {
				d.process(sendCtx, c, r)
				d.finished(c.Delivery.SubscriptionID)
				slots <- struct{}{}
			}
		}()
	}

	var bgWG sync.WaitGroup
	bgWG.Add(1)
	go func() { defer bgWG.Done(); d.refreshLoop(ctx) }()

	d.claimLoop(ctx, work, slots, r)
	close(work)

	// Grace: let in-flight attempts finish, then cancel them.
	done := make(chan struct{})
	go func() { workWG.Wait(); close(done) }()
	grace := time.NewTimer(d.grace)
	select {
	case <-done:
	case <-grace.C:
		cancelSends()
		<-done
	}
	grace.Stop()
	bgWG.Wait()
	r.close()
	recWG.Wait()
	return nil
}

func (d *Dispatcher) refreshLoop(ctx context.Context) {
	t := time.NewTicker(d.refresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := d.ReloadSubscriptions(ctx); err != nil && ctx.Err() == nil {
				d.log.Warn("subscription reload failed", "error", err)
			}
		}
	}
}

// claimLoop claims as many due deliveries as there are idle workers and
// hands them over; it returns when ctx is cancelled.
func (d *Dispatcher) claimLoop(ctx context.Context, work chan<- Claim, slots chan struct{}, r *recorder) {
	failures := 0
	req := ClaimRequest{Lease: d.lease, MaxPerSubscription: d.share, SubscriptionMax: map[string]int{}, Owner: d.name}
	for {
		// Wait for at least one idle worker.
		select {
		case <-ctx.Done():
			return
		case <-slots:
		}
		free := 1
	more:
		for free < d.workers {
			select {
			case <-slots:
				free++
			default:
				break more
			}
		}
		req.Now, req.Limit = d.now().UTC(), free
		d.inFlight.fill(req.SubscriptionMax, d.subs.Load(), d.share)
		claims, err := d.store.ClaimDeliveries(ctx, req)
		if err != nil {
			giveBack(slots, free)
			if ctx.Err() != nil {
				return
			}
			failures++
			wait := min(d.poll<<min(failures, 5), 5*time.Second)
			d.log.Warn("claiming deliveries failed; will retry", "error", err, "retry_in", wait)
			if !sleepCtx(ctx, wait) {
				return
			}
			continue
		}
		failures = 0
		giveBack(slots, free-len(claims))
		d.stats.claimed.Add(int64(len(claims)))
		for _, c := range claims {
			d.inFlight.add(c.Delivery.SubscriptionID)
			select {
			case work <- c:
			case <-ctx.Done():
				// Shutting down before the attempt started: release it.
				r.add(AttemptRecord{Lease: c.Lease, Outcome: OutcomeReleased, NextAttemptAt: d.now().UTC()}, nil)
				d.inFlight.done(c.Delivery.SubscriptionID)
				d.stats.released.Add(1)
				giveBack(slots, 1)
			}
		}
		if len(claims) < free {
			// Nothing more is due that this instance may take now: wait
			// for a publish, a full share with a worker back, or the poll.
			select {
			case <-ctx.Done():
				return
			case <-d.wake:
			case <-d.freed:
				// Let more of the share's attempts end, so that the next
				// claim refills it in one statement, not one per attempt.
				if !sleepCtx(ctx, refillDelay) {
					return
				}
			case <-time.After(d.poll):
			}
		}
	}
}

// refillDelay is how long a claim loop woken by a full share's first free
// worker waits for more of them before it claims.
const refillDelay = time.Millisecond

// shareOf is how many attempts to s this instance makes at once.
func (d *Dispatcher) shareOf(s *Subscription) int {
	if s.MaxInFlight > 0 {
		return min(s.MaxInFlight, d.workers)
	}
	return d.share
}

// finished counts a worker's delivery of sub as done, and wakes an idle
// claim loop if sub's share was used up: claims may have left sub's due
// work behind. A share of one has no other attempts to wait for, so it
// wakes the loop as a publish does, without the refill delay.
func (d *Dispatcher) finished(sub string) {
	share, ok := d.subs.Load().shares[sub]
	if !ok {
		share = d.share
	}
	if d.inFlight.done(sub) < share {
		return
	}
	if share == 1 {
		d.signal() // nothing to gather: claim at once
		return
	}
	select {
	case d.freed <- struct{}{}:
	default:
	}
}

// inFlight counts the claimed deliveries of each subscription that a
// worker has not finished with, so that claims ask for no more than what
// is left of each subscription's share.
type inFlight struct {
	mu   sync.Mutex
	held map[string]int
}

func (f *inFlight) add(sub string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.held[sub]++
}

// done counts one delivery of sub as finished and returns how many sub
// had in flight before.
func (f *inFlight) done(sub string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.held[sub]
	if n <= 1 {
		delete(f.held, sub)
	} else {
		f.held[sub] = n - 1
	}
	return n
}

// fill sets m to the bounds of the next claim (ClaimRequest.SubscriptionMax):
// what is left of the share of each subscription with deliveries in
// flight, and the share of each subscription whose share is not def.
func (f *inFlight) fill(m map[string]int, snap *subSnapshot, def int) {
	clear(m)
	for id, n := range snap.shares {
		m[id] = n
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, held := range f.held {
		share, ok := m[id]
		if !ok {
			share = def
		}
		m[id] = share - held
	}
}

func giveBack(slots chan struct{}, n int) {
	for range n {
		slots <- struct{}{}
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
