package shipevents

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// stagingTx is a transaction of a toy database: appends wait in it until
// it commits.
type stagingTx struct {
	mu      sync.Mutex
	records []AppendRecord
}

// txMemoryStore is a MemoryStore that appends in a stagingTx: a
// TxAppender[*stagingTx].
type txMemoryStore struct {
	*MemoryStore
	calls int
}

func (s *txMemoryStore) AppendEventsTx(ctx context.Context, tx *stagingTx, records []AppendRecord) ([]AppendResult, error) {
	s.calls++
	tx.mu.Lock()
	defer tx.mu.Unlock()
	out := make([]AppendResult, len(records))
	for i := range records {
		r := records[i]
		r.Deliveries = slices.Clone(r.Deliveries)
		tx.records = append(tx.records, r)
		out[i] = AppendResult{TenantID: r.Event.TenantID, EventID: r.Event.ID, Outcome: AppendNew, Deliveries: len(r.Deliveries)}
	}
	return out, nil
}

func (s *txMemoryStore) commit(ctx context.Context, tx *stagingTx) error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	_, err := s.AppendEvents(ctx, tx.records)
	return err
}

// TestPublishTx: PublishTx builds the records Publish would store
// (validated, matched against the subscriptions it loads, with their
// delivery ids and OnlyIfCurrent) and hands them to the store's
// TxAppender for the caller's transaction type; nothing is delivered
// before the commit, everything after it, and Stats count nothing.
func TestPublishTx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		store := &txMemoryStore{MemoryStore: NewMemoryStore(MemoryStoreConfig{})}
		// The subscriptions are stored by another instance: PublishTx
		// loads them, as Publish does.
		for _, s := range []Subscription{
			{ID: "current", Handler: "h", EnabledEvents: []string{SourceShipments}},
			{ID: "all", Handler: "h", EnabledEvents: []string{SourceShipments}, IncludeLate: true},
			{ID: "other", Handler: "h", EnabledEvents: []string{"orders"}},
		} {
			if err := store.PutSubscription(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		d := NewDispatcher(DispatcherConfig{Store: store, DisableDeliveryEvents: true})
		var mu sync.Mutex
		got := map[string]int{}
		d.Handle("h", func(ctx context.Context, e Event) error {
			mu.Lock()
			got[e.ID]++
			mu.Unlock()
			return nil
		})
		at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		a := shipmentEvent("a", "1ZA", StatusInTransit, at)
		b := shipmentEvent("b", "1ZB", StatusDelivered, at)
		b.TenantID = "shop-1"

		// Wrong capability or transaction type: nothing is written.
		plain := NewDispatcher(DispatcherConfig{})
		if _, err := PublishTx(ctx, plain, &stagingTx{}, a); !errors.Is(err, ErrNotSupported) {
			t.Errorf("PublishTx on a MemoryStore: %v, want ErrNotSupported", err)
		}
		if _, err := PublishTx(ctx, d, "not a transaction", a); !errors.Is(err, ErrNotSupported) {
			t.Errorf("PublishTx with a transaction of another type: %v, want ErrNotSupported", err)
		}
		bad := a
		bad.ID = ""
		var ee *EventError
		if _, err := PublishTx(ctx, d, &stagingTx{}, b, bad); !errors.As(err, &ee) || ee.Index != 1 || !errors.Is(err, ErrInvalidEvent) {
			t.Errorf("PublishTx with an invalid event: %v, want an *EventError for index 1", err)
		}
		if store.calls != 0 {
			t.Fatalf("the store was called %d times by refused PublishTx calls", store.calls)
		}

		tx := &stagingTx{}
		res, err := PublishTx(ctx, d, tx, a, b)
		if err != nil {
			t.Fatal(err)
		}
		want := []PublishResult{
			{EventID: "a", Outcome: AppendNew, Deliveries: 2},
			{TenantID: "shop-1", EventID: "b", Outcome: AppendNew, Deliveries: 2},
		}
		if !slices.Equal(res, want) {
			t.Errorf("results %+v, want %+v", res, want)
		}
		for i, r := range tx.records {
			var subs []string
			for _, nd := range r.Deliveries {
				subs = append(subs, nd.SubscriptionID)
				if nd.ID != DeliveryID(r.Event.Key(), nd.SubscriptionID) {
					t.Errorf("record %d: delivery id %s, want DeliveryID of %s and %s", i, nd.ID, r.Event.Key(), nd.SubscriptionID)
				}
				if nd.OnlyIfCurrent != (nd.SubscriptionID == "current") {
					t.Errorf("record %d: delivery to %s has OnlyIfCurrent %v", i, nd.SubscriptionID, nd.OnlyIfCurrent)
				}
				if !nd.NextAttemptAt.Equal(time.Now()) {
					t.Errorf("record %d: due at %v, want now (%v)", i, nd.NextAttemptAt, time.Now())
				}
			}
			slices.Sort(subs)
			if !slices.Equal(subs, []string{"all", "current"}) {
				t.Errorf("record %d (%s): deliveries to %v, want all and current", i, r.Event.Key(), subs)
			}
		}

		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- d.Run(runCtx) }()
		time.Sleep(time.Minute) // virtual time: many polls
		synctest.Wait()
		mu.Lock()
		if len(got) != 0 {
			t.Errorf("delivered before the commit: %v", got)
		}
		mu.Unlock()
		if err := store.commit(ctx, tx); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		stop()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got["a"] != 2 || got["b"] != 2 {
			t.Errorf("delivered after the commit: %v, want a and b twice each", got)
		}
		if st := d.Stats(); st.Published != 0 || st.Duplicates != 0 || st.Succeeded != 4 {
			t.Errorf("stats %+v: want nothing published counted, 4 deliveries succeeded", st)
		}
	})
}
