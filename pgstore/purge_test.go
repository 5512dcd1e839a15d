package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/pgstore"
)

// testClock is a settable Config.Now.
type testClock struct{ ns atomic.Int64 }

func newTestClock(t time.Time) *testClock {
	c := &testClock{}
	c.Set(t)
	return c
}

func (c *testClock) Now() time.Time  { return time.Unix(0, c.ns.Load()).UTC() }
func (c *testClock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// purgeT0 is when the purge tests' old events are stored; their cutoff is
// a day later.
var (
	purgeT0     = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	purgeCutoff = purgeT0.Add(24 * time.Hour)
)

// purgeStore marks the test parallel and returns a store on a fresh schema
// whose clock stands at purgeT0.
func purgeStore(t *testing.T) (*pgstore.Store, *testClock) {
	t.Helper()
	clock := newTestClock(purgeT0)
	return schemaStores(t)(pgstore.Config{Now: clock.Now}), clock
}

// appendEvent appends e with one delivery per subscription, due at
// purgeT0, and returns the deliveries' ids.
func appendEvent(tb testing.TB, s shipevents.Store, e shipevents.Event, subs ...string) []string {
	tb.Helper()
	rec := shipevents.AppendRecord{Event: e}
	var ids []string
	for _, sub := range subs {
		id := shipevents.DeliveryID(e.Key(), sub)
		ids = append(ids, id)
		rec.Deliveries = append(rec.Deliveries, shipevents.NewDelivery{ID: id, SubscriptionID: sub, NextAttemptAt: purgeT0})
	}
	res, err := s.AppendEvents(context.Background(), []shipevents.AppendRecord{rec})
	if err != nil {
		tb.Fatalf("append %s: %v", e.ID, err)
	}
	if res[0].Outcome == shipevents.AppendDuplicate {
		tb.Fatalf("append %s: a duplicate", e.ID)
	}
	return ids
}

// settle claims every delivery due at now and records the outcome given
// for it; deliveries without one stay in flight (leased for an hour). A
// retry is due again at now.
func settle(tb testing.TB, s shipevents.Store, now time.Time, outcomes map[string]shipevents.AttemptOutcome) {
	tb.Helper()
	ctx := context.Background()
	claims, err := s.ClaimDeliveries(ctx, shipevents.ClaimRequest{Now: now, Lease: time.Hour, Limit: shipevents.MaxPageSize})
	if err != nil {
		tb.Fatalf("claim: %v", err)
	}
	var recs []shipevents.AttemptRecord
	for _, c := range claims {
		o, ok := outcomes[c.Delivery.ID]
		if !ok {
			continue
		}
		recs = append(recs, shipevents.AttemptRecord{Lease: c.Lease, Outcome: o, NextAttemptAt: now,
			Attempt: shipevents.Attempt{StartedAt: now, Duration: time.Millisecond, StatusCode: 500, Error: string(o)}})
	}
	errs, err := s.RecordAttempts(ctx, recs)
	if err != nil {
		tb.Fatalf("record: %v", err)
	}
	for i, err := range errs {
		if err != nil {
			tb.Fatalf("record %s: %v", recs[i].Lease.DeliveryID, err)
		}
	}
}

// succeedAll claims every delivery due at now (expired leases included)
// and records it as succeeded, until none is left.
func succeedAll(tb testing.TB, s shipevents.Store, now time.Time) {
	tb.Helper()
	ctx := context.Background()
	for {
		claims, err := s.ClaimDeliveries(ctx, shipevents.ClaimRequest{Now: now, Lease: time.Minute, Limit: shipevents.MaxPageSize})
		if err != nil {
			tb.Fatalf("claim: %v", err)
		}
		if len(claims) == 0 {
			return
		}
		recs := make([]shipevents.AttemptRecord, len(claims))
		for i, c := range claims {
			recs[i] = shipevents.AttemptRecord{Lease: c.Lease, Outcome: shipevents.OutcomeSucceeded,
				Attempt: shipevents.Attempt{StartedAt: now, StatusCode: 204}}
		}
		if _, err := s.RecordAttempts(ctx, recs); err != nil {
			tb.Fatalf("record: %v", err)
		}
	}
}

// tableCounts returns the rows of events, deliveries, attempts and
// delivery_queue.
func tableCounts(tb testing.TB, s *pgstore.Store) [4]int {
	tb.Helper()
	var c [4]int
	err := s.Pool().QueryRow(context.Background(), `SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM deliveries),
		(SELECT count(*) FROM attempts), (SELECT count(*) FROM delivery_queue)`).Scan(&c[0], &c[1], &c[2], &c[3])
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// checkConsistent fails the test if any row lost its parent or its twin:
// a delivery without its event, an attempt without its delivery, a queue
// row without a queued history row, or a queued history row without a
// queue row. One statement, so one snapshot.
func checkConsistent(tb testing.TB, s *pgstore.Store) {
	tb.Helper()
	var noEvent, noDelivery, noHistory, noQueue int
	err := s.Pool().QueryRow(context.Background(), `SELECT
		(SELECT count(*) FROM deliveries d WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.tenant_id = d.tenant_id AND e.id = d.event_id)),
		(SELECT count(*) FROM attempts a WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = a.delivery_id)),
		(SELECT count(*) FROM delivery_queue q
			WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = q.delivery_id AND d.state = 'queued')),
		(SELECT count(*) FROM deliveries d
			WHERE d.state = 'queued' AND NOT EXISTS (SELECT 1 FROM delivery_queue q WHERE q.delivery_id = d.id))`).
		Scan(&noEvent, &noDelivery, &noHistory, &noQueue)
	if err != nil {
		tb.Fatal(err)
	}
	if noEvent+noDelivery+noHistory+noQueue > 0 {
		tb.Errorf("dangling rows: %d deliveries without event, %d attempts without delivery, %d queue rows without queued history, %d queued deliveries without queue row",
			noEvent, noDelivery, noHistory, noQueue)
	}
}

// storedEventIDs returns the ids in the events table, sorted.
func storedEventIDs(tb testing.TB, s *pgstore.Store) []string {
	tb.Helper()
	rows, _ := s.Pool().Query(context.Background(), `SELECT id FROM events ORDER BY id`)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Fatal(err)
	}
	return ids
}

func purge(tb testing.TB, s *pgstore.Store, before time.Time, opts pgstore.PurgeOptions) pgstore.PurgeResult {
	tb.Helper()
	res, err := s.Purge(context.Background(), before, opts)
	if err != nil {
		tb.Fatalf("purge: %v", err)
	}
	return res
}

func wantPurged(tb testing.TB, got pgstore.PurgeResult, events, deliveries, attempts, kept int) {
	tb.Helper()
	if got.Events != events || got.Deliveries != deliveries || got.Attempts != attempts || got.Kept != kept {
		tb.Errorf("purged %d events, %d deliveries, %d attempts, kept %d; want %d, %d, %d, kept %d",
			got.Events, got.Deliveries, got.Attempts, got.Kept, events, deliveries, attempts, kept)
	}
}

// TestPurge: events stored before the cutoff whose deliveries all
// succeeded (or that have none) go with their deliveries and attempts;
// events with a pending or in-flight delivery stay, and so do dead letters
// unless DeadBefore lets them go; younger events stay. Shipment states
// stay, and the live deliveries can still be worked on.
func TestPurge(t *testing.T) {
	s, clock := purgeStore(t)
	ctx := t.Context()

	ok := appendEvent(t, s, shipmentEvent("old-ok", "1ZOK", purgeT0), "a", "b")
	appendEvent(t, s, shipmentEvent("old-none", "1ZNONE", purgeT0))
	dead := appendEvent(t, s, shipmentEvent("old-dead", "1ZDEAD", purgeT0), "a", "b")
	pending := appendEvent(t, s, shipmentEvent("old-pending", "1ZPEND", purgeT0), "a", "b")
	inFlight := appendEvent(t, s, shipmentEvent("old-inflight", "1ZFLY", purgeT0), "a")
	clock.Set(purgeCutoff.Add(time.Hour))
	young := appendEvent(t, s, shipmentEvent("new-ok", "1ZNEW", purgeT0), "a")

	// ok[0] fails once, then succeeds: two attempts.
	settle(t, s, purgeT0, map[string]shipevents.AttemptOutcome{
		ok[0]: shipevents.OutcomeRetry, ok[1]: shipevents.OutcomeSucceeded,
		dead[0]: shipevents.OutcomeSucceeded, dead[1]: shipevents.OutcomeDead,
		pending[0]: shipevents.OutcomeSucceeded, young[0]: shipevents.OutcomeSucceeded,
	})
	// Left: pending[1] and inFlight[0] in flight; ok[0] due again.
	settle(t, s, purgeT0, map[string]shipevents.AttemptOutcome{ok[0]: shipevents.OutcomeSucceeded})
	// pending[1] is retried later: pending, not in flight.
	releaseLater(t, s, pending[1])
	before := tableCounts(t, s)

	// Dead letters kept by default and while DeadBefore is older.
	wantPurged(t, purge(t, s, purgeCutoff, pgstore.PurgeOptions{}), 2, 2, 3, 3)
	if got, want := storedEventIDs(t, s), []string{"new-ok", "old-dead", "old-inflight", "old-pending"}; !slices.Equal(got, want) {
		t.Fatalf("events left %v, want %v", got, want)
	}
	wantPurged(t, purge(t, s, purgeCutoff, pgstore.PurgeOptions{DeadBefore: purgeT0}), 0, 0, 0, 3)
	// DeadBefore past the event: it goes, with its dead letter.
	wantPurged(t, purge(t, s, purgeCutoff, pgstore.PurgeOptions{DeadBefore: purgeCutoff}), 1, 2, 2, 2)
	after := tableCounts(t, s)
	if want := [4]int{before[0] - 3, before[1] - 4, before[2] - 5, before[3]}; after != want {
		t.Errorf("rows (events, deliveries, attempts, queue) %v, want %v (before purge: %v)", after, want, before)
	}
	checkConsistent(t, s)

	for _, id := range []string{"old-ok", "old-none", "old-dead"} {
		if _, err := s.GetEvent(ctx, shipevents.EventKey{TenantID: "tenant-1", ID: id}); !errors.Is(err, shipevents.ErrNotFound) {
			t.Errorf("GetEvent(%s) after purge: %v, want ErrNotFound", id, err)
		}
	}
	if _, err := s.ListAttempts(ctx, ok[0]); !errors.Is(err, shipevents.ErrNotFound) {
		t.Errorf("ListAttempts of a purged delivery: %v, want ErrNotFound", err)
	}
	for _, id := range []string{"old-pending", "old-inflight", "new-ok"} {
		if se, err := s.GetEvent(ctx, shipevents.EventKey{TenantID: "tenant-1", ID: id}); err != nil || (id != "new-ok" && se.PendingDeliveries != 1) {
			t.Errorf("GetEvent(%s) after purge: %v, %d pending", id, err, se.PendingDeliveries)
		}
	}
	// The shipment states of purged events stay.
	okEvent := shipmentEvent("x", "1ZOK", purgeT0)
	st, err := s.ShipmentState(ctx, okEvent.Shipment())
	if err != nil || st.EventID != "old-ok" {
		t.Errorf("shipment state of a purged event: %+v, %v; want it kept, set by old-ok", st, err)
	}
	// The kept deliveries still work: the pending one is claimed, the in
	// flight one's lease is recorded.
	settle(t, s, purgeT0.Add(2*time.Hour), map[string]shipevents.AttemptOutcome{pending[1]: shipevents.OutcomeSucceeded})
	if d := deliveryState(t, s, pending[1]); d != shipevents.DeliverySucceeded {
		t.Errorf("kept pending delivery after a claim: %s", d)
	}
	if d := deliveryState(t, s, inFlight[0]); d != shipevents.DeliveryInFlight {
		t.Errorf("kept in-flight delivery: %s", d)
	}
	// Once finished, they go too.
	wantPurged(t, purge(t, s, purgeCutoff, pgstore.PurgeOptions{}), 1, 2, 2, 1)
	checkConsistent(t, s)
}

// TestPurgeTenants: two tenants' events with one id are purged each on its
// own: the finished one goes with its deliveries and attempts, the other,
// still pending, stays with all of its deliveries.
func TestPurgeTenants(t *testing.T) {
	s, clock := purgeStore(t)
	ctx := t.Context()
	done := shipmentEvent("same-id", "1ZSAME", purgeT0)
	busy := done
	busy.TenantID = "tenant-2"
	doneIDs := appendEvent(t, s, done, "a", "b")
	busyIDs := appendEvent(t, s, busy, "a", "b")
	settle(t, s, purgeT0, map[string]shipevents.AttemptOutcome{
		doneIDs[0]: shipevents.OutcomeSucceeded, doneIDs[1]: shipevents.OutcomeSucceeded,
		busyIDs[0]: shipevents.OutcomeSucceeded, busyIDs[1]: shipevents.OutcomeRetry,
	})
	clock.Set(purgeCutoff.Add(time.Hour))

	wantPurged(t, purge(t, s, purgeCutoff, pgstore.PurgeOptions{}), 1, 2, 2, 1)
	checkConsistent(t, s)
	if _, err := s.GetEvent(ctx, done.Key()); !errors.Is(err, shipevents.ErrNotFound) {
		t.Errorf("GetEvent(%s) after purge: %v, want ErrNotFound", done.Key(), err)
	}
	se, err := s.GetEvent(ctx, busy.Key())
	if err != nil || se.Event.TenantID != "tenant-2" || se.PendingDeliveries != 1 {
		t.Fatalf("GetEvent(%s) after purge: %+v, %v; want it kept with 1 pending delivery", busy.Key(), se, err)
	}
	p, err := s.ListDeliveries(ctx, shipevents.DeliveryFilter{TenantID: busy.TenantID, EventID: busy.ID})
	if err != nil || len(p.Items) != 2 {
		t.Fatalf("deliveries of %s after purge: %v, %v; want both", busy.Key(), p.Items, err)
	}
	if as, err := s.ListAttempts(ctx, busyIDs[0]); err != nil || len(as) != 1 {
		t.Errorf("attempts of the kept event's delivery: %v, %v; want 1", as, err)
	}
}

// releaseLater claims the delivery id (due at purgeT0) and releases it to
// be due two hours later, so that it is pending, not in flight.
func releaseLater(tb testing.TB, s shipevents.Store, id string) {
	tb.Helper()
	ctx := context.Background()
	claims, err := s.ClaimDeliveries(ctx, shipevents.ClaimRequest{Now: purgeT0.Add(2 * time.Hour), Lease: time.Minute, Limit: 100})
	if err != nil {
		tb.Fatal(err)
	}
	for _, c := range claims {
		if c.Delivery.ID != id {
			continue
		}
		errs, err := s.RecordAttempts(ctx, []shipevents.AttemptRecord{{Lease: c.Lease, Outcome: shipevents.OutcomeReleased,
			NextAttemptAt: purgeT0.Add(2 * time.Hour)}})
		if err != nil || errs[0] != nil {
			tb.Fatalf("release %s: %v %v", id, err, errs)
		}
		return
	}
	tb.Fatalf("delivery %s was not claimable", id)
}

// deliveryState returns the listed state of one delivery.
func deliveryState(tb testing.TB, s shipevents.Store, id string) shipevents.DeliveryState {
	tb.Helper()
	for _, d := range allDeliveries(tb, s) {
		if d.ID == id {
			return d.State
		}
	}
	tb.Fatalf("delivery %s not listed", id)
	return ""
}

// TestPurgeBatches: a small batch size walks many events in many short
// transactions, skipping the kept ones, and stops at the first event
// stored after the cutoff.
func TestPurgeBatches(t *testing.T) {
	s, clock := purgeStore(t)
	const n, batch = 600, 7
	var recs []shipevents.AppendRecord
	for _, e := range makeEvents("b", n) {
		sub := "done"
		if len(recs)%10 == 0 {
			sub = "busy" // every tenth event keeps a live delivery
		}
		recs = append(recs, shipevents.AppendRecord{Event: e, Deliveries: []shipevents.NewDelivery{
			{ID: shipevents.DeliveryID(e.Key(), sub), SubscriptionID: sub, NextAttemptAt: purgeT0}}})
	}
	if _, err := s.AppendEvents(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	clock.Set(purgeCutoff)
	for _, e := range makeEvents("young", 5) {
		appendEvent(t, s, e, "done")
	}
	if _, err := s.Pool().Exec(t.Context(), `WITH q AS (
			DELETE FROM delivery_queue WHERE delivery_id IN (SELECT id FROM deliveries WHERE subscription_id = 'done')
			RETURNING delivery_id)
		UPDATE deliveries SET state = 'succeeded', attempts = 1 FROM q WHERE id = q.delivery_id`); err != nil {
		t.Fatal(err)
	}
	res := purge(t, s, purgeCutoff, pgstore.PurgeOptions{BatchSize: batch})
	wantPurged(t, res, n-n/10, n-n/10, 0, n/10)
	// The walk reads the n old events and the first young one.
	if want := (n + 1 + batch - 1) / batch; res.Batches != want {
		t.Errorf("%d batches, want %d", res.Batches, want)
	}
	if c := tableCounts(t, s); c[0] != n/10+5 {
		t.Errorf("%d events left, want %d", c[0], n/10+5)
	}
	checkConsistent(t, s)
}

// appendBare appends n events without deliveries, stored at the clock's
// time, in calls of 500.
func appendBare(tb testing.TB, s shipevents.Store, prefix string, n int) {
	tb.Helper()
	events := makeEvents(prefix, n)
	for start := 0; start < n; start += 500 {
		var recs []shipevents.AppendRecord
		for _, e := range events[start:min(start+500, n)] {
			recs = append(recs, shipevents.AppendRecord{Event: e})
		}
		if _, err := s.AppendEvents(context.Background(), recs); err != nil {
			tb.Fatal(err)
		}
	}
}

// TestPurgeCancel: cancelling ctx stops a purge between batches (or in
// one, which is undone); the result counts what the committed batches
// deleted, the purge lock is released, and a second call finishes the
// work. The purge is held at the 101st event by a row lock taken
// elsewhere, so it is cancelled midway however fast it runs.
func TestPurgeCancel(t *testing.T) {
	s, _ := purgeStore(t)
	const n, held = 3000, 100
	appendBare(t, s, "c", n)

	cancelled, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := s.Purge(cancelled, purgeCutoff, pgstore.PurgeOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("purge with a cancelled context: %v", err)
	}

	lock, err := s.Pool().Begin(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(context.Background()) //nolint:errcheck // released below
	if _, err := lock.Exec(t.Context(), `SELECT id FROM events WHERE id = $1 FOR UPDATE`, fmt.Sprintf("c-%d", held)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	go func() { // cancel once the purge waits for the locked event
		defer cancel()
		for ctx.Err() == nil {
			var left int
			if err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM events`).Scan(&left); err == nil && left == n-held {
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	res, err := s.Purge(ctx, purgeCutoff, pgstore.PurgeOptions{BatchSize: 1})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("purge cancelled midway: %v (%+v)", err, res)
	}
	if err := lock.Rollback(t.Context()); err != nil {
		t.Fatal(err)
	}
	left := tableCounts(t, s)[0]
	if res.Events != held || left != n-held {
		t.Fatalf("cancelled purge reported %d events, %d of %d left; want %d purged", res.Events, left, n, held)
	}
	res2, err := s.Purge(t.Context(), purgeCutoff, pgstore.PurgeOptions{})
	if err != nil || res2.Events != left {
		t.Fatalf("second purge: %+v, %v; want the %d left", res2, err, left)
	}
}

// TestPurgeConcurrent: two stores purge the same schema at once, taking
// turns batch by batch; between them they delete each event once, and
// neither fails.
func TestPurgeConcurrent(t *testing.T) {
	open := schemaStores(t)
	clock := newTestClock(purgeT0)
	a, b := open(pgstore.Config{Now: clock.Now}), open(pgstore.Config{Now: clock.Now})
	const n = 2000
	appendBare(t, a, "p", n)
	var wg sync.WaitGroup
	var results [2]pgstore.PurgeResult
	var errs [2]error
	for i, s := range []*pgstore.Store{a, b} {
		wg.Go(func() { results[i], errs[i] = s.Purge(t.Context(), purgeCutoff, pgstore.PurgeOptions{BatchSize: 50}) })
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatalf("purges: %v / %v", errs[0], errs[1])
	}
	t.Logf("the purges deleted %d and %d events", results[0].Events, results[1].Events)
	if got := results[0].Events + results[1].Events; got != n {
		t.Errorf("the two purges deleted %d + %d events, want %d in all", results[0].Events, results[1].Events, n)
	}
	if c := tableCounts(t, a); c[0] != 0 {
		t.Errorf("%d events left", c[0])
	}
}

// TestPurgeRacing: one store purges in a loop while another appends the
// same event ids again (new once purged, duplicates otherwise), requeues
// their deliveries, and delivers. No row is ever left dangling, no purge
// fails, and once the traffic stops and the deliveries finish everything
// is purged.
func TestPurgeRacing(t *testing.T) {
	open := schemaStores(t)
	clock := newTestClock(purgeT0) // every event is old
	purger := open(pgstore.Config{Now: clock.Now})
	// The racing store's connections are named, so that the end of the
	// test can wait for them to be gone: a statement whose context was
	// cancelled may still commit on the server after the client gave up.
	racers := "purge-race-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	other := open(pgstore.Config{Now: clock.Now, AppendRetries: 10, ApplicationName: racers})
	events := makeEvents("race", 60)
	for _, e := range events {
		appendEvent(t, other, e, "a", "b")
	}
	succeedAll(t, other, purgeT0)

	// The race runs until each side has done its part a number of times,
	// however long that takes.
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	var wg sync.WaitGroup
	var purged, appended, requeued atomic.Int64
	wg.Go(func() {
		defer stop()
		for ctx.Err() == nil && (purged.Load() < 100 || appended.Load() < 100 || requeued.Load() < 200) {
			time.Sleep(10 * time.Millisecond)
		}
	})
	wg.Go(func() {
		for ctx.Err() == nil {
			res, err := purger.Purge(ctx, purgeCutoff, pgstore.PurgeOptions{BatchSize: 5})
			if err != nil && ctx.Err() == nil {
				t.Errorf("purge: %v", err)
				return
			}
			purged.Add(int64(res.Events))
		}
	})
	wg.Go(func() { // append again and requeue
		rng := rand.New(rand.NewPCG(1, 2))
		for ctx.Err() == nil {
			e := events[rng.IntN(len(events))]
			rec := shipevents.AppendRecord{Event: e, Deliveries: []shipevents.NewDelivery{
				{ID: shipevents.DeliveryID(e.Key(), "a"), SubscriptionID: "a", NextAttemptAt: purgeT0},
				{ID: shipevents.DeliveryID(e.Key(), "b"), SubscriptionID: "b", NextAttemptAt: purgeT0}}}
			res, err := other.AppendEvents(ctx, []shipevents.AppendRecord{rec})
			if err == nil && res[0].Outcome != shipevents.AppendDuplicate {
				appended.Add(1)
			}
			n, err := other.RequeueDeliveries(ctx, []string{rec.Deliveries[0].ID, rec.Deliveries[1].ID}, purgeT0)
			if err != nil && ctx.Err() == nil {
				t.Errorf("requeue: %v", err)
				return
			}
			requeued.Add(int64(n))
		}
	})
	wg.Go(func() { // deliver
		for ctx.Err() == nil {
			claims, err := other.ClaimDeliveries(ctx, shipevents.ClaimRequest{Now: purgeT0, Lease: time.Minute, Limit: 20})
			if err != nil {
				continue
			}
			var recs []shipevents.AttemptRecord
			for _, c := range claims {
				recs = append(recs, shipevents.AttemptRecord{Lease: c.Lease, Outcome: shipevents.OutcomeSucceeded,
					Attempt: shipevents.Attempt{StartedAt: purgeT0, StatusCode: 204}})
			}
			_, _ = other.RecordAttempts(ctx, recs)
		}
	})
	for ctx.Err() == nil {
		checkConsistent(t, purger)
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()
	t.Logf("purged %d events, appended %d again, requeued %d deliveries", purged.Load(), appended.Load(), requeued.Load())
	if purged.Load() == 0 || appended.Load() == 0 || requeued.Load() == 0 {
		t.Errorf("the race did not happen: purged %d, appended %d, requeued %d", purged.Load(), appended.Load(), requeued.Load())
	}
	checkConsistent(t, purger)
	other.Close()
	waitConnectionsGone(t, purger, racers)
	// Leases taken before the stop expire; then everything finishes and goes.
	succeedAll(t, open(pgstore.Config{Now: clock.Now}), purgeT0.Add(time.Hour))
	purge(t, purger, purgeCutoff, pgstore.PurgeOptions{})
	if c := tableCounts(t, purger); c != [4]int{} {
		t.Errorf("rows left after the final purge (events, deliveries, attempts, queue): %v", c)
	}
}

// waitConnectionsGone waits until the server has no backend left for
// connections named app. A backend ends only after running what its
// client sent before closing, so once they are gone nothing of theirs can
// still commit.
func waitConnectionsGone(t *testing.T, s *pgstore.Store, app string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute) // a guard against a hang, not a speed check
	defer cancel()
	for {
		var n int
		err := s.Pool().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n)
		if err != nil {
			t.Fatalf("waiting for the %s connections to end: %v", app, err)
		}
		if n == 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPurgeShipmentState: a shipment's state outlives its purged events
// and keeps ordering the ones that come later, re-sent old scans included.
func TestPurgeShipmentState(t *testing.T) {
	s, _ := purgeStore(t)
	ctx := t.Context()
	scan := statusEvent("ship-1", "1ZSHIP", shipevents.StatusInTransit, purgeT0)
	delivered := statusEvent("ship-2", "1ZSHIP", shipevents.StatusDelivered, purgeT0.Add(time.Hour))
	appendEvent(t, s, scan)
	appendEvent(t, s, delivered)
	wantPurged(t, purge(t, s, purgeCutoff, pgstore.PurgeOptions{}), 2, 0, 0, 0)

	st, err := s.ShipmentState(ctx, scan.Shipment())
	if err != nil || st.Status != shipevents.StatusDelivered || st.EventID != "ship-2" {
		t.Fatalf("shipment state after purging its events: %+v, %v", st, err)
	}
	// The re-sent scan is stored again (its id was forgotten) but late:
	// the state still says delivered.
	res, err := s.AppendEvents(ctx, []shipevents.AppendRecord{{Event: scan}})
	if err != nil || res[0].Outcome != shipevents.AppendLate {
		t.Fatalf("re-sent purged scan: %+v, %v; want it stored late", res, err)
	}
	if st, err := s.ShipmentState(ctx, scan.Shipment()); err != nil || st.EventID != "ship-2" {
		t.Errorf("shipment state after the re-sent scan: %+v, %v", st, err)
	}
}

// TestPurgedEventDeliveredAgain is the documented trade-off end to end.
// Published again after a purge, an event is stored again: one without a
// shipment (an order event) is new and delivered again to every
// subscription; a shipment scan comes late, as its shipment's state was
// kept, so only the subscription that asks for late events receives it
// again. Receivers see the same webhook-id as the first time, and the
// delivery's history starts afresh.
func TestPurgedEventDeliveredAgain(t *testing.T) {
	clock := newTestClock(time.Now().Add(-48 * time.Hour))
	s := schemaStores(t)(pgstore.Config{Now: clock.Now})
	var mu sync.Mutex
	got := map[string]int{} // path + " " + webhook-id -> requests
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.URL.Path+" "+r.Header.Get("webhook-id")]++
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	d := shipevents.NewDispatcher(shipevents.DispatcherConfig{Store: s, Sender: loopbackSender(5 * time.Second),
		DisableDeliveryEvents: true, PollInterval: 20 * time.Millisecond})
	ctx := t.Context()
	for _, sub := range []shipevents.Subscription{webhookSub("all", srv.URL+"/all"), webhookSub("current", srv.URL+"/current")} {
		sub.EnabledEvents = []string{shipevents.SourceShipments, shipevents.SourceOrders}
		sub.IncludeLate = sub.ID == "all"
		if err := d.Subscribe(ctx, sub); err != nil {
			t.Fatal(err)
		}
	}
	runDispatcher(t, d)
	at := time.Now().Add(-72 * time.Hour).UTC()
	scan := shipmentEvent("again-scan", "1ZAGAIN", at)
	order := shipevents.Event{ID: "again-order", Type: shipevents.TypeOrderCreated, Source: shipevents.SourceOrders,
		Version: shipevents.EnvelopeVersion, Ref: "orders/created", OccurredAt: at, TriggeredAt: at}
	publish := func(want ...shipevents.AppendOutcome) {
		t.Helper()
		res, err := d.Publish(ctx, scan, order)
		if err != nil || len(res) != 2 || res[0].Outcome != want[0] || res[1].Outcome != want[1] {
			t.Fatalf("publish: %+v, %v; want %v", res, err, want)
		}
	}
	publish(shipevents.AppendNew, shipevents.AppendNew)
	waitSucceeded(t, s, 4, 10*time.Second)
	publish(shipevents.AppendDuplicate, shipevents.AppendDuplicate)
	if _, err := s.Purge(ctx, time.Now().Add(-24*time.Hour), pgstore.PurgeOptions{}); err != nil {
		t.Fatal(err)
	}
	if c := tableCounts(t, s); c != [4]int{} {
		t.Fatalf("rows left after the purge: %v", c)
	}
	publish(shipevents.AppendLate, shipevents.AppendNew)
	waitSucceeded(t, s, 3, 10*time.Second)
	mu.Lock()
	defer mu.Unlock()
	scanID := shipevents.MessageID(scan.Key()) // the scan has a tenant; the order has none
	want := map[string]int{"/all " + scanID: 2, "/current " + scanID: 1, "/all again-order": 2, "/current again-order": 2}
	if !maps.Equal(got, want) {
		t.Errorf("requests received %v, want %v", got, want)
	}
	if as, err := s.ListAttempts(ctx, shipevents.DeliveryID(order.Key(), "all")); err != nil || len(as) != 1 {
		t.Errorf("attempts of the delivery made again: %d, %v; want 1 (the purged history is gone)", len(as), err)
	}
}

// TestPurgeClosed: a closed store refuses to purge.
func TestPurgeClosed(t *testing.T) {
	s := newTestStore(t)
	s.Close()
	if _, err := s.Purge(t.Context(), time.Now(), pgstore.PurgeOptions{}); !errors.Is(err, shipevents.ErrClosed) {
		t.Errorf("purge on a closed store: %v, want ErrClosed", err)
	}
}

// TestPurgeRacingAddDeliveries adds deliveries to old, finished events
// while purges delete them: every event either survives with its new
// deliveries or is gone with AddDeliveries reporting ErrNotFound, and no
// delivery outlives its event.
func TestPurgeRacingAddDeliveries(t *testing.T) {
	s, clock := purgeStore(t)
	const n = 300
	appendBare(t, s, "race-add", n)
	events := makeEvents("race-add", n)
	clock.Set(purgeCutoff.Add(time.Hour))

	ctx := context.Background()
	added := make([]bool, n)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i, e := range events {
			nd := shipevents.NewDelivery{ID: shipevents.DeliveryID(e.Key(), "late-sub"), SubscriptionID: "late-sub", NextAttemptAt: purgeT0}
			c, err := s.AddDeliveries(ctx, e.Key(), []shipevents.NewDelivery{nd})
			switch {
			case err == nil:
				added[i] = c == 1
			case !errors.Is(err, shipevents.ErrNotFound):
				t.Errorf("AddDeliveries(%s): %v", e.ID, err)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for range 20 {
			// A batch that keeps losing the race gives up with a
			// serialization failure; the next call goes on.
			if _, err := s.Purge(ctx, purgeCutoff, pgstore.PurgeOptions{BatchSize: 16}); err != nil && !strings.Contains(err.Error(), "40001") {
				t.Errorf("purge: %v", err)
				return
			}
		}
	}()
	wg.Wait()
	checkConsistent(t, s)

	stored := map[string]bool{}
	for _, id := range storedEventIDs(t, s) {
		stored[id] = true
	}
	for i, e := range events {
		if added[i] && !stored[e.ID] {
			t.Errorf("%s: a delivery was added, yet the event was purged", e.ID)
		}
	}
}
