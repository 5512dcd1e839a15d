package pgstore_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/console"
	"github.com/shipevents/shipevents/pgstore"
)

// The history benchmarks read a schema holding a million events and a
// million deliveries. Loading it takes minutes on a small machine, so it
// is loaded once and kept between runs under this name (with the
// generator's version, so that a changed generator reloads it);
// BENCH_HISTORY_RELOAD=1 forces a reload, and dropping the schema frees
// the space.
const (
	historySchema  = "shipevents_bench_history"
	historyEvents  = 1_000_000
	historyVersion = 2
)

// The generated history: events one every 2.592 s over the 30 days from
// historyStart, 20 tenants, 8 events per tracking number, and one
// delivery per event to one of two subscriptions.
var historyStart = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)

const historyStep = 2592 * time.Millisecond

// historyStore opens the benchmark schema, loading it first if needed.
func historyStore(b *testing.B) (*pgstore.Store, *pgxpool.Pool) {
	b.Helper()
	dsn := testDSN(b)
	ctx := context.Background()
	s := openStore(b, dsn, historySchema, pgstore.Config{})
	pool, err := pgxpool.New(ctx, dsn+"&search_path="+historySchema)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	var loaded int
	err = pool.QueryRow(ctx, `SELECT version FROM bench_loaded`).Scan(&loaded)
	if err == nil && loaded == historyVersion && os.Getenv("BENCH_HISTORY_RELOAD") == "" {
		return s, pool
	}
	b.Logf("loading %d events and deliveries into schema %s (once; kept for later runs)", historyEvents, historySchema)
	start := time.Now()
	if err := loadHistory(ctx, pool); err != nil {
		b.Fatalf("loading the history: %v", err)
	}
	b.Logf("loaded in %s", time.Since(start).Round(time.Second))
	return s, pool
}

// loadHistory fills events and deliveries with generate_series, then
// vacuums and analyzes them as a long-running database would be.
func loadHistory(ctx context.Context, pool *pgxpool.Pool) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	for _, q := range []string{
		`DROP TABLE IF EXISTS bench_loaded`,
		`TRUNCATE events, deliveries, delivery_queue, attempts, shipment_state, subscriptions`,
		`SET maintenance_work_mem = '256MB'`,
		// One row per event; the columns agree with the body.
		`INSERT INTO events (id, body, type, ref, tenant_id, carrier, tracking_number, correlation_id, occurred_at,
			stored_at, event_group, status, transaction_id, test_mode, metadata)
		SELECT id, json_build_object('id', id, 'type', type, 'source', source, 'ref', ref, 'version', 1,
				'event_name', name, 'event_group', grp, 'status', nullif(status, ''), 'carrier', carrier,
				'tracking_number', nullif(trk, ''), 'occurred_at', occ, 'triggered_at', occ, 'tenant_id', tenant,
				'correlation_id', nullif(corr, ''), 'transaction_id', nullif(txn, ''), 'test_mode', test,
				'event_data', json_build_object('description', descr), 'metadata', meta)::json,
			type, ref, tenant, carrier, trk, corr, occ, occ + interval '1 minute', grp, status, txn, test, meta
		FROM (
			SELECT i, 'evt-' || i AS id,
				CASE WHEN k < 8 THEN 'tracking.updated' WHEN k = 8 THEN 'order.created' ELSE 'shipment.updated' END AS type,
				CASE WHEN k < 8 THEN 'shipments' WHEN k = 8 THEN 'orders' ELSE 'shipments' END AS source,
				CASE WHEN k < 8 THEN 'shipments/' || (ARRAY['in_transit','in_transit','in_transit','in_delivery','delivered','delivery_failed','in_transit','ready'])[k + 1]
					|| '/' || (ARRAY['IN_TRANSIT','IN_TRANSIT','IN_TRANSIT','OUT_FOR_DELIVERY','SUCCESSFULLY_DELIVERED','DELIVERY_ATTEMPT_FAILED','IN_TRANSIT','READY_TO_SHIP'])[k + 1]
					WHEN k = 8 THEN 'orders/created' ELSE 'shipments/updated' END AS ref,
				CASE WHEN k < 8 THEN (ARRAY['IN_TRANSIT','IN_TRANSIT','IN_TRANSIT','OUT_FOR_DELIVERY','SUCCESSFULLY_DELIVERED','DELIVERY_ATTEMPT_FAILED','IN_TRANSIT','READY_TO_SHIP'])[k + 1]
					WHEN k = 8 THEN 'ORDER_CREATED' ELSE 'SHIPMENT_UPDATED' END AS name,
				CASE WHEN k < 8 THEN (ARRAY['shipment_in_transit','shipment_in_transit','shipment_in_transit','shipment_out_for_delivery','shipment_delivered','shipment_delivery_failed','shipment_in_transit','shipment_ready'])[k + 1]
					WHEN k = 8 THEN 'order_created' ELSE 'shipment_updated' END AS grp,
				CASE WHEN k < 8 THEN (ARRAY['IN_TRANSIT','IN_TRANSIT','IN_TRANSIT','OUT_FOR_DELIVERY','DELIVERED','FAILED_DELIVERY','IN_TRANSIT','READY_TO_SHIP'])[k + 1]
					ELSE '' END AS status,
				(ARRAY['ups','fedex','dhl','usps'])[(i / 8) % 4 + 1] AS carrier,
				CASE WHEN k = 8 THEN '' ELSE 'TRK' || lpad((i / 8)::text, 9, '0') END AS trk,
				CASE WHEN i % 10 = 0 THEN 'corr-' || (i / 10) ELSE '' END AS corr,
				CASE WHEN i % 50 = 0 THEN 'txn-' || (i / 50) ELSE '' END AS txn,
				i % 100 = 0 AS test,
				CASE WHEN i % 10 = 3 THEN jsonb_build_object('shop', 'shop-' || (i % 7)) END AS meta,
				'tenant-' || (i % 20) AS tenant,
				timestamptz '2026-10-01 00:00:00+00' + i * interval '2.592 seconds' AS occ,
				'Scan ' || i || ' at the sorting centre, parcel on its way to the next facility' AS descr
			FROM (SELECT i, i % 10 AS k FROM generate_series(0, 999999) AS i) AS g
		) AS x
		ORDER BY i`,
		// One delivery per event, alternating between two subscriptions:
		// 2 % dead, the rest succeeded.
		`INSERT INTO deliveries (id, tenant_id, event_id, subscription_id, state, attempts, next_attempt_at,
			last_error, last_status_code, created_at, updated_at, dead_at)
		SELECT 'dlv-' || i, 'tenant-' || (i % 20), 'evt-' || i, CASE WHEN i % 2 = 0 THEN 'sub-a' ELSE 'sub-b' END,
			CASE WHEN i % 50 = 7 THEN 'dead' ELSE 'succeeded' END, CASE WHEN i % 50 = 7 THEN 11 ELSE 1 END, t,
			CASE WHEN i % 50 = 7 THEN 'HTTP 503' ELSE '' END, CASE WHEN i % 50 = 7 THEN 503 ELSE 204 END,
			t + interval '1 minute', t + interval '2 minutes', CASE WHEN i % 50 = 7 THEN t + interval '2 minutes' END
		FROM (SELECT i, timestamptz '2026-10-01 00:00:00+00' + i * interval '2.592 seconds' AS t
			FROM generate_series(0, 999999) AS i) AS g
		ORDER BY i`,
		`VACUUM ANALYZE events`,
		`VACUUM ANALYZE deliveries`,
		`CREATE TABLE bench_loaded (version integer NOT NULL)`,
		fmt.Sprintf(`INSERT INTO bench_loaded VALUES (%d)`, historyVersion),
	} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%.60s...: %w", q, err)
		}
	}
	return nil
}

// historyShape is one kind of history request.
type historyShape struct {
	name   string
	filter shipevents.EventFilter
	// count is the statement the store ran before counts were bounded:
	// counting every match, on every page (the baseline).
	count string
	args  []any
}

// historyShapes returns the query shapes of the history benchmarks. The
// cursor and offset shapes page through the whole history from its
// middle: the cursor is that of the event at the middle of it.
func historyShapes() []historyShape {
	mid := int64(historyEvents / 2)
	day := historyStart.Add(15 * 24 * time.Hour)
	return []historyShape{
		{name: "newest", filter: shipevents.EventFilter{},
			count: `SELECT count(*) FROM events`},
		{name: "tracking_number", filter: shipevents.EventFilter{TrackingNumber: "TRK000062500"},
			count: `SELECT count(*) FROM events WHERE tracking_number = $1`, args: []any{"TRK000062500"}},
		{name: "tenant_type", filter: shipevents.EventFilter{TenantID: "tenant-7", Types: []string{shipevents.TypeTrackingUpdated}},
			count: `SELECT count(*) FROM events WHERE tenant_id = $1 AND type = $2`, args: []any{"tenant-7", shipevents.TypeTrackingUpdated}},
		{name: "time_range_day", filter: shipevents.EventFilter{OccurredAfter: day, OccurredBefore: day.Add(24 * time.Hour)},
			count: `SELECT count(*) FROM events WHERE occurred_at >= $1 AND occurred_at < $2`, args: []any{day, day.Add(24 * time.Hour)}},
		{name: "cursor", filter: shipevents.EventFilter{After: shipevents.EncodeCursor(mid)},
			count: `SELECT count(*) FROM events`},
		{name: "offset_500", filter: shipevents.EventFilter{Offset: 500},
			count: `SELECT count(*) FROM events`},
		{name: "tenant_offset_500", filter: shipevents.EventFilter{TenantID: "tenant-3", Offset: 500},
			count: `SELECT count(*) FROM events WHERE tenant_id = $1`, args: []any{"tenant-3"}},
	}
}

// latencies collects one duration per iteration and reports p50 and p99.
type latencies []time.Duration

func (l *latencies) report(b *testing.B) {
	if len(*l) == 0 {
		return
	}
	s := slices.Clone(*l)
	slices.Sort(s)
	at := func(q float64) float64 {
		return float64(s[min(len(s)-1, int(q*float64(len(s))))].Microseconds()) / 1000
	}
	b.ReportMetric(at(0.50), "p50-ms")
	b.ReportMetric(at(0.99), "p99-ms")
}

// timed runs f once per iteration and reports the percentiles.
func timed(b *testing.B, f func() error) {
	b.Helper()
	var l latencies
	b.ReportAllocs()
	for b.Loop() {
		t := time.Now()
		if err := f(); err != nil {
			b.Fatal(err)
		}
		l = append(l, time.Since(t))
	}
	l.report(b)
}

// BenchmarkHistoryListEvents measures ListEvents on a million events, 50
// per page, for each query shape, against the baseline of the count
// every call ran before (a scan of every match).
func BenchmarkHistoryListEvents(b *testing.B) {
	s, pool := historyStore(b)
	ctx := context.Background()
	for _, sh := range historyShapes() {
		b.Run(sh.name, func(b *testing.B) {
			f := sh.filter
			f.Limit = 50
			timed(b, func() error {
				p, err := s.ListEvents(ctx, f)
				if err == nil && len(p.Items) == 0 {
					err = fmt.Errorf("%s: empty page", sh.name)
				}
				return err
			})
		})
		b.Run(sh.name+"/baseline_count_all", func(b *testing.B) {
			timed(b, func() error {
				var n int64
				return pool.QueryRow(ctx, sh.count, sh.args...).Scan(&n)
			})
		})
	}
}

// BenchmarkHistoryListDeliveries measures ListDeliveries on a million
// deliveries: one subscription's (half of them), the succeeded ones, and
// the dead letters, against the full count each ran before.
func BenchmarkHistoryListDeliveries(b *testing.B) {
	s, pool := historyStore(b)
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		f     shipevents.DeliveryFilter
		count string
	}{
		{"subscription", shipevents.DeliveryFilter{SubscriptionID: "sub-a"}, `SELECT count(*) FROM deliveries WHERE subscription_id = 'sub-a'`},
		{"subscription_newest", shipevents.DeliveryFilter{SubscriptionID: "sub-a", NewestFirst: true}, `SELECT count(*) FROM deliveries WHERE subscription_id = 'sub-a'`},
		{"succeeded", shipevents.DeliveryFilter{State: shipevents.DeliverySucceeded}, `SELECT count(*) FROM deliveries WHERE state = 'succeeded'`},
		{"dead_subscription", shipevents.DeliveryFilter{SubscriptionID: "sub-b", State: shipevents.DeliveryDead}, `SELECT count(*) FROM deliveries WHERE subscription_id = 'sub-b' AND dead_at IS NOT NULL`},
		{"dead_newest", shipevents.DeliveryFilter{State: shipevents.DeliveryDead, NewestFirst: true}, `SELECT count(*) FROM deliveries WHERE dead_at IS NOT NULL`},
	} {
		b.Run(c.name, func(b *testing.B) {
			f := c.f
			f.Limit = 50
			timed(b, func() error {
				p, err := s.ListDeliveries(ctx, f)
				if err == nil && len(p.Items) == 0 {
					err = fmt.Errorf("%s: empty page", c.name)
				}
				return err
			})
		})
		b.Run(c.name+"/baseline_count_all", func(b *testing.B) {
			timed(b, func() error {
				var n int64
				return pool.QueryRow(ctx, c.count).Scan(&n)
			})
		})
	}
}

// historyQuery is the query string of a shape, as the console's API and
// event page take it.
func historyQuery(f shipevents.EventFilter) string {
	v := url.Values{"first": {"50"}}
	set := func(k, val string) {
		if val != "" {
			v.Set(k, val)
		}
	}
	set("tracking_number", f.TrackingNumber)
	set("tenant", f.TenantID)
	for _, t := range f.Types {
		v.Add("type", t)
	}
	if !f.OccurredAfter.IsZero() {
		v.Set("occurred_after", f.OccurredAfter.Format(time.RFC3339))
		v.Set("occurred_before", f.OccurredBefore.Format(time.RFC3339))
	}
	set("after", f.After)
	if f.Offset > 0 {
		v.Set("offset", strconv.Itoa(f.Offset))
	}
	return v.Encode()
}

// BenchmarkHistoryConsole measures the console on a million events, over
// HTTP on loopback: GET /api/events (JSON) and the dashboard's event page
// (HTML), 50 per page, for each query shape.
func BenchmarkHistoryConsole(b *testing.B) {
	s, _ := historyStore(b)
	d := shipevents.NewDispatcher(shipevents.DispatcherConfig{Store: s, Logger: slog.New(slog.DiscardHandler)})
	c := console.New(d, console.Config{Logger: slog.New(slog.DiscardHandler),
		Authorize: func(*http.Request) (console.Principal, error) {
			return console.Principal{Name: "bench", AllTenants: true}, nil
		}})
	srv := httptest.NewServer(c)
	b.Cleanup(srv.Close)
	client := srv.Client()
	get := func(target string) error {
		resp, err := client.Get(srv.URL + target)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s: %d %.200s", target, resp.StatusCode, body)
		}
		return err
	}
	for _, sh := range historyShapes() {
		q := historyQuery(sh.filter)
		b.Run("api/"+sh.name, func(b *testing.B) { timed(b, func() error { return get("/api/events?" + q) }) })
		b.Run("page/"+sh.name, func(b *testing.B) { timed(b, func() error { return get("/events?" + q) }) })
	}
}

// planTracer keeps the statements a store sends.
type planTracer struct {
	mu   sync.Mutex
	sent []pgx.TraceQueryStartData
}

func (t *planTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sent = append(t.sent, data)
	return ctx
}

func (t *planTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// BenchmarkHistoryPlans prints the plan PostgreSQL runs (EXPLAIN ANALYZE)
// for each history statement of the benchmark shapes, and fails when one
// reads events or deliveries in full (a sequential scan). It measures
// nothing: run it with -benchtime 1x -v.
func BenchmarkHistoryPlans(b *testing.B) {
	_, pool := historyStore(b)
	ctx := context.Background()
	tr := &planTracer{}
	pc, err := pgxpool.ParseConfig(testDSN(b) + "&search_path=" + historySchema)
	if err != nil {
		b.Fatal(err)
	}
	pc.ConnConfig.Tracer = tr
	traced, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(traced.Close)
	s := pgstore.New(traced, pgstore.Config{})
	type step struct {
		name string
		call func() error
	}
	var steps []step
	for _, sh := range historyShapes() {
		f := sh.filter
		f.Limit = 50
		steps = append(steps, step{"events/" + sh.name, func() error { _, err := s.ListEvents(ctx, f); return err }})
	}
	for _, c := range []struct {
		name string
		f    shipevents.DeliveryFilter
	}{
		{"subscription", shipevents.DeliveryFilter{SubscriptionID: "sub-a"}},
		{"subscription_newest", shipevents.DeliveryFilter{SubscriptionID: "sub-a", NewestFirst: true}},
		{"succeeded", shipevents.DeliveryFilter{State: shipevents.DeliverySucceeded}},
		{"dead_subscription", shipevents.DeliveryFilter{SubscriptionID: "sub-b", State: shipevents.DeliveryDead}},
		{"dead_newest", shipevents.DeliveryFilter{State: shipevents.DeliveryDead, NewestFirst: true}},
	} {
		f := c.f
		f.Limit = 50
		steps = append(steps, step{"deliveries/" + c.name, func() error { _, err := s.ListDeliveries(ctx, f); return err }})
	}
	for b.Loop() {
	}
	for _, st := range steps {
		tr.mu.Lock()
		tr.sent = nil
		tr.mu.Unlock()
		if err := st.call(); err != nil {
			b.Fatal(err)
		}
		tr.mu.Lock()
		sent := slices.Clone(tr.sent)
		tr.mu.Unlock()
		for _, q := range sent {
			if strings.HasPrefix(q.SQL, "EXPLAIN") {
				continue // the count's estimate: planned, not run
			}
			rows, err := pool.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "+q.SQL, q.Args...)
			if err != nil {
				b.Fatal(err)
			}
			lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				b.Fatal(err)
			}
			plan := strings.Join(lines, "\n")
			b.Logf("%s:\n%s\n%s", st.name, q.SQL, plan)
			if strings.Contains(plan, "Seq Scan on events") || strings.Contains(plan, "Seq Scan on deliveries") {
				b.Errorf("%s: a sequential scan of a large table", st.name)
			}
		}
	}
}
