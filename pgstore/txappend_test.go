package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/pgstore"
)

// txFixture is a store on a schema of its own, a dispatcher on it that
// only publishes, and the host's pool: its own connections, with the
// default search_path, and its own table of orders in the store's schema.
type txFixture struct {
	dsn, schema string
	store       *pgstore.Store
	d           *shipevents.Dispatcher
	host        *pgxpool.Pool
	orders      string // the orders table, qualified
}

func newTxFixture(t *testing.T, subs ...shipevents.Subscription) *txFixture {
	t.Helper()
	dsn := testDSN(t)
	t.Parallel()
	f := &txFixture{dsn: dsn, schema: testSchema(t, dsn)}
	f.store = openStore(t, dsn, f.schema, pgstore.Config{})
	f.host = adminPool(t, dsn)
	f.orders = pgx.Identifier{f.schema, "orders"}.Sanitize()
	if _, err := f.host.Exec(t.Context(), `CREATE TABLE `+f.orders+` (id text PRIMARY KEY, status text NOT NULL, n int NOT NULL DEFAULT 0)`); err != nil {
		t.Fatal(err)
	}
	f.d = shipevents.NewDispatcher(shipevents.DispatcherConfig{Store: f.store, DisableDeliveryEvents: true})
	if len(subs) == 0 {
		subs = []shipevents.Subscription{webhookSub("oms", "https://oms.example.com/hooks")}
	}
	for _, s := range subs {
		if err := f.d.Subscribe(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// addOrder inserts an order row, committed.
func (f *txFixture) addOrder(t *testing.T, id, status string) {
	t.Helper()
	if _, err := f.host.Exec(t.Context(), `INSERT INTO `+f.orders+` (id, status) VALUES ($1, $2)`, id, status); err != nil {
		t.Fatal(err)
	}
}

// orderStatus reads an order's committed status.
func (f *txFixture) orderStatus(t *testing.T, id string) string {
	t.Helper()
	var st string
	if err := f.host.QueryRow(t.Context(), `SELECT status FROM `+f.orders+` WHERE id = $1`, id).Scan(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

// ship is the host's transaction body: the order's row and its event.
func (f *txFixture) ship(ctx context.Context, tx pgx.Tx, order string, events ...shipevents.Event) ([]shipevents.PublishResult, error) {
	if _, err := tx.Exec(ctx, `UPDATE `+f.orders+` SET status = 'shipped', n = n + 1 WHERE id = $1`, order); err != nil {
		return nil, err
	}
	return shipevents.PublishTx(ctx, f.d, tx, events...)
}

func eventDeliveries(t *testing.T, s shipevents.Store, key shipevents.EventKey) []shipevents.Delivery {
	t.Helper()
	p, err := s.ListDeliveries(t.Context(), shipevents.DeliveryFilter{TenantID: key.TenantID, EventID: key.ID, Limit: shipevents.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	return p.Items
}

func outcomes(res []shipevents.PublishResult) []shipevents.AppendOutcome {
	out := make([]shipevents.AppendOutcome, len(res))
	for i, r := range res {
		out[i] = r.Outcome
	}
	return out
}

// TestPublishTxRollback: what a rolled-back transaction published leaves
// nothing behind: no event, no delivery, no shipment state (neither a new
// one nor a change to an existing one), and the host's row as it was;
// inside the transaction, before the rollback, all of it was there.
func TestPublishTxRollback(t *testing.T) {
	f := newTxFixture(t)
	ctx := t.Context()
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	seed := statusEvent("seed", "1ZOLD", shipevents.StatusInTransit, at)
	if _, err := f.d.Publish(ctx, seed); err != nil {
		t.Fatal(err)
	}
	f.addOrder(t, "o1", "packed")
	moved := statusEvent("moved", "1ZOLD", shipevents.StatusDelivered, at.Add(time.Hour))
	fresh := statusEvent("fresh", "1ZNEW", shipevents.StatusInTransit, at)

	tx, err := f.host.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	res, err := f.ship(ctx, tx, "o1", moved, fresh)
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(res); !slices.Equal(got, []shipevents.AppendOutcome{shipevents.AppendNew, shipevents.AppendNew}) || res[0].Deliveries != 1 || res[1].Deliveries != 1 {
		t.Fatalf("results %+v, want both new with one delivery", res)
	}
	var inTx int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{f.schema, "deliveries"}.Sanitize()).Scan(&inTx); err != nil || inTx != 3 {
		t.Fatalf("inside the transaction: %d deliveries (%v), want 3", inTx, err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	for _, e := range []shipevents.Event{moved, fresh} {
		if _, err := f.store.GetEvent(ctx, e.Key()); !errors.Is(err, shipevents.ErrNotFound) {
			t.Errorf("event %s after the rollback: %v, want ErrNotFound", e.ID, err)
		}
		if ds := eventDeliveries(t, f.store, e.Key()); len(ds) != 0 {
			t.Errorf("event %s after the rollback: deliveries %+v", e.ID, ds)
		}
	}
	if n := len(allDeliveries(t, f.store)); n != 1 {
		t.Errorf("%d deliveries after the rollback, want the seed's only", n)
	}
	if st, err := f.store.ShipmentState(ctx, seed.Shipment()); err != nil || st.EventID != "seed" || st.Status != shipevents.StatusInTransit {
		t.Errorf("seeded shipment after the rollback: %+v, %v; want the seed's state", st, err)
	}
	if _, err := f.store.ShipmentState(ctx, fresh.Shipment()); !errors.Is(err, shipevents.ErrNotFound) {
		t.Errorf("new shipment after the rollback: %v, want ErrNotFound", err)
	}
	if st := f.orderStatus(t, "o1"); st != "packed" {
		t.Errorf("order after the rollback: %s, want packed", st)
	}
	// Publishing them again is not a duplicate: they were never stored.
	res, err = f.d.Publish(ctx, moved, fresh)
	if err != nil || res[0].Outcome != shipevents.AppendNew || res[1].Outcome != shipevents.AppendNew {
		t.Errorf("publishing the rolled-back events again: %+v, %v; want both new", res, err)
	}
}

// TestPublishTxCommitDelivers: a dispatcher of another instance (its own
// store and pool) cannot claim what an uncommitted transaction published;
// once the host commits, its row and the events are there together and
// that instance delivers them, without anything more from the host.
func TestPublishTxCommitDelivers(t *testing.T) {
	f := newTxFixture(t, shipevents.Subscription{ID: "oms", Handler: "oms", EnabledEvents: []string{shipevents.SourceShipments}})
	ctx := t.Context()
	other := openStore(t, f.dsn, f.schema, pgstore.Config{})
	worker := shipevents.NewDispatcher(shipevents.DispatcherConfig{Store: other, PollInterval: 20 * time.Millisecond,
		DisableDeliveryEvents: true, Name: "other-instance"})
	got := make(chan shipevents.EventKey, 10)
	worker.Handle("oms", func(ctx context.Context, e shipevents.Event) error {
		got <- e.Key()
		return nil
	})
	f.addOrder(t, "o1", "packed")
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	events := []shipevents.Event{
		statusEvent("c1", "1ZC1", shipevents.StatusInTransit, at),
		statusEvent("c2", "1ZC2", shipevents.StatusDelivered, at),
	}

	tx, err := f.host.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
	if _, err := f.ship(ctx, tx, "o1", events...); err != nil {
		t.Fatal(err)
	}
	claims, err := other.ClaimDeliveries(ctx, shipevents.ClaimRequest{Now: time.Now().Add(time.Hour), Lease: time.Minute, Limit: 10, Owner: "probe"})
	if err != nil || len(claims) != 0 {
		t.Fatalf("before the commit, another instance claimed %d deliveries (%v), want none", len(claims), err)
	}
	if _, err := other.GetEvent(ctx, events[0].Key()); !errors.Is(err, shipevents.ErrNotFound) {
		t.Fatalf("before the commit, another instance reads the event: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if st := f.orderStatus(t, "o1"); st != "shipped" {
		t.Errorf("order after the commit: %s, want shipped", st)
	}

	runDispatcher(t, worker)
	seen := map[shipevents.EventKey]bool{}
	timeout := time.After(30 * time.Second)
	for len(seen) < len(events) {
		select {
		case k := <-got:
			seen[k] = true
		case <-timeout:
			t.Fatalf("the other instance delivered %v of %d events within 30 s", seen, len(events))
		}
	}
	waitSucceeded(t, other, len(events), 30*time.Second)
}

// TestPublishTxDuplicates: an event stored before, repeated within one
// call, or published again by a later call in the same transaction is a
// duplicate, reported as Publish reports one, and creates no delivery; an
// event another transaction is publishing waits for it and is then a
// duplicate if that transaction committed, new if it rolled back.
func TestPublishTxDuplicates(t *testing.T) {
	f := newTxFixture(t)
	ctx := t.Context()
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	before := statusEvent("before", "1ZD1", shipevents.StatusInTransit, at)
	inTx := statusEvent("in-tx", "1ZD2", shipevents.StatusInTransit, at)
	if _, err := f.d.Publish(ctx, before); err != nil {
		t.Fatal(err)
	}
	viaPublish, err := f.d.Publish(ctx, before)
	if err != nil {
		t.Fatal(err)
	}
	f.addOrder(t, "o1", "packed")

	tx, err := f.host.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
	res, err := f.ship(ctx, tx, "o1", before, inTx, inTx)
	if err != nil {
		t.Fatal(err)
	}
	want := []shipevents.PublishResult{
		viaPublish[0],
		{TenantID: "tenant-1", EventID: "in-tx", Outcome: shipevents.AppendNew, Deliveries: 1},
		{TenantID: "tenant-1", EventID: "in-tx", Outcome: shipevents.AppendDuplicate},
	}
	if !slices.Equal(res, want) {
		t.Errorf("results %+v, want %+v (the first as Publish reports it)", res, want)
	}
	again, err := shipevents.PublishTx(ctx, f.d, tx, inTx)
	if err != nil || len(again) != 1 || again[0].Outcome != shipevents.AppendDuplicate || again[0].Deliveries != 0 {
		t.Errorf("the same event again in the same transaction: %+v, %v; want a duplicate", again, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, e := range []shipevents.Event{before, inTx} {
		if ds := eventDeliveries(t, f.store, e.Key()); len(ds) != 1 {
			t.Errorf("event %s: %d deliveries, want 1", e.ID, len(ds))
		}
	}

	// Two transactions publishing one event: the second waits.
	for _, commit := range []bool{true, false} {
		e := statusEvent(fmt.Sprintf("raced-%v", commit), fmt.Sprintf("1ZD3-%v", commit), shipevents.StatusInTransit, at)
		first, err := f.host.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := shipevents.PublishTx(ctx, f.d, first, e); err != nil {
			t.Fatal(err)
		}
		second, err := f.host.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan []shipevents.PublishResult, 1)
		go func() {
			res, err := shipevents.PublishTx(ctx, f.d, second, e)
			if err != nil {
				t.Error(err)
			}
			done <- res
		}()
		waitBlocked(t, f.host, second)
		if commit {
			err = first.Commit(ctx)
		} else {
			err = first.Rollback(ctx)
		}
		if err != nil {
			t.Fatal(err)
		}
		res := <-done
		wantOutcome := shipevents.AppendDuplicate
		if !commit {
			wantOutcome = shipevents.AppendNew
		}
		if len(res) != 1 || res[0].Outcome != wantOutcome {
			t.Errorf("commit=%v: the waiting transaction's result %+v, want %v", commit, res, wantOutcome)
		}
		if err := second.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if ds := eventDeliveries(t, f.store, e.Key()); len(ds) != 1 {
			t.Errorf("commit=%v: %d deliveries, want 1", commit, len(ds))
		}
	}
}

// waitBlocked waits until tx's backend waits for a lock.
func waitBlocked(t *testing.T, pool *pgxpool.Pool, tx pgx.Tx) {
	t.Helper()
	pid := tx.Conn().PgConn().PID()
	waitFor(t, 30*time.Second, fmt.Sprintf("backend %d to wait for a lock", pid), func() (bool, error) {
		var waiting bool
		err := pool.QueryRow(context.Background(),
			`SELECT EXISTS (SELECT 1 FROM pg_locks WHERE pid = $1 AND NOT granted)`, pid).Scan(&waiting)
		return waiting, err
	})
}

// TestPublishTxTenants: the same event id under two tenants is two events
// in one transaction, each delivered to its tenant's subscription and to
// the one without a tenant.
func TestPublishTxTenants(t *testing.T) {
	all := []string{shipevents.SourceShipments}
	f := newTxFixture(t,
		shipevents.Subscription{ID: "shop-a", TenantID: "a", URL: "https://a.example.com/h", EnabledEvents: all},
		shipevents.Subscription{ID: "shop-b", TenantID: "b", URL: "https://b.example.com/h", EnabledEvents: all},
		shipevents.Subscription{ID: "audit", URL: "https://audit.example.com/h", EnabledEvents: all},
	)
	ctx := t.Context()
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	ea := statusEvent("scan-1", "1ZSHARED", shipevents.StatusInTransit, at)
	ea.TenantID = "a"
	eb := ea
	eb.TenantID = "b"
	f.addOrder(t, "o1", "packed")
	tx, err := f.host.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
	res, err := f.ship(ctx, tx, "o1", ea, eb, ea)
	if err != nil {
		t.Fatal(err)
	}
	want := []shipevents.PublishResult{
		{TenantID: "a", EventID: "scan-1", Outcome: shipevents.AppendNew, Deliveries: 2},
		{TenantID: "b", EventID: "scan-1", Outcome: shipevents.AppendNew, Deliveries: 2},
		{TenantID: "a", EventID: "scan-1", Outcome: shipevents.AppendDuplicate},
	}
	if !slices.Equal(res, want) {
		t.Errorf("results %+v, want %+v", res, want)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	for _, e := range []shipevents.Event{ea, eb} {
		if se, err := f.store.GetEvent(ctx, e.Key()); err != nil || se.Event.TenantID != e.TenantID {
			t.Errorf("event %s: %+v, %v", e.Key(), se.Event.Key(), err)
		}
		var subs []string
		for _, d := range eventDeliveries(t, f.store, e.Key()) {
			subs = append(subs, d.SubscriptionID)
		}
		slices.Sort(subs)
		if wantSubs := []string{"audit", "shop-" + e.TenantID}; !slices.Equal(subs, wantSubs) {
			t.Errorf("event %s: deliveries to %v, want %v", e.Key(), subs, wantSubs)
		}
		if st, err := f.store.ShipmentState(ctx, e.Shipment()); err != nil || st.EventID != "scan-1" {
			t.Errorf("tenant %s's shipment: %+v, %v", e.TenantID, st, err)
		}
	}
}

// TestPublishTxSerialises: transactions of many goroutines, each
// updating a row of its own and publishing events of one shipment (READ
// COMMITTED, the default), all commit, none deadlocks, and the ordering
// rule holds as if they had run one after the other: replaying the
// events in append order from no state gives each one's late mark, the
// deliveries created and the final state.
func TestPublishTxSerialises(t *testing.T) {
	all := []string{shipevents.SourceShipments}
	f := newTxFixture(t,
		shipevents.Subscription{ID: "current", URL: "https://current.example.com/h", EnabledEvents: all},
		shipevents.Subscription{ID: "everything", URL: "https://all.example.com/h", EnabledEvents: all, IncludeLate: true},
	)
	ctx := t.Context()
	const workers, rounds = 6, 6
	statuses := []shipevents.Status{shipevents.StatusInTransit, shipevents.StatusOutForDelivery, shipevents.StatusDelivered}
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for w := range workers {
		f.addOrder(t, fmt.Sprintf("o%d", w), "packed")
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for r := range rounds {
				// Later rounds are mostly later scans, so that both new and
				// late events are common; a delivered scan comes last.
				status := statuses[rng.IntN(2)]
				if r == rounds-1 && rng.IntN(2) == 0 {
					status = shipevents.StatusDelivered
				}
				e := statusEvent(fmt.Sprintf("w%d-r%d", w, r), "1ZSERIAL", status,
					at.Add(time.Duration(r*10+rng.IntN(15))*time.Minute))
				err := pgx.BeginFunc(ctx, f.host, func(tx pgx.Tx) error {
					_, err := f.ship(ctx, tx, fmt.Sprintf("o%d", w), e)
					return err
				})
				if err != nil {
					t.Errorf("worker %d round %d: %v", w, r, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	var total int
	if err := f.host.QueryRow(ctx, `SELECT sum(n) FROM `+f.orders).Scan(&total); err != nil || total != workers*rounds {
		t.Errorf("order updates committed: %d (%v), want %d", total, err, workers*rounds)
	}

	page, err := f.store.ListEvents(ctx, shipevents.EventFilter{TrackingNumber: "1ZSERIAL", Limit: shipevents.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	stored := page.Items
	slices.Reverse(stored) // oldest first: the order the locks granted
	if len(stored) != workers*rounds {
		t.Fatalf("%d events stored, want %d", len(stored), workers*rounds)
	}
	var cur shipevents.ShipmentState
	exists, late := false, 0
	for _, se := range stored {
		u := shipevents.UpdateShipment(cur, exists, &se.Event, time.Now())
		if u.Late != se.Late {
			t.Errorf("event %s (%s at %v, seq %d): stored late=%v, the rule in append order says %v",
				se.Event.ID, se.Event.Status, se.Event.OccurredAt, se.Seq, se.Late, u.Late)
		}
		if u.Changed {
			cur, exists = u.State, true
		}
		if se.Late {
			late++
		}
		var subs []string
		for _, d := range eventDeliveries(t, f.store, se.Event.Key()) {
			subs = append(subs, d.SubscriptionID)
		}
		slices.Sort(subs)
		wantSubs := []string{"current", "everything"}
		if se.Late {
			wantSubs = []string{"everything"}
		}
		if !slices.Equal(subs, wantSubs) {
			t.Errorf("event %s (late %v): deliveries to %v, want %v", se.Event.ID, se.Late, subs, wantSubs)
		}
	}
	st, err := f.store.ShipmentState(ctx, stored[0].Event.Shipment())
	if err != nil || st.EventID != cur.EventID || st.Status != cur.Status || !st.OccurredAt.Equal(cur.OccurredAt) {
		t.Errorf("final state %+v (%v), replay says %+v", st, err, cur)
	}
	t.Logf("%d events, %d late", len(stored), late)
}

// TestPublishTxIsolation: a transaction whose snapshot was taken before
// another committed about the same shipment or the same event. Under READ
// COMMITTED it sees what the other committed (once the shipment lock is
// its) and decides on it; under REPEATABLE READ and SERIALIZABLE it
// cannot, and fails with ErrTxConflict (SQLSTATE 40001) rather than
// deciding on stale state; run again, the transaction succeeds and
// decides as READ COMMITTED did.
func TestPublishTxIsolation(t *testing.T) {
	testDSN(t)
	t.Parallel()
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		seed  []shipevents.Event // published before both transactions
		other shipevents.Event   // committed by the other transaction after the snapshot
		mine  shipevents.Event   // published by the transaction under test
		want  shipevents.AppendOutcome
	}{
		{"state moved", []shipevents.Event{statusEvent("seed", "1ZISO", shipevents.StatusInTransit, at)},
			statusEvent("other", "1ZISO", shipevents.StatusDelivered, at.Add(2*time.Hour)),
			statusEvent("mine", "1ZISO", shipevents.StatusOutForDelivery, at.Add(time.Hour)), shipevents.AppendLate},
		{"state created", nil,
			statusEvent("other", "1ZISO", shipevents.StatusInTransit, at),
			statusEvent("mine", "1ZISO", shipevents.StatusOutForDelivery, at.Add(time.Hour)), shipevents.AppendNew},
		{"same event", nil,
			statusEvent("same", "1ZISO", shipevents.StatusInTransit, at),
			statusEvent("same", "1ZISO", shipevents.StatusInTransit, at), shipevents.AppendDuplicate},
	}
	for _, level := range []pgx.TxIsoLevel{pgx.ReadCommitted, pgx.RepeatableRead, pgx.Serializable} {
		for _, c := range cases {
			t.Run(string(level)+"/"+c.name, func(t *testing.T) {
				f := newTxFixture(t)
				ctx := t.Context()
				if _, err := f.d.Publish(ctx, c.seed...); err != nil {
					t.Fatal(err)
				}
				f.addOrder(t, "mine", "packed")
				f.addOrder(t, "other", "packed")

				tx, err := f.host.BeginTx(ctx, pgx.TxOptions{IsoLevel: level})
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
				// The host's first statement takes the snapshot.
				if _, err := tx.Exec(ctx, `UPDATE `+f.orders+` SET n = n + 1 WHERE id = 'mine'`); err != nil {
					t.Fatal(err)
				}
				if err := pgx.BeginFunc(ctx, f.host, func(other pgx.Tx) error {
					_, err := f.ship(ctx, other, "other", c.other)
					return err
				}); err != nil {
					t.Fatal(err)
				}
				res, err := shipevents.PublishTx(ctx, f.d, tx, c.mine)
				if level == pgx.ReadCommitted {
					if err != nil || res[0].Outcome != c.want {
						t.Fatalf("read committed: %+v, %v; want %v", res, err, c.want)
					}
					if err := tx.Commit(ctx); err != nil {
						t.Fatal(err)
					}
					return
				}
				var pe *pgconn.PgError
				if !errors.Is(err, shipevents.ErrTxConflict) || !errors.As(err, &pe) || pe.Code != "40001" {
					t.Fatalf("%s: %+v, %v; want ErrTxConflict with SQLSTATE 40001", level, res, err)
				}
				if errors.Is(err, shipevents.ErrPermanent) {
					t.Errorf("a conflict reads as permanent: %v", err)
				}
				if err := tx.Rollback(ctx); err != nil {
					t.Fatal(err)
				}
				// The host runs the whole transaction again.
				var again []shipevents.PublishResult
				err = pgx.BeginTxFunc(ctx, f.host, pgx.TxOptions{IsoLevel: level}, func(tx pgx.Tx) error {
					var err error
					again, err = f.ship(ctx, tx, "mine", c.mine)
					return err
				})
				if err != nil || again[0].Outcome != c.want {
					t.Fatalf("%s, run again: %+v, %v; want %v", level, again, err, c.want)
				}
				if st := f.orderStatus(t, "mine"); st != "shipped" {
					t.Errorf("order after the retry: %s", st)
				}
			})
		}
	}
}

// TestPublishTxDeadlock: two transactions that publish about two
// shipments in opposite orders, in two calls each, deadlock. PostgreSQL
// aborts one: its call returns ErrTxConflict (SQLSTATE 40P01), and the
// other's call goes on once the victim has rolled back.
func TestPublishTxDeadlock(t *testing.T) {
	f := newTxFixture(t)
	ctx := t.Context()
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	ev := func(id, tracking string) shipevents.Event {
		return statusEvent(id, tracking, shipevents.StatusInTransit, at)
	}
	t1, err := f.host.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer t1.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
	t2, err := f.host.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer t2.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
	if _, err := shipevents.PublishTx(ctx, f.d, t1, ev("1a", "1ZA")); err != nil {
		t.Fatal(err)
	}
	if _, err := shipevents.PublishTx(ctx, f.d, t2, ev("2b", "1ZB")); err != nil {
		t.Fatal(err)
	}
	r1, r2 := make(chan error, 1), make(chan error, 1)
	go func() {
		_, err := shipevents.PublishTx(ctx, f.d, t1, ev("1b", "1ZB"))
		r1 <- err
	}()
	waitBlocked(t, f.host, t1)
	go func() {
		_, err := shipevents.PublishTx(ctx, f.d, t2, ev("2a", "1ZA"))
		r2 <- err
	}()
	// Which one loses is up to PostgreSQL; the survivor's call waits
	// until the victim has rolled back.
	var victimErr error
	victim, survivor, survived, keep := t1, t2, r2, []string{"2b", "2a"}
	select {
	case victimErr = <-r1:
	case victimErr = <-r2:
		victim, survivor, survived, keep = t2, t1, r1, []string{"1a", "1b"}
	}
	var pe *pgconn.PgError
	if !errors.Is(victimErr, shipevents.ErrTxConflict) || !errors.As(victimErr, &pe) || pe.Code != "40P01" {
		t.Fatalf("first call to return: %v; want ErrTxConflict with SQLSTATE 40P01", victimErr)
	}
	if err := victim.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-survived; err != nil {
		t.Fatalf("the survivor's call: %v", err)
	}
	if err := survivor.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, d := range allDeliveries(t, f.store) {
		stored = append(stored, d.EventID)
	}
	slices.Sort(stored)
	slices.Sort(keep)
	if !slices.Equal(stored, keep) {
		t.Errorf("deliveries of %v stored, want the survivor's %v only", stored, keep)
	}
}

// TestPublishTxFailureLeavesTxUsable: a statement of the append that
// fails after the events were written (a trigger on deliveries refuses
// them) takes back all the call wrote; the host's transaction is usable,
// its settings are those it had, and committing it commits the host's own
// writes without a half-written event. A conflict is ErrTxConflict, data
// refused is permanent.
func TestPublishTxFailureLeavesTxUsable(t *testing.T) {
	f := newTxFixture(t)
	ctx := t.Context()
	fn := pgx.Identifier{f.schema, "refuse_deliveries"}.Sanitize()
	if _, err := f.host.Exec(ctx, `CREATE FUNCTION `+fn+`() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.event_id LIKE 'conflict%' THEN RAISE EXCEPTION 'refused' USING ERRCODE = '40001'; END IF;
			IF NEW.event_id LIKE 'bad%' THEN RAISE EXCEPTION 'refused' USING ERRCODE = '22023'; END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER refuse BEFORE INSERT ON `+pgx.Identifier{f.schema, "deliveries"}.Sanitize()+`
			FOR EACH ROW EXECUTE FUNCTION `+fn+`()`); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		id                  string
		conflict, permanent bool
	}{{"conflict-1", true, false}, {"bad-1", false, true}} {
		order := "o-" + c.id
		f.addOrder(t, order, "packed")
		e := statusEvent(c.id, "1Z"+c.id, shipevents.StatusInTransit, at)
		tx, err := f.host.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(ctx) //nolint:errcheck // after Commit, a no-op
		// The host's own settings, one of them changed for this
		// transaction.
		if _, err := tx.Exec(ctx, `SET LOCAL enable_hashjoin = off`); err != nil {
			t.Fatal(err)
		}
		settings := func() string {
			var s string
			if err := tx.QueryRow(ctx, `SELECT concat_ws(' ', current_setting('search_path'), current_setting('enable_hashjoin'),
				current_setting('enable_mergejoin'), current_setting('enable_bitmapscan'), current_setting('enable_seqscan'))`).Scan(&s); err != nil {
				t.Fatal(err)
			}
			return s
		}
		was := settings()
		_, err = f.ship(ctx, tx, order, e)
		if errors.Is(err, shipevents.ErrTxConflict) != c.conflict || errors.Is(err, shipevents.ErrPermanent) != c.permanent {
			t.Errorf("%s: %v; want conflict %v, permanent %v", c.id, err, c.conflict, c.permanent)
		}
		if now := settings(); now != was {
			t.Errorf("%s: settings after the failed call %q, were %q", c.id, now, was)
		}
		var events, states int
		if err := tx.QueryRow(ctx, `SELECT (SELECT count(*) FROM `+pgx.Identifier{f.schema, "events"}.Sanitize()+` WHERE id = $1),
			(SELECT count(*) FROM `+pgx.Identifier{f.schema, "shipment_state"}.Sanitize()+` WHERE tracking_number = $2)`,
			c.id, e.TrackingNumber).Scan(&events, &states); err != nil {
			t.Fatalf("%s: the transaction is not usable after the failed call: %v", c.id, err)
		}
		if events != 0 || states != 0 {
			t.Errorf("%s: the failed call left %d events and %d shipment states in the transaction", c.id, events, states)
		}
		if err := tx.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if st := f.orderStatus(t, order); st != "shipped" {
			t.Errorf("%s: the host's own write was not committed: %s", c.id, st)
		}
		if _, err := f.store.GetEvent(ctx, e.Key()); !errors.Is(err, shipevents.ErrNotFound) {
			t.Errorf("%s: event after the commit: %v, want ErrNotFound", c.id, err)
		}
	}

	// A call that succeeds leaves the settings as they were too.
	f.addOrder(t, "o-ok", "packed")
	err := pgx.BeginFunc(ctx, f.host, func(tx pgx.Tx) error {
		var before, after string
		q := `SELECT current_setting('search_path') || ' ' || current_setting('enable_seqscan')`
		if err := tx.QueryRow(ctx, q).Scan(&before); err != nil {
			return err
		}
		if _, err := f.ship(ctx, tx, "o-ok", statusEvent("ok-1", "1ZOK", shipevents.StatusInTransit, at)); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, q).Scan(&after); err != nil {
			return err
		}
		if before != after {
			t.Errorf("settings after a call: %q, were %q", after, before)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := f.d.Stats(); st.Published != 0 {
		t.Errorf("stats %+v: PublishTx counted events", st)
	}
}

// TestAppendEventsTxArguments: a nil transaction and a closed store are
// refused; no records is no work.
func TestAppendEventsTxArguments(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	rec := []shipevents.AppendRecord{{Event: shipmentEvent("x", "1ZX", time.Now())}}
	if _, err := s.AppendEventsTx(ctx, nil, rec); err == nil {
		t.Error("a nil transaction was accepted")
	}
	tx, err := s.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // the test's end
	if res, err := s.AppendEventsTx(ctx, tx, nil); err != nil || len(res) != 0 {
		t.Errorf("no records: %v, %v", res, err)
	}
	closed := pgstore.New(s.Pool(), pgstore.Config{}) // Close leaves the pool open
	closed.Close()
	if _, err := closed.AppendEventsTx(ctx, tx, rec); !errors.Is(err, shipevents.ErrClosed) {
		t.Errorf("closed store: %v, want ErrClosed", err)
	}
}

// TestPublishTxQueryExecModes: a host whose pool runs in another of pgx's
// query modes (exec or simple protocol, as behind a transaction-pooling
// PgBouncer, where statements are not prepared) publishes in its
// transactions all the same.
func TestPublishTxQueryExecModes(t *testing.T) {
	testDSN(t)
	t.Parallel()
	for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe,
		pgx.QueryExecModeDescribeExec, pgx.QueryExecModeExec, pgx.QueryExecModeSimpleProtocol} {
		t.Run(mode.String(), func(t *testing.T) {
			f := newTxFixture(t)
			ctx := t.Context()
			cfg, err := pgxpool.ParseConfig(f.dsn)
			if err != nil {
				t.Fatal(err)
			}
			cfg.ConnConfig.DefaultQueryExecMode = mode
			pool, err := pgxpool.NewWithConfig(ctx, cfg)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(pool.Close)
			f.addOrder(t, "o1", "packed")
			at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
			first := statusEvent("m1", "1ZMODE", shipevents.StatusInTransit, at)
			last := statusEvent("m2", "1ZMODE", shipevents.StatusDelivered, at.Add(time.Hour))
			late := statusEvent("m3", "1ZMODE", shipevents.StatusOutForDelivery, at.Add(30*time.Minute))
			var res []shipevents.PublishResult
			err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
				res, err = f.ship(ctx, tx, "o1", first, last, late, first)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			want := []shipevents.AppendOutcome{shipevents.AppendNew, shipevents.AppendNew, shipevents.AppendLate, shipevents.AppendDuplicate}
			if got := outcomes(res); !slices.Equal(got, want) {
				t.Errorf("outcomes %v, want %v", got, want)
			}
			se, err := f.store.GetEvent(ctx, last.Key())
			if err != nil || se.Event.Status != shipevents.StatusDelivered || !se.Event.OccurredAt.Equal(last.OccurredAt) {
				t.Errorf("stored %+v, %v", se.Event, err)
			}
			if st, err := f.store.ShipmentState(ctx, last.Shipment()); err != nil || st.EventID != "m2" {
				t.Errorf("shipment state %+v, %v; want m2's", st, err)
			}
			if n := len(allDeliveries(t, f.store)); n != 2 {
				t.Errorf("%d deliveries, want 2 (none for the late event)", n)
			}
		})
	}
}
