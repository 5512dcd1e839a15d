package shipevents

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"
)

// TestMemoryStoreRetention: with Retention set, old events whose
// deliveries all succeeded are forgotten; pending work, dead letters and
// young events are kept, and pages and cursors still work.
func TestMemoryStoreRetention(t *testing.T) {
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewMemoryStore(MemoryStoreConfig{Now: func() time.Time { return clock }, Retention: time.Hour})
	ctx := context.Background()
	appendOne := func(id string, deliveries int) {
		t.Helper()
		rec := AppendRecord{Event: shipmentEvent(id, "T-"+id, StatusDelivered, clock)}
		for j := range deliveries {
			rec.Deliveries = append(rec.Deliveries, NewDelivery{ID: DeliveryID(EventKey{ID: id}, fmt.Sprint(j)), SubscriptionID: fmt.Sprint(j), NextAttemptAt: clock})
		}
		if _, err := s.AppendEvents(ctx, []AppendRecord{rec}); err != nil {
			t.Fatal(err)
		}
	}
	finish := func(outcome AttemptOutcome, n int) {
		t.Helper()
		claims, err := s.ClaimDeliveries(ctx, ClaimRequest{Now: clock, Lease: time.Minute, Limit: n})
		if err != nil || len(claims) != n {
			t.Fatalf("claimed %d, %v; want %d", len(claims), err, n)
		}
		var recs []AttemptRecord
		for _, c := range claims {
			recs = append(recs, AttemptRecord{Lease: c.Lease, Outcome: outcome, Attempt: Attempt{StartedAt: clock}})
		}
		if _, err := s.RecordAttempts(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	appendOne("done", 2)
	finish(OutcomeSucceeded, 2)
	appendOne("dead", 1)
	finish(OutcomeDead, 1)
	appendOne("pending", 1)
	appendOne("nodeliveries", 0)

	// Two hours later, enough appends to trigger a sweep.
	clock = clock.Add(2 * time.Hour)
	for i := range pruneEvery {
		appendOne(fmt.Sprintf("young-%04d", i), 0)
	}

	for id, want := range map[string]bool{"done": false, "nodeliveries": false, "dead": true, "pending": true, "young-0000": true} {
		_, err := s.GetEvent(ctx, EventKey{ID: id})
		if got := err == nil; got != want {
			t.Errorf("GetEvent(%s) kept = %v, want %v (err %v)", id, got, want, err)
		}
		if !want && !errors.Is(err, ErrNotFound) {
			t.Errorf("GetEvent(%s) error = %v, want ErrNotFound", id, err)
		}
	}
	if _, err := s.ListAttempts(ctx, DeliveryID(EventKey{ID: "done"}, "0")); !errors.Is(err, ErrNotFound) {
		t.Errorf("attempts of a forgotten delivery: %v", err)
	}
	dead, err := s.ListDeliveries(ctx, DeliveryFilter{State: DeliveryDead})
	if err != nil || dead.PageInfo.Count != 1 {
		t.Errorf("dead letters after the sweep: %d, %v", dead.PageInfo.Count, err)
	}
	// Paging over a log with forgotten slots still visits every event once.
	seen := 0
	f := EventFilter{Limit: 100}
	for {
		p, err := s.ListEvents(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		seen += len(p.Items)
		if p.PageInfo.Count != pruneEvery+2 {
			t.Fatalf("count %d, want %d", p.PageInfo.Count, pruneEvery+2)
		}
		if !p.PageInfo.HasNextPage {
			break
		}
		f.After = p.PageInfo.EndCursor
	}
	if seen != pruneEvery+2 {
		t.Errorf("paged over %d events, want %d", seen, pruneEvery+2)
	}
	// The pending delivery is still claimable.
	finish(OutcomeSucceeded, 1)
}

// heapAfterGC returns the live heap once garbage is collected.
func heapAfterGC() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// claimAll appends n events with one delivery each and claims them all.
func claimAll(t *testing.T, s *MemoryStore, prefix string, n int, now time.Time) []Claim {
	t.Helper()
	ctx := context.Background()
	recs := make([]AppendRecord, n)
	for i := range recs {
		id := fmt.Sprintf("%s-%d", prefix, i)
		recs[i] = AppendRecord{Event: shipmentEvent(id, "T-"+id, StatusInTransit, now),
			Deliveries: []NewDelivery{{ID: DeliveryID(EventKey{ID: id}, "s"), SubscriptionID: "s", NextAttemptAt: now}}}
	}
	if _, err := s.AppendEvents(ctx, recs); err != nil {
		t.Fatal(err)
	}
	claims, err := s.ClaimDeliveries(ctx, ClaimRequest{Now: now, Lease: time.Minute, Limit: n})
	if err != nil || len(claims) != n {
		t.Fatalf("claimed %d, %v; want %d", len(claims), err, n)
	}
	return claims
}

// TestMemoryStoreCopiesWhatItKeeps: an attempt's response is cut to
// MaxStoredResponse, and the store keeps a copy of those bytes, not a
// slice of the caller's string: a slice would keep the whole 64 KiB
// answer alive for every attempt.
func TestMemoryStoreCopiesWhatItKeeps(t *testing.T) {
	const n = 200
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewMemoryStore(MemoryStoreConfig{Now: func() time.Time { return now }})
	claims := claimAll(t, s, "big", n, now)
	before := heapAfterGC()
	recs := make([]AttemptRecord, n)
	for i, c := range claims {
		recs[i] = AttemptRecord{Lease: c.Lease, Outcome: OutcomeRetry, NextAttemptAt: now.Add(time.Hour),
			Attempt: Attempt{StartedAt: now, StatusCode: 500, Response: strings.Repeat("r", 64<<10), Error: strings.Repeat("e", 64<<10)[:100]}}
	}
	if _, err := s.RecordAttempts(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	recs = nil
	retained := int64(heapAfterGC()) - int64(before)
	t.Logf("%d attempts with 64 KiB responses retain %d KiB (%d bytes each)", n, retained>>10, retained/n)
	if perAttempt := retained / n; perAttempt > 8<<10 {
		t.Errorf("each attempt retains %d bytes, want about MaxStoredResponse (%d)", perAttempt, MaxStoredResponse)
	}
	runtime.KeepAlive(s)
}

// TestDispatcherBoundsWhatAttemptsKeep: through the dispatcher, the
// response an attempt keeps is a copy of at most MaxStoredResponse bytes
// cut on a rune boundary, and an error message (a handler's included) at
// most MaxStoredError bytes, in the attempt, LastError and the
// webhooks/failed event alike.
func TestDispatcherBoundsWhatAttemptsKeep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 200
		body := []byte(strings.Repeat("é", 32<<10)) // 64 KiB of two-byte runes
		d := NewDispatcher(DispatcherConfig{Sender: SenderFunc(func(ctx context.Context, m *Message) (Response, error) {
			return Response{StatusCode: 500, Body: body}, &HTTPError{StatusCode: 500, Body: truncateUTF8(body, MaxStoredResponse)}
		})})
		huge := strings.Repeat("x", 1<<20)
		d.Handle("h", func(ctx context.Context, e Event) error { return errors.New(huge) })
		ctx := context.Background()
		if err := d.Subscribe(ctx, Subscription{ID: "h", Handler: "h", EnabledEvents: []string{"shipments"}, Retry: &RetryPolicy{MaxAttempts: 1}}); err != nil {
			t.Fatal(err)
		}
		events := make([]Event, n)
		for i := range events {
			events[i] = shipmentEvent(fmt.Sprintf("e%d", i), fmt.Sprintf("T%d", i), StatusInTransit, time.Now())
		}
		before := heapAfterGC()
		runVirtually(t, d, time.Minute, Subscription{ID: "s", URL: "https://example.com/h", EnabledEvents: []string{"shipments"},
			Retry: &RetryPolicy{MaxAttempts: 1}}, events...)
		retained := int64(heapAfterGC()) - int64(before)
		t.Logf("%d events, 2 failed attempts each: %d KiB retained", n, retained>>10)
		if per := retained / (2 * n); per > 16<<10 {
			t.Errorf("each failed attempt retains %d bytes", per)
		}
		for _, sub := range []string{"s", "h"} {
			for _, del := range deliveriesOf(t, d, sub) {
				if del.State != DeliveryDead || len(del.LastError) > MaxStoredError {
					t.Fatalf("delivery %s: %s, LastError of %d bytes", del.ID, del.State, len(del.LastError))
				}
				atts, err := d.Attempts(ctx, del.ID)
				if err != nil || len(atts) != 1 {
					t.Fatalf("attempts of %s: %v, %v", del.ID, atts, err)
				}
				a := atts[0]
				if len(a.Error) > MaxStoredError || len(a.Response) > MaxStoredResponse || !utf8.ValidString(a.Response) {
					t.Fatalf("attempt of %s keeps an error of %d bytes and a response of %d bytes (valid UTF-8: %v)",
						del.ID, len(a.Error), len(a.Response), utf8.ValidString(a.Response))
				}
			}
		}
		failed, err := d.Events(ctx, EventFilter{RefPattern: "webhooks/failed", Limit: MaxPageSize})
		if err != nil || failed.PageInfo.Count != 2*n {
			t.Fatalf("webhooks/failed events: %d, %v", failed.PageInfo.Count, err)
		}
		for _, se := range failed.Items {
			if msg, _ := se.Event.Data.Extra["error"].(string); len(msg) > MaxStoredError {
				t.Fatalf("webhooks/failed event with an error of %d bytes", len(msg))
			}
		}
		runtime.KeepAlive(d)
	})
}

// TestMemoryStoreBoundsDeadLetters: dead letters are kept whatever the
// retention, so they have a bound of their own: beyond MaxDeadLetters the
// oldest are forgotten (with their attempts) and counted, and their
// events are then forgotten under Retention like any other.
func TestMemoryStoreBoundsDeadLetters(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	s := NewMemoryStore(MemoryStoreConfig{Now: func() time.Time { return now }, Retention: time.Hour, MaxDeadLetters: 3})
	kill := func(claims []Claim) {
		t.Helper()
		recs := make([]AttemptRecord, len(claims))
		for i, c := range claims {
			recs[i] = AttemptRecord{Lease: c.Lease, Outcome: OutcomeDead, Attempt: Attempt{StartedAt: now, Error: "gone"}}
		}
		if _, err := s.RecordAttempts(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	claims := claimAll(t, s, "dead", 5, now)
	for _, c := range claims { // one by one, so the order of death is known
		kill([]Claim{c})
	}
	dead, err := s.ListDeliveries(ctx, DeliveryFilter{State: DeliveryDead})
	if err != nil || dead.PageInfo.Count != 3 {
		t.Fatalf("dead letters kept: %d, %v; want 3", dead.PageInfo.Count, err)
	}
	if got := s.DroppedDeadLetters(); got != 2 {
		t.Errorf("DroppedDeadLetters = %d, want 2", got)
	}
	for i, c := range claims {
		_, err := s.ListAttempts(ctx, c.Delivery.ID)
		if kept := err == nil; kept != (i >= 2) {
			t.Errorf("dead letter %d (died %d of 5) kept = %v, want %v", i, i+1, kept, i >= 2)
		}
	}
	// A replayed dead letter that dies again is the youngest.
	if n, err := s.RequeueDeliveries(ctx, []string{claims[2].Delivery.ID}, now); err != nil || n != 1 {
		t.Fatalf("requeue: %d, %v", n, err)
	}
	again, err := s.ClaimDeliveries(ctx, ClaimRequest{Now: now, Lease: time.Minute, Limit: 10})
	if err != nil || len(again) != 1 {
		t.Fatalf("claim the replay: %d, %v", len(again), err)
	}
	kill(again)
	kill(claimAll(t, s, "late", 1, now))
	for i, want := range map[int]bool{2: true, 3: false, 4: true} {
		if _, err := s.ListAttempts(ctx, claims[i].Delivery.ID); (err == nil) != want {
			t.Errorf("after the replay died again: dead letter %d kept = %v, want %v", i, err == nil, want)
		}
	}
	if got := s.DroppedDeadLetters(); got != 3 {
		t.Errorf("DroppedDeadLetters = %d, want 3", got)
	}
	// Their events, with nothing left pending, go under Retention.
	now = now.Add(2 * time.Hour)
	for i := range pruneEvery {
		if _, err := s.AppendEvents(ctx, []AppendRecord{{Event: shipmentEvent(fmt.Sprintf("young-%d", i), fmt.Sprintf("Y%d", i), StatusInTransit, now)}}); err != nil {
			t.Fatal(err)
		}
	}
	for i, want := range map[int]bool{0: false, 1: false, 3: false, 2: true, 4: true} {
		if _, err := s.GetEvent(ctx, claims[i].Event.Key()); (err == nil) != want {
			t.Errorf("event of dead letter %d kept = %v, want %v", i, err == nil, want)
		}
	}
}
