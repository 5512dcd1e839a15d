package shipevents

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestDispatchRateLimit runs a dispatcher in a synctest bubble (virtual
// time): 30 events for a subscription limited to 5 per second arrive at
// once. Every event is delivered exactly once, with one attempt each, and
// no second sees more than the burst of 5 plus 5.
func TestDispatchRateLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var times []time.Time
		d := NewDispatcher(DispatcherConfig{DisableDeliveryEvents: true, PollInterval: 50 * time.Millisecond, Workers: 8})
		d.Handle("h", func(ctx context.Context, e Event) error {
			mu.Lock()
			defer mu.Unlock()
			times = append(times, time.Now())
			return nil
		})
		events := make([]Event, 30)
		for i := range events {
			events[i] = shipmentEvent(fmt.Sprintf("e%d", i), fmt.Sprintf("T%d", i), StatusInTransit, time.Now())
		}
		start := time.Now()
		runVirtually(t, d, time.Minute, Subscription{ID: "s", Handler: "h", EnabledEvents: []string{"*"}, MaxPerSecond: 5}, events...)
		mu.Lock()
		defer mu.Unlock()
		if len(times) != 30 {
			t.Fatalf("delivered %d times, want 30", len(times))
		}
		st := d.Stats()
		if st.Attempts != 30 || st.Succeeded != 30 || st.RateLimited < 20 {
			t.Errorf("stats %+v: want 30 attempts and successes, at least 20 rate-limited", st)
		}
		for i := range times {
			n := 0
			for _, u := range times[i:] {
				if u.Sub(times[i]) < time.Second {
					n++
				}
			}
			if n > 10 {
				t.Fatalf("%d deliveries in the second from %v", n, times[i].Sub(start))
			}
		}
		// 30 at 5 per second after a burst of 5: about 5 seconds.
		if last := times[29].Sub(start); last < 4*time.Second || last > 7*time.Second {
			t.Errorf("the last delivery came after %v, want about 5 s", last)
		}
		dl, err := d.Deliveries(context.Background(), DeliveryFilter{SubscriptionID: "s"})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range dl.Items {
			if x.State != DeliverySucceeded || x.Attempts != 1 {
				t.Errorf("delivery %s: %s after %d attempts, want succeeded after 1", x.ID, x.State, x.Attempts)
			}
		}
	})
}

func TestSubscriptionMaxPerSecondValidated(t *testing.T) {
	base := Subscription{ID: "s", URL: "https://example.com/h", EnabledEvents: []string{"*"}}
	for _, v := range []float64{-1, 2_000_000} {
		s := base
		s.MaxPerSecond = v
		if err := s.Validate(); err == nil {
			t.Errorf("MaxPerSecond %v accepted", v)
		}
	}
	s := base
	s.MaxPerSecond = 0.25
	if err := s.Validate(); err != nil {
		t.Errorf("MaxPerSecond 0.25: %v", err)
	}
}

// runVirtually, inside a synctest bubble, subscribes sub, runs d, publishes
// events, lets span of virtual time pass and stops d.
func runVirtually(t *testing.T, d *Dispatcher, span time.Duration, sub Subscription, events ...Event) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := d.Subscribe(ctx, sub); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	if _, err := d.Publish(ctx, events...); err != nil {
		t.Fatal(err)
	}
	time.Sleep(span) // virtual: returns when the bubble has advanced span
	synctest.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
