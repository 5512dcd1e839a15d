package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/pgstore"
)

// dsnEnv names the environment variable with the test database's DSN.
const dsnEnv = "SHIPEVENTS_PG_DSN"

// testDSN returns the DSN of the test database, or skips the test.
func testDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		tb.Skipf("%s is not set: skipping the PostgreSQL tests (e.g. %s=postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", dsnEnv, dsnEnv)
	}
	return dsn
}

// randomName returns prefix followed by random hex, a valid unquoted
// identifier.
func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// testSchema creates nothing but reserves a fresh schema name whose schema
// is dropped when the test ends.
func testSchema(tb testing.TB, dsn string) string {
	tb.Helper()
	schema := randomName("shipevents_test_")
	tb.Cleanup(func() { dropSchema(tb, dsn, schema) })
	return schema
}

func dropSchema(tb testing.TB, dsn, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Errorf("drop schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		tb.Errorf("drop schema %s: %v", schema, err)
	}
}

// openStore opens a migrated store on schema.
func openStore(tb testing.TB, dsn, schema string, cfg pgstore.Config) *pgstore.Store {
	tb.Helper()
	cfg.Schema = schema
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := pgstore.Open(ctx, dsn, cfg)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(s.Close)
	if err := s.Migrate(ctx); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return s
}

// newTestStore returns a migrated store on a fresh schema of its own.
func newTestStore(tb testing.TB) *pgstore.Store {
	tb.Helper()
	dsn := testDSN(tb)
	return openStore(tb, dsn, testSchema(tb, dsn), pgstore.Config{})
}

// schemaStores marks the test parallel and returns a function that opens
// migrated stores with cfg on one fresh schema of the test's own.
func schemaStores(t *testing.T) func(cfg pgstore.Config) *pgstore.Store {
	t.Helper()
	dsn := testDSN(t)
	t.Parallel()
	schema := testSchema(t, dsn)
	return func(cfg pgstore.Config) *pgstore.Store { return openStore(t, dsn, schema, cfg) }
}

// adminPool returns a pool on the test database, outside any test schema.
func adminPool(tb testing.TB, dsn string) *pgxpool.Pool {
	tb.Helper()
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("admin pool: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

func pgstoreConfig() pgstore.Config { return pgstore.Config{} }

// shipmentEvent builds a valid in-transit shipment event; each tracking
// number is its own shipment, so events with distinct tracking numbers are
// never late.
func shipmentEvent(id, tracking string, at time.Time) shipevents.Event {
	return statusEvent(id, tracking, shipevents.StatusInTransit, at)
}

// statusEvent builds a valid shipment event with the given status.
func statusEvent(id, tracking string, status shipevents.Status, at time.Time) shipevents.Event {
	name := shipevents.DefaultEventName(status)
	n, _ := shipevents.LookupEventName(name)
	return shipevents.Event{
		ID: id, Type: shipevents.TypeTrackingUpdated, Source: shipevents.SourceShipments,
		Version: shipevents.EnvelopeVersion, Status: status, Phase: status.Phase(), EventName: name,
		EventGroup: n.Group(shipevents.DirectionForward), Direction: shipevents.DirectionForward,
		Ref: shipevents.ShipmentRef(status.Phase(), name), Carrier: "ups", TrackingNumber: tracking,
		OccurredAt: at.UTC(), TriggeredAt: at.UTC(), TenantID: "tenant-1",
	}
}

// makeEvents returns n events with ids prefix-0, prefix-1, ...
func makeEvents(prefix string, n int) []shipevents.Event {
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]shipevents.Event, n)
	for i := range out {
		id := fmt.Sprintf("%s-%d", prefix, i)
		out[i] = shipmentEvent(id, "1Z"+id, at.Add(time.Duration(i)*time.Second))
	}
	return out
}

// webhookSub is an active subscription to every shipment event, posting
// to url.
func webhookSub(id, url string) shipevents.Subscription {
	return shipevents.Subscription{ID: id, URL: url, EnabledEvents: []string{shipevents.SourceShipments}}
}

// loopbackSender is the HTTP sender allowed to post to 127.0.0.0/8.
func loopbackSender(timeout time.Duration) *shipevents.HTTPSender {
	return shipevents.NewHTTPSender(shipevents.HTTPSenderConfig{
		Policy:  shipevents.AddressPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		Timeout: timeout,
	})
}

// publishAll publishes events in batches, retrying a batch whose store
// call failed (Publish is idempotent), until ctx ends.
func publishAll(ctx context.Context, tb testing.TB, d *shipevents.Dispatcher, events []shipevents.Event, batch int) {
	tb.Helper()
	for start := 0; start < len(events); start += batch {
		chunk := events[start:min(start+batch, len(events))]
		for {
			_, err := d.Publish(ctx, chunk...)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				tb.Fatalf("publish: %v", err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// runDispatcher runs d until the test ends (or stop is called) and checks
// that Run returns.
func runDispatcher(tb testing.TB, d *shipevents.Dispatcher) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					tb.Errorf("dispatcher Run: %v", err)
				}
			case <-time.After(30 * time.Second):
				tb.Errorf("dispatcher Run did not return 30 s after cancellation")
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}

// countState returns how many deliveries are in state (all when empty):
// the page count where it is exact, else the pages counted.
func countState(ctx context.Context, s shipevents.Store, state shipevents.DeliveryState) (int, error) {
	f := shipevents.DeliveryFilter{State: state, Limit: shipevents.MaxPageSize}
	p, err := s.ListDeliveries(ctx, f)
	if err != nil || !p.PageInfo.CountEstimated {
		return p.PageInfo.Count, err
	}
	n := len(p.Items)
	for p.PageInfo.HasNextPage {
		f.After = p.PageInfo.EndCursor
		if p, err = s.ListDeliveries(ctx, f); err != nil {
			return 0, err
		}
		n += len(p.Items)
	}
	return n, nil
}

// waitFor polls cond every interval until it returns true or the timeout
// passes; it fails the test with what on timeout. Errors from cond are
// retried (the store may be down on purpose).
func waitFor(tb testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for {
		ok, err := cond()
		if err == nil && ok {
			return
		}
		if err != nil {
			lastErr = err
		}
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s (last error: %v)", timeout, what, lastErr)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// waitSucceeded waits until want deliveries have succeeded.
func waitSucceeded(tb testing.TB, s shipevents.Store, want int, timeout time.Duration) {
	tb.Helper()
	last := -1
	waitFor(tb, timeout, fmt.Sprintf("%d succeeded deliveries", want), func() (bool, error) {
		n, err := countState(context.Background(), s, shipevents.DeliverySucceeded)
		if err == nil && n != last {
			last = n
		}
		return n == want, err
	})
}

// allDeliveries lists every delivery in the store.
func allDeliveries(tb testing.TB, s shipevents.Store) []shipevents.Delivery {
	tb.Helper()
	var out []shipevents.Delivery
	f := shipevents.DeliveryFilter{Limit: shipevents.MaxPageSize}
	for {
		p, err := s.ListDeliveries(context.Background(), f)
		if err != nil {
			tb.Fatalf("list deliveries: %v", err)
		}
		out = append(out, p.Items...)
		if !p.PageInfo.HasNextPage {
			return out
		}
		f.After = p.PageInfo.EndCursor
	}
}
