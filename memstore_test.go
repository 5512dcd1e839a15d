package shipevents

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
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
