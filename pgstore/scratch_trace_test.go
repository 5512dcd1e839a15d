package pgstore_test

import (
	"context"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/pgstore"
)

type tracer struct {
	mu sync.Mutex
	t  map[string]time.Duration
	n  map[string]int
}
type tkey struct{}

func (tr *tracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	return context.WithValue(ctx, tkey{}, [2]any{time.Now(), d.SQL})
}
func (tr *tracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryEndData) {
	v := ctx.Value(tkey{}).([2]any)
	k := strings.Join(strings.Fields(v[1].(string)), " ")
	if len(k) > 60 {
		k = k[:60]
	}
	tr.mu.Lock()
	tr.t[k] += time.Since(v[0].(time.Time))
	tr.n[k]++
	tr.mu.Unlock()
}
func (tr *tracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchStartData) context.Context {
	return context.WithValue(ctx, tkey{}, [2]any{time.Now(), "batch"})
}
func (tr *tracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {}
func (tr *tracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, d pgx.TraceBatchEndData) {
	v := ctx.Value(tkey{}).([2]any)
	tr.mu.Lock()
	tr.t["batch"] += time.Since(v[0].(time.Time))
	tr.n["batch"]++
	tr.mu.Unlock()
}

func TestScratchTrace(t *testing.T) {
	dsn := testDSN(t)
	openStore(t, dsn, "scratch_keep", pgstore.Config{}).Close()
	pc, _ := pgxpool.ParseConfig(dsn)
	pc.ConnConfig.RuntimeParams["search_path"] = "scratch_keep"
	tr := &tracer{t: map[string]time.Duration{}, n: map[string]int{}}
	pc.ConnConfig.Tracer = tr
	pool, _ := pgxpool.NewWithConfig(context.Background(), pc)
	defer pool.Close()
	s := pgstore.New(pool, pgstore.Config{})
	ctx := context.Background()
	n := 20000
	events := makeEvents(randomName("ph"), n)
	now := time.Now().UTC()
	for i := 0; i < n; i += 100 {
		recs := make([]shipevents.AppendRecord, 0, 100)
		for _, e := range events[i : i+100] {
			recs = append(recs, shipevents.AppendRecord{Event: e, Deliveries: []shipevents.NewDelivery{{ID: shipevents.DeliveryID(e.ID, "s"), SubscriptionID: "s", NextAttemptAt: now}}})
		}
		if _, err := s.AppendEvents(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
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
	for i := 0; i < len(claims); i += 64 {
		var recs []shipevents.AttemptRecord
		for _, c := range claims[i:min(i+64, len(claims))] {
			recs = append(recs, shipevents.AttemptRecord{Lease: c.Lease, Outcome: shipevents.OutcomeSucceeded, Attempt: shipevents.Attempt{StartedAt: now, StatusCode: 204}})
		}
		if _, err := s.RecordAttempts(ctx, recs); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	for k := range tr.t {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return tr.t[keys[i]] > tr.t[keys[j]] })
	for _, k := range keys {
		t.Logf("%8v %5d  %s", tr.t[k].Round(time.Millisecond), tr.n[k], k)
	}
}
