package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/pgstore"
)

// TestTerminateBackends kills the store's connections with
// pg_terminate_backend three times while a dispatcher works through a
// backlog. The statements in progress fail, the pool reconnects, the
// dispatcher's claim loop and recorder retry, and every delivery
// completes.
func TestTerminateBackends(t *testing.T) {
	dsn := testDSN(t)
	t.Parallel()
	n := 2_000
	if testing.Short() {
		n = 500
	}
	schema := testSchema(t, dsn)
	app := randomName("shipevents-term-")
	s := openStore(t, dsn, schema, pgstore.Config{ApplicationName: app})
	pc := newPairCounter()
	slow := shipevents.SenderFunc(func(ctx context.Context, m *shipevents.Message) (shipevents.Response, error) {
		time.Sleep(500 * time.Microsecond) // keep work in flight when the connections die
		return pc.sender().Send(ctx, m)
	})
	// Delivery events stay on: the recorder's AppendEvents calls are hit
	// by the terminations too.
	d := shipevents.NewDispatcher(shipevents.DispatcherConfig{
		Store: s, Sender: slow, Workers: 32, Lease: 2 * time.Second, AttemptTimeout: time.Second,
		PollInterval: 20 * time.Millisecond,
	})
	ctx := t.Context()
	for _, id := range []string{"a", "b"} {
		if err := d.Subscribe(ctx, webhookSub("sub-"+id, "http://127.0.0.1/"+id)); err != nil {
			t.Fatal(err)
		}
	}
	publishAll(ctx, t, d, makeEvents("term", n), 200)
	want := 2 * n
	runDispatcher(t, d)

	admin := adminPool(t, dsn)
	killed := 0
	for _, frac := range []int{10, 40, 70} {
		waitFor(t, 2*time.Minute, fmt.Sprintf("%d%% of the deliveries", frac), func() (bool, error) {
			return pc.total.Load() >= int64(want*frac/100), nil
		})
		var k int
		err := admin.QueryRow(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = $1`, app).Scan(&k)
		if err != nil {
			t.Fatal(err)
		}
		killed += k
	}
	if killed == 0 {
		t.Fatal("no backend of the store was terminated: the test proved nothing")
	}
	// Wait on the shipment deliveries only: the delivery events have no
	// subscription, so they make none.
	waitSucceeded(t, s, want, 3*time.Minute)
	dups, pairs := pc.duplicates()
	if pairs != want {
		t.Errorf("the sender saw %d distinct pairs, want %d", pairs, want)
	}
	st := d.Stats()
	t.Logf("terminated %d backends in 3 rounds; all %d deliveries succeeded; %d pairs sent more than once; stats: attempts %d, lease lost %d",
		killed, want, len(dups), st.Attempts, st.LeaseLost)
}

// TestOpenUnreachable: Open and Migrate against a port where nothing
// listens fail on their own, at the refused connection rather than when
// the caller's context runs out, with an error that says so and leaks no
// password.
func TestOpenUnreachable(t *testing.T) {
	testDSN(t) // the suite's convention: PostgreSQL tests run only with a DSN
	t.Parallel()
	port := closedPort(t)
	dsn := fmt.Sprintf("postgres://postgres:s3cret-pw@127.0.0.1:%d/test?sslmode=disable&connect_timeout=2", port)
	// A deadline neither call should come near: failing at it would mean
	// retrying until the caller gives up.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	s, err := pgstore.Open(ctx, dsn, pgstore.Config{})
	if err == nil {
		s.Close()
		t.Fatal("Open succeeded against a closed port")
	}
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		t.Errorf("Open kept trying until the context ran out: %v", err)
	}
	if !strings.Contains(err.Error(), "cannot reach PostgreSQL") {
		t.Errorf("Open error %q does not say the server cannot be reached", err)
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("Open error leaks the password: %q", err)
	}
	t.Logf("Open: %v", err)

	if _, err := pgstore.Open(ctx, "postgres://postgres:s3cret-pw@[::1", pgstore.Config{}); err == nil ||
		strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("Open with a malformed DSN: %v", err)
	}

	pool, err := pgxpool.New(ctx, dsn) // lazy: does not connect yet
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	err = pgstore.New(pool, pgstore.Config{}).Migrate(ctx)
	if err == nil {
		t.Fatal("Migrate succeeded against a closed port")
	}
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		t.Errorf("Migrate kept trying until the context ran out: %v", err)
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("Migrate error leaks the password: %q", err)
	}
	t.Logf("Migrate: %v", err)
}

// closedPort returns a loopback port where nothing listens (it was just
// released).
func closedPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// tcpProxy forwards a loopback port to the database; stopping it refuses
// new connections and cuts the open ones, as an outage would.
type tcpProxy struct {
	target, addr string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]bool
	wg           sync.WaitGroup
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{target: target, conns: map[net.Conn]bool{}}
	p.addr = fmt.Sprintf("127.0.0.1:%d", closedPort(t))
	t.Cleanup(p.stop)
	return p
}

func (p *tcpProxy) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatalf("proxy: %v", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns[c], p.conns[up] = true, true
			p.mu.Unlock()
			p.wg.Go(func() { _, _ = io.Copy(up, c); up.Close(); c.Close() })
			p.wg.Go(func() { _, _ = io.Copy(c, up); up.Close(); c.Close() })
		}
	})
}

func (p *tcpProxy) stop() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	clear(p.conns)
	p.mu.Unlock()
	p.wg.Wait()
}

// countingStore counts the failed claims of the store it wraps.
type countingStore struct {
	shipevents.Store
	claimErrors atomic.Int64
}

func (c *countingStore) ClaimDeliveries(ctx context.Context, req shipevents.ClaimRequest) ([]shipevents.Claim, error) {
	cl, err := c.Store.ClaimDeliveries(ctx, req)
	if err != nil {
		c.claimErrors.Add(1)
	}
	return cl, err
}

// TestDatabaseOutage runs a dispatcher whose store reaches PostgreSQL
// through a TCP proxy. The proxy is down when the dispatcher starts and
// goes down again in the middle of the work; each time the dispatcher
// keeps retrying and resumes when the database is back.
func TestDatabaseOutage(t *testing.T) {
	dsn := testDSN(t)
	t.Parallel()
	n := 1_000
	if testing.Short() {
		n = 300
	}
	schema := testSchema(t, dsn)
	direct := openStore(t, dsn, schema, pgstore.Config{})
	pub := shipevents.NewDispatcher(shipevents.DispatcherConfig{Store: direct, DisableDeliveryEvents: true})
	ctx := t.Context()
	if err := pub.Subscribe(ctx, webhookSub("sub-a", "http://127.0.0.1/a")); err != nil {
		t.Fatal(err)
	}

	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	target := u.Host
	if u.Port() == "" {
		target = net.JoinHostPort(u.Hostname(), "5432")
	}
	proxy := newTCPProxy(t, target)
	u.Host = proxy.addr
	q := u.Query()
	q.Set("connect_timeout", "2")
	u.RawQuery = q.Encode()
	pcfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		t.Fatal(err)
	}
	pcfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, pcfg) // lazy: the proxy is down
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	cs := &countingStore{Store: pgstore.New(pool, pgstore.Config{})}

	pc := newPairCounter()
	d := shipevents.NewDispatcher(shipevents.DispatcherConfig{
		Store: cs, Sender: pc.sender(), Workers: 16, Lease: 3 * time.Second, AttemptTimeout: time.Second,
		PollInterval: 20 * time.Millisecond, SubscriptionRefresh: 100 * time.Millisecond, DisableDeliveryEvents: true,
	})
	runDispatcher(t, d)
	publishAll(ctx, t, pub, makeEvents("outage1", n), 200)

	// Down at start: claims fail, and keep being retried.
	waitFor(t, time.Minute, "failed claims while the database is unreachable", func() (bool, error) {
		return cs.claimErrors.Load() >= 3, nil
	})
	if got := pc.total.Load(); got != 0 {
		t.Fatalf("%d sends while the database was unreachable", got)
	}
	proxy.start(t)
	waitSucceeded(t, direct, n, 2*time.Minute)
	before := cs.claimErrors.Load()

	// Down in the middle of the work.
	publishAll(ctx, t, pub, makeEvents("outage2", n), 200)
	waitFor(t, time.Minute, "some of the second batch", func() (bool, error) {
		return pc.total.Load() >= int64(n+n/10), nil
	})
	proxy.stop()
	waitFor(t, time.Minute, "failed claims during the outage", func() (bool, error) {
		return cs.claimErrors.Load() >= before+2, nil
	})
	proxy.start(t)
	waitSucceeded(t, direct, 2*n, 2*time.Minute)

	dups, pairs := pc.duplicates()
	if pairs != 2*n {
		t.Errorf("the sender saw %d distinct pairs, want %d", pairs, 2*n)
	}
	t.Logf("%d failed claims over two outages; all %d deliveries succeeded; %d sent more than once",
		cs.claimErrors.Load(), 2*n, len(dups))
	if err := ctx.Err(); err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
}
