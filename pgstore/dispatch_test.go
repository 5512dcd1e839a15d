package pgstore_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/pgstore"
)

// pairCounter counts sends per (event id, subscription id).
type pairCounter struct {
	mu    sync.Mutex
	seen  map[[2]string]int
	total atomic.Int64
}

func newPairCounter() *pairCounter { return &pairCounter{seen: map[[2]string]int{}} }

func (pc *pairCounter) sender() shipevents.Sender {
	return shipevents.SenderFunc(func(ctx context.Context, m *shipevents.Message) (shipevents.Response, error) {
		pc.mu.Lock()
		pc.seen[[2]string{m.Event.ID, m.Subscription.ID}]++
		pc.mu.Unlock()
		pc.total.Add(1)
		return shipevents.Response{StatusCode: 204}, nil
	})
}

// duplicates returns the pairs sent more than once and how many pairs
// were sent at all.
func (pc *pairCounter) duplicates() (dups map[[2]string]int, pairs int) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	dups = map[[2]string]int{}
	for k, n := range pc.seen {
		if n > 1 {
			dups[k] = n
		}
	}
	return dups, len(pc.seen)
}

// TestThreeDispatchersOneSchema runs three dispatchers, each with its own
// Store and pool (three "instances"), on one schema, publishes 10,000
// events (1,000 under -short) to three subscriptions through all of them,
// and checks that every delivery succeeded exactly once: SKIP LOCKED
// claims never hand one delivery to two instances.
func TestThreeDispatchersOneSchema(t *testing.T) {
	dsn := testDSN(t)
	t.Parallel()
	n := 10_000
	if testing.Short() {
		n = 1_000
	}
	const instances, subs = 3, 3
	schema := testSchema(t, dsn)

	// Three instances migrate at once: the advisory lock serializes them.
	stores := make([]*pgstore.Store, instances)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Go(func() { stores[i] = openStore(t, dsn, schema, pgstore.Config{}) })
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}

	pc := newPairCounter()
	ds := make([]*shipevents.Dispatcher, instances)
	for i := range ds {
		ds[i] = shipevents.NewDispatcher(shipevents.DispatcherConfig{
			Store: stores[i], Sender: pc.sender(), Workers: 64, PollInterval: 20 * time.Millisecond,
			DisableDeliveryEvents: true, Name: fmt.Sprintf("instance-%d", i),
		})
	}
	ctx := t.Context()
	for i := range subs {
		if err := ds[0].Subscribe(ctx, webhookSub(fmt.Sprintf("sub-%d", i), fmt.Sprintf("http://127.0.0.1/hook/%d", i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range ds[1:] {
		if err := d.ReloadSubscriptions(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range ds {
		runDispatcher(t, d)
	}

	// Publish through every instance at once while they deliver.
	events := makeEvents("evt", n)
	start := time.Now()
	per := (n + instances - 1) / instances
	for i, d := range ds {
		part := events[min(i*per, n):min((i+1)*per, n)]
		wg.Go(func() { publishAll(ctx, t, d, part, 100) })
	}
	wg.Wait()
	want := n * subs
	waitSucceeded(t, stores[0], want, 5*time.Minute)
	elapsed := time.Since(start)

	dups, pairs := pc.duplicates()
	if pairs != want {
		t.Errorf("the sender saw %d distinct (event, subscription) pairs, want %d", pairs, want)
	}
	if len(dups) > 0 {
		t.Errorf("%d pairs were sent more than once, e.g. %v", len(dups), firstOf(dups))
	}
	if got := pc.total.Load(); got != int64(want) {
		t.Errorf("the sender was called %d times, want %d", got, want)
	}
	for _, d := range allDeliveries(t, stores[1]) {
		if d.State != shipevents.DeliverySucceeded || d.Attempts != 1 {
			t.Fatalf("delivery %s: state %s after %d attempts, want succeeded after 1", d.ID, d.State, d.Attempts)
		}
	}
	var per3 []int64
	for _, d := range ds {
		per3 = append(per3, d.Stats().Succeeded)
	}
	t.Logf("%d deliveries by %d instances in %v (%.0f/s); succeeded per instance %v",
		want, instances, elapsed.Round(time.Millisecond), float64(want)/elapsed.Seconds(), per3)
}

func firstOf[K comparable, V any](m map[K]V) map[K]V {
	out := map[K]V{}
	for k, v := range m {
		out[k] = v
		if len(out) == 3 {
			break
		}
	}
	return out
}
