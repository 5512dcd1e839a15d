package shipevents

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// TestStatsAddUp: every claimed delivery is counted once, as an attempt
// (succeeded, retried or dead), a dead letter without a send, a release
// or a rate-limit wait; every attempt is one of its three outcomes; and
// the dead letters the store holds are the dead attempts and those
// without a send.
func TestStatsAddUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := NewDispatcher(DispatcherConfig{Retry: RetryPolicy{Schedule: []time.Duration{time.Second, time.Second}, NoJitter: true}})
		var mu sync.Mutex // workers call the handler concurrently
		calls := map[string]int{}
		d.Handle("flaky", func(ctx context.Context, e Event) error {
			mu.Lock()
			defer mu.Unlock()
			if calls[e.ID]++; calls[e.ID] == 1 {
				return errors.New("try again")
			}
			return nil
		})
		d.Handle("down", func(ctx context.Context, e Event) error { return errors.New("down") })
		d.Handle("ok", func(ctx context.Context, e Event) error { return nil })
		ctx := context.Background()
		for _, s := range []Subscription{
			{ID: "flaky", Handler: "flaky", EnabledEvents: []string{"shipments"}},
			{ID: "down", Handler: "down", EnabledEvents: []string{"shipments"}},
			{ID: "paused", Handler: "ok", EnabledEvents: []string{"shipments"}},
			{ID: "limited", Handler: "ok", EnabledEvents: []string{"shipments"}, MaxPerSecond: 1},
		} {
			if err := d.Subscribe(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		events := make([]Event, 5)
		for i := range events {
			events[i] = shipmentEvent(fmt.Sprintf("e%d", i), fmt.Sprintf("T%d", i), StatusInTransit, time.Now())
		}
		if _, err := d.Publish(ctx, events...); err != nil {
			t.Fatal(err)
		}
		// Paused after its deliveries were created: they die unsent.
		paused, _ := d.Subscription(ctx, "paused")
		paused.Disabled = true
		if err := d.Store().PutSubscription(ctx, paused); err != nil {
			t.Fatal(err)
		}
		runVirtually(t, d, time.Hour, Subscription{ID: "audit", Handler: "ok", EnabledEvents: []string{"webhooks"}})

		st := d.Stats()
		t.Logf("%+v", st)
		if st.Attempts != st.Succeeded+st.Retried+st.Dead {
			t.Errorf("Attempts %d != Succeeded %d + Retried %d + Dead %d", st.Attempts, st.Succeeded, st.Retried, st.Dead)
		}
		if st.Claimed != st.Attempts+st.DeadUnsent+st.Released+st.RateLimited {
			t.Errorf("Claimed %d != Attempts %d + DeadUnsent %d + Released %d + RateLimited %d",
				st.Claimed, st.Attempts, st.DeadUnsent, st.Released, st.RateLimited)
		}
		dead, err := d.Deliveries(ctx, DeliveryFilter{State: DeliveryDead})
		if err != nil {
			t.Fatal(err)
		}
		if int64(dead.PageInfo.Count) != st.Dead+st.DeadUnsent {
			t.Errorf("%d dead letters stored, Dead %d + DeadUnsent %d", dead.PageInfo.Count, st.Dead, st.DeadUnsent)
		}
		if st.DeadUnsent != 5 || st.Dead != 5 || st.RateLimited == 0 || st.Retried < 5+10 {
			t.Errorf("stats %+v: want 5 unsent dead letters (paused), 5 dead after sends (down), some rate-limit waits, "+
				"and at least 15 retries (flaky once, down twice per event)", st)
		}
		if st.Published < 5 || st.Duplicates != 0 || st.Late != 0 {
			t.Errorf("stats %+v: want the 5 events (and the delivery events) published, none duplicate or late", st)
		}
	})
}
