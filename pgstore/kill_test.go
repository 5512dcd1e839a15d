package pgstore_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/pgstore"
)

// The environment of a worker child process.
const (
	envWorker       = "SHIPEVENTS_PGSTORE_TEST_WORKER"
	envWorkerSchema = "SHIPEVENTS_PGSTORE_TEST_SCHEMA"
	envWorkerLease  = "SHIPEVENTS_PGSTORE_TEST_LEASE"
	envWorkerName   = "SHIPEVENTS_PGSTORE_TEST_NAME"
)

// TestHelperWorkerProcess is not a test: it is the body of the worker
// child processes of TestSIGKILLWorker, which runs this test binary again
// with envWorker set. The worker runs a dispatcher on the schema it is
// given until it is killed or interrupted.
func TestHelperWorkerProcess(t *testing.T) {
	if os.Getenv(envWorker) != "1" {
		t.Skip("helper process for TestSIGKILLWorker; runs only as its child")
	}
	dsn, schema := os.Getenv(dsnEnv), os.Getenv(envWorkerSchema)
	lease, err := time.ParseDuration(os.Getenv(envWorkerLease))
	if err != nil {
		t.Fatalf("worker: bad %s: %v", envWorkerLease, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Never outlive the parent test: if it dies, this process is
	// re-parented; stop then.
	parent := os.Getppid()
	var watch sync.WaitGroup
	defer watch.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	watch.Go(func() {
		for ctx.Err() == nil {
			if os.Getppid() != parent {
				cancel()
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	})
	s, err := pgstore.Open(ctx, dsn, pgstore.Config{Schema: schema, ApplicationName: "shipevents-test-worker"})
	if err != nil {
		t.Fatalf("worker: %v", err)
	}
	defer s.Close()
	// A request that times out on a busy machine is tried again soon, so
	// that the test's wait does not depend on the machine's speed.
	d := shipevents.NewDispatcher(shipevents.DispatcherConfig{
		Store: s, Sender: loopbackSender(lease / 2), Lease: lease, AttemptTimeout: lease / 2,
		Retry:   shipevents.RetryPolicy{Schedule: []time.Duration{100 * time.Millisecond}, MaxAttempts: 1000, NoJitter: true},
		Workers: 16, PollInterval: 20 * time.Millisecond, DisableDeliveryEvents: true,
		Name:   os.Getenv(envWorkerName),
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	fmt.Fprintln(os.Stderr, "worker: running")
	if err := d.Run(ctx); err != nil {
		t.Fatalf("worker: run: %v", err)
	}
}

// webhookReceiver counts requests per (path, webhook-id) and checks that
// every request's webhook-id is the message id of the event in its body
// (shipevents.MessageID of its tenant and id).
type webhookReceiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	seen     map[[2]string]int
	mismatch []string
	total    atomic.Int64
	delay    time.Duration
}

func newWebhookReceiver(t *testing.T, delay time.Duration) *webhookReceiver {
	rc := &webhookReceiver{seen: map[[2]string]int{}, delay: delay}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev struct {
			ID       string `json:"id"`
			TenantID string `json:"tenant_id"`
		}
		_ = json.Unmarshal(body, &ev)
		id := r.Header.Get(shipevents.HeaderWebhookID)
		want := shipevents.MessageID(shipevents.EventKey{TenantID: ev.TenantID, ID: ev.ID})
		if rc.delay > 0 {
			time.Sleep(rc.delay)
		}
		rc.mu.Lock()
		rc.seen[[2]string{r.URL.Path, id}]++
		if id == "" || id != want {
			rc.mismatch = append(rc.mismatch, fmt.Sprintf("webhook-id %q, body tenant %q id %q", id, ev.TenantID, ev.ID))
		}
		rc.mu.Unlock()
		rc.total.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

// report returns the distinct (path, webhook-id) pairs received and those
// received more than once.
func (rc *webhookReceiver) report() (pairs int, dups map[[2]string]int, mismatch []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	dups = map[[2]string]int{}
	for k, n := range rc.seen {
		if n > 1 {
			dups[k] = n
		}
	}
	return len(rc.seen), dups, append([]string(nil), rc.mismatch...)
}

// worker is a running child process.
type worker struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan struct{} // closed when the process has exited
	err    error         // its exit status, once done is closed
}

func startWorker(t *testing.T, dsn, schema, name string, lease time.Duration) *worker {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWorkerProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), envWorker+"=1", dsnEnv+"="+dsn, envWorkerSchema+"="+schema,
		envWorkerLease+"="+lease.String(), envWorkerName+"="+name)
	w := &worker{cmd: cmd, stderr: &bytes.Buffer{}, done: make(chan struct{})}
	cmd.Stderr = &lockedWriter{w: w.stderr}
	cmd.Stdout = cmd.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start worker %s: %v", name, err)
	}
	go func() { w.err = cmd.Wait(); close(w.done) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-w.done
	})
	return w
}

// stop interrupts the worker and waits for it to exit.
func (w *worker) stop(t *testing.T) {
	t.Helper()
	_ = w.cmd.Process.Signal(os.Interrupt)
	select {
	case <-w.done:
		if w.err != nil {
			t.Errorf("worker exited with %v; its output:\n%s", w.err, w.output())
		}
	case <-time.After(30 * time.Second):
		t.Errorf("worker did not exit 30 s after an interrupt")
	}
}

func (w *worker) output() string {
	lw := w.cmd.Stderr.(*lockedWriter)
	lw.mu.Lock()
	defer lw.mu.Unlock()
	return w.stderr.String()
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// TestSIGKILLWorker kills a worker process with SIGKILL in the middle of
// its work, then starts a second one: the leases of what the first had in
// flight expire and the second claims and finishes it. No delivery is
// lost; a delivery the first worker sent but could not record is sent
// again, with the same webhook-id (the event's message id), which is what
// receivers deduplicate on.
func TestSIGKILLWorker(t *testing.T) {
	dsn := testDSN(t)
	t.Parallel()
	n := 2_000
	if testing.Short() {
		n = 400
	}
	// The second worker waits out the first one's leases; each attempt
	// may take half of one.
	const lease = 4 * time.Second
	schema := testSchema(t, dsn)
	s := openStore(t, dsn, schema, pgstore.Config{})
	rc := newWebhookReceiver(t, 2*time.Millisecond)

	// The parent publishes; it does not deliver.
	pub := shipevents.NewDispatcher(shipevents.DispatcherConfig{Store: s, DisableDeliveryEvents: true})
	ctx := t.Context()
	for _, id := range []string{"a", "b"} {
		if err := pub.Subscribe(ctx, webhookSub("sub-"+id, rc.srv.URL+"/"+id)); err != nil {
			t.Fatal(err)
		}
	}
	publishAll(ctx, t, pub, makeEvents("kill", n), 200)
	want := 2 * n

	w1 := startWorker(t, dsn, schema, "worker-1", lease)
	waitFor(t, time.Minute, "the first worker to deliver something", func() (bool, error) {
		select {
		case <-w1.done:
			t.Fatalf("worker 1 exited early (%v):\n%s", w1.err, w1.output())
		default:
		}
		return rc.total.Load() >= int64(want/5), nil
	})
	if err := w1.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-w1.done
	killedAt := rc.total.Load()
	inFlight, err := countState(ctx, s, shipevents.DeliveryInFlight)
	if err != nil {
		t.Fatal(err)
	}
	succeeded, err := countState(ctx, s, shipevents.DeliverySucceeded)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("SIGKILL after %d requests received; %d deliveries recorded as succeeded, %d left in flight", killedAt, succeeded, inFlight)

	w2 := startWorker(t, dsn, schema, "worker-2", lease)
	waitFor(t, 3*time.Minute, fmt.Sprintf("%d succeeded deliveries", want), func() (bool, error) {
		select {
		case <-w2.done:
			t.Fatalf("worker 2 exited early (%v):\n%s", w2.err, w2.output())
		default:
		}
		n, err := countState(ctx, s, shipevents.DeliverySucceeded)
		return n == want, err
	})
	w2.stop(t)

	pairs, dups, mismatch := rc.report()
	if pairs != want {
		t.Errorf("the receiver saw %d distinct (subscription, webhook-id) pairs, want %d: deliveries were lost", pairs, want)
	}
	if len(mismatch) > 0 {
		t.Errorf("%d requests carried a webhook-id other than their event's message id, e.g. %v", len(mismatch), mismatch[0])
	}
	extra := 0
	for _, n := range dups {
		extra += n - 1
	}
	var sample []string
	for k, n := range firstOf(dups) {
		sample = append(sample, fmt.Sprintf("%s %s ×%d", k[0], k[1], n))
	}
	t.Logf("duplicates: %d pairs received more than once (%d extra requests of %d), each with the same webhook-id; e.g. %s",
		len(dups), extra, rc.total.Load(), strings.Join(sample, ", "))
	for _, d := range allDeliveries(t, s) {
		if d.State != shipevents.DeliverySucceeded {
			t.Errorf("delivery %s is %s, want succeeded", d.ID, d.State)
		}
	}
	if t.Failed() {
		t.Logf("worker 2 output:\n%s", w2.output())
	}
}
