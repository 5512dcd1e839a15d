package pgstore_test

import (
	"context"
	"testing"
	"time"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/pgstore"
)

func TestScratchPhases(t *testing.T) {
	dsn := testDSN(t); s := openStore(t, dsn, "scratch_keep", pgstore.Config{})
	ctx := context.Background()
	n := 20000
	events := makeEvents(randomName("ph"), n)
	now := time.Now().UTC()
	t0 := time.Now()
	for i := 0; i < n; i += 100 {
		recs := make([]shipevents.AppendRecord, 0, 100)
		for _, e := range events[i : i+100] {
			recs = append(recs, shipevents.AppendRecord{Event: e, Deliveries: []shipevents.NewDelivery{{ID: shipevents.DeliveryID(e.ID, "s"), SubscriptionID: "s", NextAttemptAt: now}}})
		}
		if _, err := s.AppendEvents(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	t1 := time.Now()
	var claims []shipevents.Claim
	for {
		cl, err := s.ClaimDeliveries(ctx, shipevents.ClaimRequest{Now: time.Now(), Lease: time.Minute, Limit: 64})
		if err != nil {
			t.Fatal(err)
		}
		if len(cl) == 0 {
			break
		}
		claims = append(claims, cl...)
		
	}
	t2 := time.Now()
	for i := 0; i < len(claims); i += 64 {
		var recs []shipevents.AttemptRecord
		for _, c := range claims[i:min(i+64, len(claims))] {
			recs = append(recs, shipevents.AttemptRecord{Lease: c.Lease, Outcome: shipevents.OutcomeSucceeded, Attempt: shipevents.Attempt{StartedAt: now, StatusCode: 204}})
		}
		if _, err := s.RecordAttempts(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	t3 := time.Now()
	t.Logf("append %v (%.0f/s), claim %v (%.0f/s), record %v (%.0f/s), claimed %d", t1.Sub(t0), float64(n)/t1.Sub(t0).Seconds(), t2.Sub(t1), float64(n)/t2.Sub(t1).Seconds(), t3.Sub(t2), float64(n)/t3.Sub(t2).Seconds(), len(claims))
}
