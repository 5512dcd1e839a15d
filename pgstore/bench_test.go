package pgstore_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/pgstore"
)

// Benchmark settings, shared by the PostgreSQL and memory runs so that
// they compare like with like.
var (
	benchPublishBatch = 100 // events per Publish call (BENCH_PUBLISH_BATCH overrides)
	benchWorkers      = 128 // Workers per dispatcher (BENCH_WORKERS overrides)
	// benchIdleConns is the HTTP sender's MaxIdleConnsPerHost; 0 means as
	// many as all dispatchers have workers (BENCH_IDLE_CONNS overrides;
	// -1 keeps the sender's default, 64).
	benchIdleConns = 0
	// benchShare is the dispatchers' MaxInFlightPerSubscription; 0 keeps
	// the default, a quarter of the workers (BENCH_SHARE overrides).
	benchShare = 0
)

func init() {
	if v, err := strconv.Atoi(os.Getenv("BENCH_WORKERS")); err == nil {
		benchWorkers = v
	}
	if v, err := strconv.Atoi(os.Getenv("BENCH_IDLE_CONNS")); err == nil {
		benchIdleConns = v
	}
	if v, err := strconv.Atoi(os.Getenv("BENCH_SHARE")); err == nil {
		benchShare = v
	}
	if v, err := strconv.Atoi(os.Getenv("BENCH_PUBLISH_BATCH")); err == nil && v > 0 {
		benchPublishBatch = v
	}
}

// BenchmarkPublish measures Publish into PostgreSQL with 10 matching
// subscriptions: one op is one event stored with its 10 deliveries.
func BenchmarkPublish(b *testing.B) {
	dsn := testDSN(b)
	s := openStore(b, dsn, testSchema(b, dsn), pgstore.Config{})
	d := shipevents.NewDispatcher(shipevents.DispatcherConfig{Store: s, DisableDeliveryEvents: true})
	ctx := context.Background()
	for i := range 10 {
		if err := d.Subscribe(ctx, webhookSub(fmt.Sprintf("sub-%d", i), fmt.Sprintf("http://127.0.0.1/%d", i))); err != nil {
			b.Fatal(err)
		}
	}
	events := makeEvents(randomName("pub"), b.N)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += benchPublishBatch {
		if _, err := d.Publish(ctx, events[i:min(i+benchPublishBatch, b.N)]...); err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(10*b.N)/elapsed.Seconds(), "deliveries-created/s")
}

// BenchmarkPublishTx is BenchmarkPublish through PublishTx, each batch in
// a transaction of the host's that commits it: the price of publishing
// in the host's transaction (the savepoint and the settings around the
// append, and the host's own BEGIN and COMMIT) against Publish's.
func BenchmarkPublishTx(b *testing.B) {
	dsn := testDSN(b)
	s := openStore(b, dsn, testSchema(b, dsn), pgstore.Config{})
	d := shipevents.NewDispatcher(shipevents.DispatcherConfig{Store: s, DisableDeliveryEvents: true})
	ctx := context.Background()
	for i := range 10 {
		if err := d.Subscribe(ctx, webhookSub(fmt.Sprintf("sub-%d", i), fmt.Sprintf("http://127.0.0.1/%d", i))); err != nil {
			b.Fatal(err)
		}
	}
	host := adminPool(b, dsn)
	events := makeEvents(randomName("pubtx"), b.N)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i += benchPublishBatch {
		err := pgx.BeginFunc(ctx, host, func(tx pgx.Tx) error {
			_, err := shipevents.PublishTx(ctx, d, tx, events[i:min(i+benchPublishBatch, b.N)]...)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(10*b.N)/elapsed.Seconds(), "deliveries-created/s")
}

// BenchmarkDeliver1 measures end-to-end delivery on PostgreSQL with one
// dispatcher instance: one op is one delivery, from Publish to its
// success recorded in the store, with publishing and delivering running
// at the same time. The sender is an in-process counter, so the figure is
// the store's and the dispatcher's cost, not the network's.
func BenchmarkDeliver1(b *testing.B) { benchDeliverPG(b, 1, true) }

// BenchmarkDeliver2 is BenchmarkDeliver1 with two dispatcher instances,
// each with its own Store and pool, sharing one schema.
func BenchmarkDeliver2(b *testing.B) { benchDeliverPG(b, 2, true) }

// BenchmarkDeliverMemory is the same flow on shipevents.MemoryStore: the
// baseline the PostgreSQL figures compare with.
func BenchmarkDeliverMemory(b *testing.B) {
	benchDeliver(b, []shipevents.Store{shipevents.NewMemoryStore(shipevents.MemoryStoreConfig{})}, true)
}

// BenchmarkDeliverHTTP1, BenchmarkDeliverHTTP2 and BenchmarkDeliverHTTPMemory
// are the Deliver benchmarks with real webhooks: signed HTTP POSTs to a
// receiver on loopback, in the same process (so the receiver's CPU counts
// against the same two cores).
func BenchmarkDeliverHTTP1(b *testing.B) { benchDeliverPGHTTP(b, 1) }

// BenchmarkDeliverHTTP2 is BenchmarkDeliverHTTP1 with two instances.
func BenchmarkDeliverHTTP2(b *testing.B) { benchDeliverPGHTTP(b, 2) }

// BenchmarkDeliverHTTPMemory is BenchmarkDeliverHTTP1 on MemoryStore.
func BenchmarkDeliverHTTPMemory(b *testing.B) {
	withHTTPReceiver(b)
	benchDeliver(b, []shipevents.Store{shipevents.NewMemoryStore(shipevents.MemoryStoreConfig{})}, true)
}

func benchDeliverPGHTTP(b *testing.B, instances int) {
	withHTTPReceiver(b)
	benchDeliverPG(b, instances, true)
}

// benchReceiver, when set, makes benchDeliver send over HTTP to it instead
// of counting in process; benchConns counts the connections it accepted.
var (
	benchReceiver *httptest.Server
	benchConns    atomic.Int64
)

func withHTTPReceiver(b *testing.B) {
	benchReceiver = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	benchReceiver.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			benchConns.Add(1)
		}
	}
	benchReceiver.Start()
	b.Cleanup(func() { benchReceiver.Close(); benchReceiver = nil })
}

// BenchmarkDrain1 measures the delivery side alone: b.N deliveries are
// published before the timer starts, and one dispatcher instance drains
// them (claim, send, record).
func BenchmarkDrain1(b *testing.B) { benchDeliverPG(b, 1, false) }

// BenchmarkDrain2 is BenchmarkDrain1 with two instances.
func BenchmarkDrain2(b *testing.B) { benchDeliverPG(b, 2, false) }

// BenchmarkDrainMemory is BenchmarkDrain1 on shipevents.MemoryStore.
func BenchmarkDrainMemory(b *testing.B) {
	benchDeliver(b, []shipevents.Store{shipevents.NewMemoryStore(shipevents.MemoryStoreConfig{})}, false)
}

func benchDeliverPG(b *testing.B, instances int, live bool) {
	dsn := testDSN(b)
	schema := testSchema(b, dsn)
	if os.Getenv("BENCH_TABLE_STATS") != "" {
		// Registered before the stores, so it runs after they closed
		// (their backends report their counters as they exit) and before
		// the schema is dropped.
		b.Cleanup(func() { logTableStats(b, dsn, schema) })
	}
	stores := make([]shipevents.Store, instances)
	for i := range stores {
		stores[i] = openStore(b, dsn, schema, pgstore.Config{})
	}
	benchDeliver(b, stores, live)
}

// benchDeliver runs one dispatcher per store, publishes b.N events to one
// subscription through them (while they run when live is set, before the
// timer otherwise) and waits until the b.N deliveries are recorded as
// succeeded.
func benchDeliver(b *testing.B, stores []shipevents.Store, live bool) {
	ctx := context.Background()
	var sent atomic.Int64
	var sender shipevents.Sender = shipevents.SenderFunc(func(context.Context, *shipevents.Message) (shipevents.Response, error) {
		sent.Add(1)
		return shipevents.Response{StatusCode: 204}, nil
	})
	subURL := "http://127.0.0.1/bench"
	if benchReceiver != nil {
		// As many kept-alive connections as there are workers: with fewer,
		// every burst of responses closes the surplus connections and the
		// next sends dial new ones (the conns metric counts the dials).
		idle := benchIdleConns
		if idle == 0 {
			idle = benchWorkers * len(stores)
		}
		http := shipevents.NewHTTPSender(shipevents.HTTPSenderConfig{
			Policy:              shipevents.AddressPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
			Timeout:             10 * time.Second,
			MaxIdleConnsPerHost: idle,
		})
		benchConns.Store(0)
		subURL = benchReceiver.URL
		sender = shipevents.SenderFunc(func(ctx context.Context, m *shipevents.Message) (shipevents.Response, error) {
			resp, err := http.Send(ctx, m)
			if err == nil {
				sent.Add(1)
			}
			return resp, err
		})
	}
	ds := make([]*shipevents.Dispatcher, len(stores))
	for i, s := range stores {
		ds[i] = shipevents.NewDispatcher(shipevents.DispatcherConfig{
			Store: s, Sender: sender, Workers: benchWorkers, MaxInFlightPerSubscription: benchShare,
			PollInterval: 10 * time.Millisecond, DisableDeliveryEvents: true,
		})
	}
	if err := ds[0].Subscribe(ctx, webhookSub("sub-bench", subURL)); err != nil {
		b.Fatal(err)
	}
	for _, d := range ds[1:] {
		if err := d.ReloadSubscriptions(ctx); err != nil {
			b.Fatal(err)
		}
	}
	events := makeEvents(randomName("deliver"), b.N)
	publish := func() {
		var wg sync.WaitGroup
		per := (b.N + len(ds) - 1) / len(ds)
		for i, d := range ds {
			part := events[min(i*per, b.N):min((i+1)*per, b.N)]
			wg.Go(func() { publishAll(ctx, b, d, part, benchPublishBatch) })
		}
		wg.Wait()
	}
	if !live {
		publish()
	}
	b.ResetTimer()
	start := time.Now()
	for _, d := range ds {
		runDispatcher(b, d)
	}
	if live {
		publish()
	}
	deadline := time.Now().Add(10 * time.Minute)
	// Wait for the sends without touching the database, then for the
	// last outcomes to be recorded.
	for sent.Load() < int64(b.N) {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d deliveries sent after 10 minutes", sent.Load(), b.N)
		}
		time.Sleep(time.Millisecond)
	}
	for {
		n, err := countState(ctx, stores[0], shipevents.DeliverySucceeded)
		if err != nil {
			b.Fatal(err)
		}
		if n == b.N {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d deliveries succeeded after 10 minutes", n, b.N)
		}
		time.Sleep(5 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	if got := sent.Load(); got < int64(b.N) {
		b.Fatalf("sent %d, want at least %d", got, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "deliveries/s")
	if benchReceiver != nil {
		b.ReportMetric(float64(benchConns.Load()), "conns")
	}
}

// logTableStats logs the row counters of the schema's tables: updates, how
// many of them were HOT (heap-only: no index written), deletes, and the
// index entries fetched and pages read. Set BENCH_TABLE_STATS=1 to see
// them after each PostgreSQL benchmark.
func logTableStats(b *testing.B, dsn, schema string) {
	ctx := context.Background()
	time.Sleep(500 * time.Millisecond) // let the closed backends report
	pool := adminPool(b, dsn)
	rows, err := pool.Query(ctx, `SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del,
		coalesce(idx_tup_fetch, 0), pg_relation_size(relid), pg_indexes_size(relid)
		FROM pg_stat_user_tables WHERE schemaname = $1 ORDER BY relname`, schema)
	if err != nil {
		b.Logf("table stats: %v", err)
		return
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var ins, upd, hot, del, fetch, heap, idx int64
		if err := rows.Scan(&name, &ins, &upd, &hot, &del, &fetch, &heap, &idx); err != nil {
			b.Logf("table stats: %v", err)
			return
		}
		b.Logf("%-16s ins %7d  upd %7d  hot %7d  del %7d  idx fetched %8d  heap %6d kB  indexes %6d kB",
			name, ins, upd, hot, del, fetch, heap>>10, idx>>10)
	}
}

// BenchmarkPurge measures Purge: one op is one event deleted with its 10
// deliveries and their 10 attempts (one each). The events are appended and
// their deliveries finished (in SQL, then vacuumed, as a table in steady
// state would be) before the timer starts. BENCH_PURGE_BATCH sets
// PurgeOptions.BatchSize.
func BenchmarkPurge(b *testing.B) {
	dsn := testDSN(b)
	clock := newTestClock(purgeT0)
	s := openStore(b, dsn, testSchema(b, dsn), pgstore.Config{Now: clock.Now})
	ctx := context.Background()
	subs := make([]string, 10)
	for i := range subs {
		subs[i] = fmt.Sprintf("sub-%d", i)
	}
	events := makeEvents(randomName("purge"), b.N)
	for start := 0; start < b.N; start += benchPublishBatch {
		var recs []shipevents.AppendRecord
		for _, e := range events[start:min(start+benchPublishBatch, b.N)] {
			rec := shipevents.AppendRecord{Event: e}
			for _, sub := range subs {
				rec.Deliveries = append(rec.Deliveries, shipevents.NewDelivery{ID: shipevents.DeliveryID(e.Key(), sub),
					SubscriptionID: sub, NextAttemptAt: purgeT0})
			}
			recs = append(recs, rec)
		}
		if _, err := s.AppendEvents(ctx, recs); err != nil {
			b.Fatal(err)
		}
	}
	for _, q := range []string{
		`INSERT INTO attempts (delivery_id, number, started_at, duration_ns, status_code)
			SELECT id, 1, created_at, 1000000, 204 FROM deliveries`,
		`DELETE FROM delivery_queue`,
		`UPDATE deliveries SET state = 'succeeded', attempts = 1, last_status_code = 204`,
		`VACUUM ANALYZE events, deliveries, attempts, delivery_queue`,
	} {
		if _, err := s.Pool().Exec(ctx, q); err != nil {
			b.Fatal(err)
		}
	}
	batch, _ := strconv.Atoi(os.Getenv("BENCH_PURGE_BATCH"))
	b.ResetTimer()
	start := time.Now()
	res, err := s.Purge(ctx, purgeCutoff, pgstore.PurgeOptions{BatchSize: batch})
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	if res.Events != b.N || res.Deliveries != 10*b.N || res.Attempts != 10*b.N {
		b.Fatalf("purged %+v, want %d events with 10 deliveries and 10 attempts each", res, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	b.ReportMetric(float64(21*b.N)/elapsed.Seconds(), "rows/s")
}
