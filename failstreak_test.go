package shipevents

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// An endpoint that fails every attempt is deactivated once the streak has
// both enough failures and a long enough span, and not before.
func TestDisableAfterFailureStreak(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var times []time.Time
		d := NewDispatcher(DispatcherConfig{
			DisableDeliveryEvents: true, PollInterval: time.Second, Workers: 2,
			Retry:        RetryPolicy{Schedule: []time.Duration{10 * time.Second, 10 * time.Second, 10 * time.Second, 10 * time.Second, 10 * time.Second, 10 * time.Second}, NoJitter: true},
			DisableAfter: FailureStreak{Failures: 6, Duration: 30 * time.Second},
		})
		d.Handle("h", func(ctx context.Context, e Event) error {
			mu.Lock()
			defer mu.Unlock()
			times = append(times, time.Now())
			return errors.New("endpoint down")
		})
		start := time.Now()
		runVirtually(t, d, 5*time.Minute, Subscription{ID: "s", Handler: "h", EnabledEvents: []string{"*"}},
			shipmentEvent("e1", "T1", StatusInTransit, start), shipmentEvent("e2", "T2", StatusInTransit, start))

		subs, err := d.Store().ListSubscriptions(context.Background())
		if err != nil || len(subs) != 1 {
			t.Fatalf("subscriptions %v, %v", subs, err)
		}
		if !subs[0].Disabled || !strings.Contains(subs[0].DisabledReason, "consecutive failed attempts") {
			t.Fatalf("subscription disabled=%v reason %q, want disabled for its failures", subs[0].Disabled, subs[0].DisabledReason)
		}
		mu.Lock()
		defer mu.Unlock()
		// Two deliveries, one attempt each every 10 s: the streak has 6
		// failures after 20 s but spans 30 s only at the attempts at 30 s.
		if len(times) < 7 || len(times) > 8 {
			t.Fatalf("%d attempts, want 7 or 8 (the attempts at 0, 10, 20 and 30 s)", len(times))
		}
		if last := times[len(times)-1].Sub(start); last != 30*time.Second {
			t.Errorf("last attempt at %v, want 30 s", last)
		}
		page, err := d.Deliveries(context.Background(), DeliveryFilter{SubscriptionID: "s"})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range page.Items {
			if x.State != DeliveryDead {
				t.Errorf("delivery %s is %s, want dead (its subscription is inactive)", x.ID, x.State)
			}
		}
	})
}

func TestFailureStreakEndsOnSuccess(t *testing.T) {
	var s failureStreaks
	limit := FailureStreak{Failures: 3}
	at := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for round := range 3 {
		for range 2 {
			if why := s.failed("s", at, at, limit); why != "" {
				t.Fatalf("round %d: disabled after fewer than 3 failures: %s", round, why)
			}
		}
		s.succeeded("s", limit)
	}
	s.failed("s", at, at, limit)
	s.failed("s", at, at, limit)
	if why := s.failed("s", at, at.Add(time.Minute), limit); why != "3 consecutive failed attempts over 1m0s" {
		t.Errorf("third failure: %q", why)
	}
	if why := s.failed("s", at, at, limit); why != "" {
		t.Errorf("the streak did not restart after disabling: %q", why)
	}
	if why := s.failed("other", at, at.Add(1000*time.Hour), FailureStreak{}); why != "" {
		t.Errorf("the zero FailureStreak disabled: %q", why)
	}
	d := FailureStreak{Duration: time.Hour}
	if why := s.failed("d", at, at.Add(59*time.Minute), d); why != "" {
		t.Errorf("disabled before the span: %q", why)
	}
	if why := s.failed("d", at.Add(time.Hour), at.Add(time.Hour), d); why == "" {
		t.Error("not disabled after an hour of failures")
	}
}
