package shipevents

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// TestHangingEndpointDoesNotDelayOthers runs a dispatcher with the default
// configuration in a synctest bubble (virtual time). One subscription's
// handler hangs until its attempt times out; a second subscription's
// handler answers at once. Events for both arrive ten a second for a
// minute, in one case after a backlog of 1,000 deliveries of the hanging
// subscription alone, due before anything else. The healthy
// subscription's deliveries must not wait for the hanging one's workers:
// its p99 latency (publish to handler) stays under a second, while the
// hanging subscription keeps its share of the workers busy.
func TestHangingEndpointDoesNotDelayOthers(t *testing.T) {
	for _, backlog := range []int{0, 1000} {
		t.Run(fmt.Sprintf("backlog=%d", backlog), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				lat, hung := hangingNeighbour(t, DispatcherConfig{}, backlog, 600, 100*time.Millisecond)
				p50, p99, worst := percentile(lat, 0.50), percentile(lat, 0.99), lat[len(lat)-1]
				t.Logf("healthy endpoint beside a hanging one, %d deliveries: p50 %v, p99 %v, max %v; hanging attempts at once: %d",
					len(lat), p50, p99, worst, hung)
				if p99 >= time.Second {
					t.Errorf("healthy p99 %v beside a hanging endpoint (p50 %v, max %v), want under 1s", p99, p50, worst)
				}
				if want := DefaultWorkers / 4; hung != want {
					t.Errorf("the hanging endpoint had up to %d attempts at once, want its default share, %d", hung, want)
				}
			})
		})
	}
}

// hangingNeighbour publishes backlog events that only the hanging
// subscription takes, then n events for both subscriptions, one every
// gap, and returns the healthy subscription's latencies, sorted, and the
// most attempts the hanging one had at once. It runs inside a synctest
// bubble.
func hangingNeighbour(t *testing.T, cfg DispatcherConfig, backlog, n int, gap time.Duration) (lat []time.Duration, hung int) {
	t.Helper()
	var mu sync.Mutex
	published := map[string]time.Time{}
	seen := map[string]int{}
	hanging := 0
	d := NewDispatcher(cfg)
	d.Handle("hang", func(ctx context.Context, e Event) error {
		mu.Lock()
		hanging++
		hung = max(hung, hanging)
		mu.Unlock()
		<-ctx.Done()
		mu.Lock()
		hanging--
		mu.Unlock()
		return ctx.Err()
	})
	d.Handle("healthy", func(ctx context.Context, e Event) error {
		mu.Lock()
		defer mu.Unlock()
		seen[e.ID]++
		if seen[e.ID] == 1 {
			lat = append(lat, time.Since(published[e.ID]))
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, s := range []Subscription{
		{ID: "hanging", Handler: "hang", EnabledEvents: []string{"shipments"}},
		{ID: "healthy", Handler: "healthy", EnabledEvents: []string{"shipments"},
			Conditions: []Condition{{Field: "tracking_number", Op: OpPrefix, Values: []string{"H"}}}},
	} {
		if err := d.Subscribe(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	publish := func(id, tracking string) {
		t.Helper()
		mu.Lock()
		published[id] = time.Now()
		mu.Unlock()
		if _, err := d.Publish(ctx, shipmentEvent(id, tracking, StatusInTransit, time.Now())); err != nil {
			t.Fatal(err)
		}
	}
	for i := range backlog {
		publish(fmt.Sprintf("backlog-%d", i), fmt.Sprintf("B%d", i))
	}
	for i := range n {
		publish(fmt.Sprintf("e-%d", i), fmt.Sprintf("H%d", i))
		time.Sleep(gap)
	}
	// Let every healthy delivery arrive, however long the hanging
	// endpoint keeps the workers (virtual time costs nothing).
	for deadline := time.Now().Add(time.Hour); time.Now().Before(deadline); {
		mu.Lock()
		got := len(lat)
		mu.Unlock()
		if got == n {
			break
		}
		time.Sleep(time.Second)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(lat) != n {
		t.Fatalf("the healthy subscription got %d of %d events within an hour", len(lat), n)
	}
	slices.Sort(lat)
	return lat, hung
}

// percentile returns the q-quantile of sorted (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// TestDispatchWorkerShares: each subscription has at most its share of
// the workers in flight at once (MaxInFlightPerSubscription, or its own
// MaxInFlight, at most Workers), and a subscription's backlog does not
// keep the others waiting for workers it may not take.
func TestDispatchWorkerShares(t *testing.T) {
	for _, c := range []struct {
		name    string
		cfg     DispatcherConfig
		subs    map[string]int // subscription → its MaxInFlight
		want    map[string]int // subscription → most attempts at once
		backlog int            // deliveries per subscription
	}{
		{"default share", DispatcherConfig{Workers: 8}, map[string]int{"a": 0, "b": 0}, map[string]int{"a": 2, "b": 2}, 20},
		{"configured share", DispatcherConfig{Workers: 8, MaxInFlightPerSubscription: 3}, map[string]int{"a": 0, "b": 0}, map[string]int{"a": 3, "b": 3}, 20},
		{"own share", DispatcherConfig{Workers: 8, MaxInFlightPerSubscription: 3}, map[string]int{"a": 1, "b": 4, "c": 0}, map[string]int{"a": 1, "b": 4, "c": 3}, 20},
		{"share above workers", DispatcherConfig{Workers: 4}, map[string]int{"a": 100}, map[string]int{"a": 4}, 20},
		{"few workers", DispatcherConfig{Workers: 3}, map[string]int{"a": 0, "b": 0}, map[string]int{"a": 1, "b": 1}, 10},
	} {
		t.Run(c.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				now, most := map[string]int{}, map[string]int{}
				delivered := 0
				cfg := c.cfg
				cfg.DisableDeliveryEvents = true
				d := NewDispatcher(cfg)
				d.Handle("slow", func(ctx context.Context, e Event) error {
					sub := e.Metadata["sub"]
					mu.Lock()
					now[sub]++
					most[sub] = max(most[sub], now[sub])
					mu.Unlock()
					time.Sleep(time.Second)
					mu.Lock()
					now[sub]--
					delivered++
					mu.Unlock()
					return nil
				})
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				var events []Event
				for id, n := range c.subs {
					s := Subscription{ID: id, Handler: "slow", EnabledEvents: []string{"shipments"}, MaxInFlight: n,
						Conditions: []Condition{{Field: "metadata.sub", Op: OpEq, Values: []string{id}}}}
					if err := d.Subscribe(ctx, s); err != nil {
						t.Fatal(err)
					}
					for i := range c.backlog {
						e := shipmentEvent(fmt.Sprintf("%s-%d", id, i), fmt.Sprintf("T%s%d", id, i), StatusInTransit, time.Now())
						e.Metadata = map[string]string{"sub": id}
						events = append(events, e)
					}
				}
				if _, err := d.Publish(ctx, events...); err != nil {
					t.Fatal(err)
				}
				done := make(chan error)
				go func() { done <- d.Run(ctx) }()
				time.Sleep(time.Hour)
				cancel()
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				mu.Lock()
				defer mu.Unlock()
				if delivered != len(events) {
					t.Errorf("%d of %d events delivered", delivered, len(events))
				}
				if !maps.Equal(most, c.want) {
					t.Errorf("most attempts at once per subscription %v, want %v", most, c.want)
				}
			})
		})
	}
}

func TestWorkerShareValidation(t *testing.T) {
	err := (&DispatcherConfig{MaxInFlightPerSubscription: -1}).Validate()
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "MaxInFlightPerSubscription -1 is negative") {
		t.Errorf("negative MaxInFlightPerSubscription: %v, want ErrInvalidConfig naming it", err)
	}
	s := Subscription{ID: "s", URL: "https://example.com/h", EnabledEvents: []string{"*"}, MaxInFlight: -1}
	if err := s.Validate(); !errors.Is(err, ErrInvalidSubscription) || !strings.Contains(err.Error(), "max_in_flight") {
		t.Errorf("negative MaxInFlight: %v, want ErrInvalidSubscription naming max_in_flight", err)
	}
	s.MaxInFlight = 5
	if err := s.Validate(); err != nil {
		t.Errorf("MaxInFlight 5: %v", err)
	}
}

// TestFullShareClaimsAgainAtOnce: when a subscription's share is used up,
// the claim loop takes its next delivery as soon as one of its attempts
// ends, not at the next poll. One subscription with a share of 2 drains a
// backlog of 100 whose attempts take 10 ms each in 500 ms of virtual time
// (50 rounds of two); waiting for the 250 ms poll each round would take
// over 12 s.
func TestFullShareClaimsAgainAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var last time.Time
		n := 0
		d := NewDispatcher(DispatcherConfig{Workers: 8, DisableDeliveryEvents: true})
		d.Handle("h", func(ctx context.Context, e Event) error {
			time.Sleep(10 * time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			n++
			last = time.Now()
			return nil
		})
		var events []Event
		for i := range 100 {
			events = append(events, shipmentEvent(fmt.Sprintf("e%d", i), fmt.Sprintf("T%d", i), StatusInTransit, time.Now()))
		}
		start := time.Now()
		runVirtually(t, d, time.Minute, Subscription{ID: "s", Handler: "h", EnabledEvents: []string{"*"}}, events...)
		mu.Lock()
		defer mu.Unlock()
		if n != 100 {
			t.Fatalf("%d of 100 delivered", n)
		}
		if took := last.Sub(start); took > 600*time.Millisecond {
			t.Errorf("the backlog took %v, want about 500ms (50 rounds of two 10ms attempts)", took)
		}
	})
}

// claimCounter counts the claims of the store it wraps.
type claimCounter struct {
	Store
	claims atomic.Int64
}

func (c *claimCounter) ClaimDeliveries(ctx context.Context, req ClaimRequest) ([]Claim, error) {
	c.claims.Add(1)
	return c.Store.ClaimDeliveries(ctx, req)
}

// TestFullShareRefilledInOneClaim: a subscription whose share is used up
// gets its freed workers back in one claim per round, not one claim per
// finished attempt (each claim is a database statement in pgstore). A
// share of 4 drains 100 deliveries, whose attempts take 10 ms, in 25
// rounds.
func TestFullShareRefilledInOneClaim(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := &claimCounter{Store: NewMemoryStore(MemoryStoreConfig{})}
		d := NewDispatcher(DispatcherConfig{Store: store, Workers: 16, DisableDeliveryEvents: true})
		var n atomic.Int64
		d.Handle("h", func(ctx context.Context, e Event) error {
			time.Sleep(10 * time.Millisecond)
			n.Add(1)
			return nil
		})
		var events []Event
		for i := range 100 {
			events = append(events, shipmentEvent(fmt.Sprintf("e%d", i), fmt.Sprintf("T%d", i), StatusInTransit, time.Now()))
		}
		runVirtually(t, d, time.Minute, Subscription{ID: "s", Handler: "h", EnabledEvents: []string{"*"}}, events...)
		if n.Load() != 100 {
			t.Fatalf("%d of 100 delivered", n.Load())
		}
		// 25 rounds, and the polls of the idle minute after them.
		polls := int64(time.Minute / DefaultPollInterval)
		if got := store.claims.Load() - polls; got > 30 {
			t.Errorf("%d claims besides the polls for 25 rounds of 4 deliveries, want about 25", got)
		}
	})
}
