package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shipevents/shipevents"
)

// sqlClaimHeadWalk is the claim before worker shares, for comparison: it
// walks the queue in (next_attempt_at, seq) order from its head, whatever
// the subscription. filtered adds the one condition a share-aware claim
// built on that walk would need, which makes it read every row of a
// subscription it may not take from.
func sqlClaimHeadWalk(filtered bool) string {
	cond := ""
	if filtered {
		cond = "AND subscription_id <> ALL($5::text[])"
	}
	return `WITH due AS (
	SELECT ctid FROM delivery_queue
	WHERE next_attempt_at <= $1 AND (lease_expires_at IS NULL OR lease_expires_at <= $1) ` + cond + `
	ORDER BY next_attempt_at, seq
	LIMIT $2
	FOR UPDATE SKIP LOCKED
), claimed AS (
	UPDATE delivery_queue q
	SET lease_token = gen_random_uuid()::text, lease_owner = $4, lease_expires_at = $3
	FROM due WHERE q.ctid = due.ctid
	RETURNING q.delivery_id, q.lease_token, q.next_attempt_at, q.seq
)
SELECT d.id, d.tenant_id, d.event_id, d.subscription_id, d.attempts, c.next_attempt_at, d.created_at,
	d.last_error, d.last_status_code, c.lease_token, e.body
FROM claimed c JOIN deliveries d ON d.id = c.delivery_id
	JOIN events e ON e.tenant_id = d.tenant_id AND e.id = d.event_id
ORDER BY c.next_attempt_at, c.seq`
}

// claimBench is a schema whose queue holds, at its head, backlog due
// deliveries of a subscription whose share is used up (its 8 deliveries in
// flight lead the queue), then 100 due deliveries of a healthy one.
type claimBench struct {
	s   *Store
	now time.Time
}

func newClaimBench(tb testing.TB, backlog int) *claimBench {
	tb.Helper()
	dsn := os.Getenv("SHIPEVENTS_PG_DSN")
	if dsn == "" {
		tb.Skip("SHIPEVENTS_PG_DSN is not set: skipping the PostgreSQL benchmarks")
	}
	ctx := context.Background()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "shipevents_test_claim_" + hex.EncodeToString(b)
	s, err := Open(ctx, dsn, Config{Schema: schema})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_, _ = s.pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		s.Close()
	})
	if err := s.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ev := shipevents.Event{ID: "evt-claim", Type: shipevents.TypeTrackingUpdated, Source: shipevents.SourceShipments,
		Version: shipevents.EnvelopeVersion, Ref: "shipments/in_transit/IN_TRANSIT", OccurredAt: t0, TriggeredAt: t0}
	body, err := json.Marshal(ev)
	if err != nil {
		tb.Fatal(err)
	}
	// One event per delivery. Deliveries of the hanging subscription come
	// first (8 leased until long after now, then the backlog), then the
	// healthy one's, one microsecond apart in that order.
	fill := `WITH x AS (
		SELECT i, CASE WHEN i <= $2 + 8 THEN 'hanging' ELSE 'healthy' END AS sub FROM generate_series(1, $2 + 8 + 100) AS i
	), e AS (
		INSERT INTO events (id, body, type, ref, occurred_at, stored_at)
		SELECT 'evt-' || i, $3::json, 'tracking.updated', 'shipments/in_transit/IN_TRANSIT', $1, $1 FROM x ORDER BY i
	), d AS (
		INSERT INTO deliveries (id, tenant_id, event_id, subscription_id, state, next_attempt_at, created_at, updated_at)
		SELECT 'dlv-' || i, '', 'evt-' || i, sub, 'queued', $1::timestamptz + i * interval '1 microsecond', $1, $1 FROM x ORDER BY i
		RETURNING id, subscription_id, next_attempt_at, seq
	)
	INSERT INTO delivery_queue (delivery_id, subscription_id, next_attempt_at, seq, lease_token, lease_owner, lease_expires_at)
	SELECT id, subscription_id, next_attempt_at, seq,
		CASE WHEN seq <= (SELECT min(seq) FROM d) + 7 THEN 'busy-' || seq END,
		CASE WHEN seq <= (SELECT min(seq) FROM d) + 7 THEN 'other' END,
		CASE WHEN seq <= (SELECT min(seq) FROM d) + 7 THEN $1::timestamptz + interval '1 day' END
	FROM d`
	if _, err := s.pool.Exec(ctx, fill, t0, backlog, string(body)); err != nil {
		tb.Fatal(err)
	}
	// The walk of the previous claim, for comparison, and fresh
	// statistics and visibility, as autovacuum would leave them.
	for _, q := range []string{`CREATE INDEX delivery_queue_due_idx ON delivery_queue (next_attempt_at, seq)`,
		`VACUUM ANALYZE delivery_queue`, `VACUUM ANALYZE deliveries`, `VACUUM ANALYZE events`} {
		if _, err := s.pool.Exec(ctx, q); err != nil {
			tb.Fatal(err)
		}
	}
	return &claimBench{s: s, now: t0.Add(time.Hour)}
}

// run executes one claim in a transaction that it rolls back, so that
// every run sees the same queue, and returns the subscriptions claimed.
func (cb *claimBench) run(tb testing.TB, query string, args ...any) map[string]int {
	ctx := context.Background()
	tx, err := cb.s.pool.Begin(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // the point
	if _, err := tx.Exec(ctx, sqlClaimPlan); err != nil {
		tb.Fatal(err)
	}
	rows, err := tx.Query(ctx, query, args...)
	if err != nil {
		tb.Fatal(err)
	}
	col := slices.IndexFunc(rows.FieldDescriptions(), func(f pgconn.FieldDescription) bool { return f.Name == "subscription_id" })
	got := map[string]int{}
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			tb.Fatal(err)
		}
		got[vals[col].(string)]++
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return got
}

// The claim's arguments: 32 workers free, a share of 8, and the hanging
// subscription's share used up.
func (cb *claimBench) shareArgs() []any {
	return []any{cb.now, 32, cb.now.Add(time.Minute), "bench", 8, []string{"hanging"}, []int32{0}}
}

func (cb *claimBench) walkArgs(filtered bool) []any {
	args := []any{cb.now, 32, cb.now.Add(time.Minute), "bench"}
	if filtered {
		args = append(args, []string{"hanging"})
	}
	return args
}

// BenchmarkClaimBesideFullBacklog measures one claim (32 free workers, a
// share of 8) while the head of the queue holds a backlog of a
// subscription whose share is used up: "share" is the store's claim, which
// takes 8 of the healthy subscription's deliveries; "walk" is the claim
// before shares, which takes the 32 deliveries at the head; "walk-filtered"
// is that walk made to pass over the full subscription, which reads its
// whole backlog. Each op is a claim rolled back. With -v it logs the plan
// of the share claim (EXPLAIN ANALYZE).
func BenchmarkClaimBesideFullBacklog(b *testing.B) {
	for _, backlog := range []int{0, 1000, 100_000} {
		cb := newClaimBench(b, backlog)
		for _, c := range []struct {
			name  string
			query string
			args  []any
			want  map[string]int
		}{
			{"share", sqlClaim, cb.shareArgs(), map[string]int{"healthy": 8}},
			{"walk", sqlClaimHeadWalk(false), cb.walkArgs(false), nil},
			{"walk-filtered", sqlClaimHeadWalk(true), cb.walkArgs(true), map[string]int{"healthy": 32}},
		} {
			if backlog == 0 && c.name == "walk" {
				// With nothing of the full subscription due, the walk and a
				// share claim allowing 32 of the healthy subscription take
				// the same 32 rows: the cost of fairness on the common path.
				args := cb.shareArgs()
				args[4] = 32
				b.Run("backlog=0/share-32", func(b *testing.B) {
					cb.vacuum(b)
					if got := cb.run(b, sqlClaim, args...); fmt.Sprint(got) != fmt.Sprint(map[string]int{"healthy": 32}) {
						b.Fatalf("claimed %v, want 32 of healthy", got)
					}
					b.ReportAllocs()
					for b.Loop() {
						cb.run(b, sqlClaim, args...)
					}
				})
			}
			b.Run(fmt.Sprintf("backlog=%d/%s", backlog, c.name), func(b *testing.B) {
				cb.vacuum(b)
				got := cb.run(b, c.query, c.args...)
				if c.want != nil && fmt.Sprint(got) != fmt.Sprint(c.want) {
					b.Fatalf("claimed %v, want %v", got, c.want)
				}
				if c.name == "share" && testing.Verbose() {
					b.Logf("plan with a backlog of %d:\n%s", backlog, cb.explain(b, c.query, c.args...))
				}
				b.ReportAllocs()
				for b.Loop() {
					cb.run(b, c.query, c.args...)
				}
			})
		}
	}
}

// vacuum clears the dead row versions that the rolled-back claims of a
// previous run left behind.
func (cb *claimBench) vacuum(tb testing.TB) {
	if _, err := cb.s.pool.Exec(context.Background(), `VACUUM delivery_queue`); err != nil {
		tb.Fatal(err)
	}
}

// explain returns EXPLAIN (ANALYZE, BUFFERS) of one claim, rolled back.
func (cb *claimBench) explain(tb testing.TB, query string, args ...any) string {
	ctx := context.Background()
	tx, err := cb.s.pool.Begin(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // the point
	if _, err := tx.Exec(ctx, sqlClaimPlan); err != nil {
		tb.Fatal(err)
	}
	rows, err := tx.Query(ctx, "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "+query, args...)
	if err != nil {
		tb.Fatal(err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// BenchmarkClaimManySubscriptions measures one claim (32 free workers, a
// share of 8) when the queue holds one row for each of many
// subscriptions besides 100 due rows of one more: "idle" rows are due
// tomorrow (pending retries), "due" rows are due now. The claim visits
// every subscription in the queue once (one index descent each), and
// reads the rows of those with due work. Each op is a claim rolled back.
func BenchmarkClaimManySubscriptions(b *testing.B) {
	for _, subs := range []int{10, 1000, 10_000} {
		for _, due := range []bool{false, true} {
			cb := newClaimBench(b, 0)
			ctx := context.Background()
			next := `$1::timestamptz + interval '1 day'`
			if due {
				next = `$1::timestamptz`
			}
			fill := `WITH x AS (SELECT i FROM generate_series(1, $2) AS i), e AS (
				INSERT INTO events (id, body, type, ref, occurred_at, stored_at)
				SELECT 'evt-many-' || i, '{}', 'tracking.updated', 'r', $1, $1 FROM x
			), d AS (
				INSERT INTO deliveries (id, tenant_id, event_id, subscription_id, state, next_attempt_at, created_at, updated_at)
				SELECT 'dlv-many-' || i, '', 'evt-many-' || i, 'sub-' || i, 'queued', ` + next + `, $1, $1 FROM x ORDER BY i
				RETURNING id, subscription_id, next_attempt_at, seq
			)
			INSERT INTO delivery_queue (delivery_id, subscription_id, next_attempt_at, seq)
			SELECT id, subscription_id, next_attempt_at, seq FROM d`
			for _, q := range []string{fill, `VACUUM ANALYZE delivery_queue`} {
				args := []any{cb.now, subs}
				if q[0] == 'V' {
					args = nil
				}
				if _, err := cb.s.pool.Exec(ctx, q, args...); err != nil {
					b.Fatal(err)
				}
			}
			name := "idle"
			if due {
				name = "due"
			}
			b.Run(fmt.Sprintf("subs=%d/%s", subs, name), func(b *testing.B) {
				got := cb.run(b, sqlClaim, cb.shareArgs()...)
				n := 0
				for _, c := range got {
					n += c
				}
				if want := min(32, 8+map[bool]int{false: 0, true: subs}[due]); n != want {
					b.Fatalf("claimed %d (%v), want %d", n, got, want)
				}
				b.ReportAllocs()
				for b.Loop() {
					cb.run(b, sqlClaim, cb.shareArgs()...)
				}
			})
		}
	}
}
