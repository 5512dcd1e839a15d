package pgstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shipevents/shipevents"
)

// deliveryColumns are the columns ListDeliveries scans, for a deliveries
// row d left-joined with its leased queue row q (the join condition says
// lease_token IS NOT NULL): the history says whether a delivery is queued,
// succeeded or dead, and a queued one is in flight exactly while its queue
// row holds a lease.
const deliveryColumns = `d.id, d.tenant_id, d.event_id, d.subscription_id,
	CASE WHEN d.state <> 'queued' THEN d.state WHEN q.delivery_id IS NOT NULL THEN 'in_flight' ELSE 'pending' END,
	d.attempts, d.next_attempt_at, d.created_at, d.updated_at, d.last_error, d.last_status_code, q.lease_expires_at`

// deliveryJoin is the FROM clause deliveryColumns reads.
const deliveryJoin = `deliveries d LEFT JOIN delivery_queue q ON q.delivery_id = d.id AND q.lease_token IS NOT NULL`

func finishDelivery(d *shipevents.Delivery, state string, attempts, code int32, lease *time.Time) {
	d.State = shipevents.DeliveryState(state)
	d.Attempts = int(attempts)
	d.LastStatusCode = int(code)
	d.NextAttemptAt = utc(d.NextAttemptAt)
	d.CreatedAt = utc(d.CreatedAt)
	d.UpdatedAt = utc(d.UpdatedAt)
	d.LeaseExpiresAt = time.Time{}
	if lease != nil {
		d.LeaseExpiresAt = utc(*lease)
	}
}

// sqlClaim leases due deliveries in one statement, touching only the
// queue's rows, taking from each subscription in turn (see
// [shipevents.DeliveryQueue]) and at most the claim's bound of each.
//
//   - subs lists the subscriptions with rows in the queue by skipping
//     through delivery_queue_subscription_due_idx: one index descent per
//     subscription, however many rows it has.
//   - bounds pairs each with what the claim may take of it ($5, or its
//     entry in $6/$7), dropping those it may take nothing of: their rows
//     are never read.
//   - cand reads, without locking, the first due rows (pending, or leased
//     with an expired lease) of each remaining subscription, at most its
//     bound, numbering them: turn is a row's place in its subscription,
//     and the subscription's first due row (head) orders it in each turn.
//   - need keeps the first $2 rows in (turn, head) order and counts how
//     many come from each subscription.
//   - locked then walks each of those subscriptions' rows again, locking
//     that many due rows with SKIP LOCKED: rows another claim has locked
//     meanwhile are stepped over, so concurrent claimers take disjoint sets
//     and never wait on each other. The live leases it steps over are the
//     subscription's deliveries being attempted right now.
//
// The locked rows (found again by ctid: they cannot move while locked) get
// a fresh random token, an update of columns no index holds, so it stays
// on the page, and are returned with their history rows and events (looked
// up by their key, tenant and id), which are only read, in the order taken.
const sqlClaim = `WITH RECURSIVE subs AS (
	(SELECT subscription_id AS id FROM delivery_queue ORDER BY subscription_id LIMIT 1)
	UNION ALL
	SELECT (SELECT q.subscription_id FROM delivery_queue q WHERE q.subscription_id > s.id
		ORDER BY q.subscription_id LIMIT 1)
	FROM subs s WHERE s.id IS NOT NULL
), bounds AS (
	SELECT s.id, least(coalesce(m.n, $5), $2) AS n
	FROM subs s LEFT JOIN unnest($6::text[], $7::int[]) AS m(id, n) ON m.id = s.id
	WHERE s.id IS NOT NULL AND coalesce(m.n, $5) > 0
), cand AS (
	SELECT b.id, row_number() OVER w AS turn,
		first_value(c.next_attempt_at) OVER w AS head_at, first_value(c.seq) OVER w AS head_seq
	FROM bounds b CROSS JOIN LATERAL (
		SELECT q.next_attempt_at, q.seq FROM delivery_queue q
		WHERE q.subscription_id = b.id AND q.next_attempt_at <= $1
			AND (q.lease_expires_at IS NULL OR q.lease_expires_at <= $1)
		ORDER BY q.next_attempt_at, q.seq
		LIMIT b.n
	) c
	WINDOW w AS (PARTITION BY b.id ORDER BY c.next_attempt_at, c.seq)
), need AS (
	SELECT id, head_at, head_seq, count(*) AS n
	FROM (SELECT * FROM cand ORDER BY turn, head_at, head_seq LIMIT $2) t
	GROUP BY id, head_at, head_seq
), locked AS (
	SELECT l.ctid, n.head_at, n.head_seq,
		row_number() OVER (PARTITION BY n.id ORDER BY l.next_attempt_at, l.seq) AS turn
	FROM need n CROSS JOIN LATERAL (
		SELECT q.ctid, q.next_attempt_at, q.seq FROM delivery_queue q
		WHERE q.subscription_id = n.id AND q.next_attempt_at <= $1
			AND (q.lease_expires_at IS NULL OR q.lease_expires_at <= $1)
		ORDER BY q.next_attempt_at, q.seq
		LIMIT n.n
		FOR UPDATE SKIP LOCKED
	) l
), claimed AS (
	UPDATE delivery_queue q
	SET lease_token = gen_random_uuid()::text, lease_owner = $4, lease_expires_at = $3
	FROM locked WHERE q.ctid = locked.ctid
	RETURNING q.delivery_id, q.lease_token, q.next_attempt_at, locked.turn, locked.head_at, locked.head_seq
)
SELECT d.id, d.tenant_id, d.event_id, d.subscription_id, d.attempts, c.next_attempt_at, d.created_at,
	d.last_error, d.last_status_code, c.lease_token, e.body
FROM claimed c JOIN deliveries d ON d.id = c.delivery_id
	JOIN events e ON e.tenant_id = d.tenant_id AND e.id = d.event_id
ORDER BY c.turn, c.head_at, c.head_seq`

// sqlClaimPlan pins the claim's plan to ordered scans of the claim index,
// each stopping after the rows it needs, and to lookups by key for the
// claimed rows' history and events. Without it a planner whose statistics
// predate a burst of new deliveries (they always lag on a queue) picks a
// bitmap scan that reads and sorts the whole due backlog on every claim,
// and one that cannot size the subscription walk (a recursive query)
// hashes every delivery and event to join the few claimed rows. JIT is
// off: the walk's estimated cost (the planner cannot size it) passes the
// JIT threshold, and compiling the statement took a hundred times longer
// than running it.
const sqlClaimPlan = `SELECT set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true),
	set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true), set_config('jit', 'off', true)`

// sqlByIDPlan makes the statements that join a batch of input rows (an
// unnest of arrays, which the planner sizes at 10 rows for a generic plan)
// with deliveries look each delivery up by primary key, whatever the
// statistics say, instead of hashing every in-flight delivery.
const sqlByIDPlan = `SELECT set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true),
	set_config('enable_bitmapscan', 'off', true), set_config('enable_seqscan', 'off', true)`

// ClaimDeliveries implements [shipevents.DeliveryQueue].
func (s *Store) ClaimDeliveries(ctx context.Context, req shipevents.ClaimRequest) ([]shipevents.Claim, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if req.Limit <= 0 {
		return nil, nil
	}
	expires := req.Now.Add(req.Lease)
	bound := req.MaxPerSubscription
	if bound <= 0 {
		bound = req.Limit
	}
	ids := make([]string, 0, len(req.SubscriptionMax))
	maxes := make([]int32, 0, len(req.SubscriptionMax))
	for id, n := range req.SubscriptionMax {
		ids = append(ids, id)
		maxes = append(maxes, int32(min(max(n, 0), req.Limit)))
	}
	// One round trip, one implicit transaction: the planner settings apply
	// to the claim statement only.
	b := &pgx.Batch{}
	b.Queue(sqlClaimPlan)
	b.Queue(sqlClaim, req.Now, req.Limit, expires, req.Owner, bound, ids, maxes)
	br := s.pool.SendBatch(ctx, b)
	out, err := readClaims(br, req, expires)
	// Close reads the end of the implicit transaction: claims count only
	// once it committed.
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, wrap("claim deliveries", err)
	}
	return out, nil
}

func readClaims(br pgx.BatchResults, req shipevents.ClaimRequest, expires time.Time) ([]shipevents.Claim, error) {
	if _, err := br.Exec(); err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []shipevents.Claim
	for rows.Next() {
		var c shipevents.Claim
		d := &c.Delivery
		var attempts, code int32
		var body []byte
		if err := rows.Scan(&d.ID, &d.TenantID, &d.EventID, &d.SubscriptionID, &attempts, &d.NextAttemptAt, &d.CreatedAt,
			&d.LastError, &code, &c.Lease.Token, &body); err != nil {
			return nil, err
		}
		finishDelivery(d, string(shipevents.DeliveryInFlight), attempts, code, nil)
		// The lease as the caller asked for it, to the nanosecond.
		d.LeaseExpiresAt = expires
		d.UpdatedAt = req.Now
		if err := c.Event.UnmarshalJSON(body); err != nil { // without encoding/json's extra validation pass
			return nil, fmt.Errorf("decoding event %s: %w", d.EventKey(), err)
		}
		c.Lease.DeliveryID = d.ID
		c.Lease.ExpiresAt = expires
		out = append(out, c)
	}
	rows.Close()
	return out, rows.Err()
}

// ExtendLeases implements [shipevents.DeliveryQueue].
func (s *Store) ExtendLeases(ctx context.Context, leases []shipevents.Lease, until time.Time) ([]error, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	errs := make([]error, len(leases))
	if len(leases) == 0 {
		return errs, nil
	}
	ids := make([]string, len(leases))
	tokens := make([]string, len(leases))
	for i, l := range leases {
		ids[i], tokens[i] = l.DeliveryID, l.Token
	}
	b := &pgx.Batch{}
	b.Queue(sqlByIDPlan)
	b.Queue(`UPDATE delivery_queue q SET lease_expires_at = $3
		FROM unnest($1::text[], $2::text[]) AS l(id, token)
		WHERE q.delivery_id = l.id AND q.lease_token = l.token
		RETURNING q.delivery_id, q.lease_token`, ids, tokens, until)
	br := s.pool.SendBatch(ctx, b)
	held := map[[2]string]bool{}
	_, err := br.Exec()
	if err == nil {
		rows, _ := br.Query()
		var id, token string
		_, err = pgx.ForEachRow(rows, []any{&id, &token}, func() error { held[[2]string{id, token}] = true; return nil })
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, wrap("extend leases", err)
	}
	var lostIdx []int
	for i := range leases {
		if !held[[2]string{ids[i], tokens[i]}] {
			lostIdx = append(lostIdx, i)
		}
	}
	if err := s.fillLost(ctx, "extend leases", ids, lostIdx, errs); err != nil {
		return nil, err
	}
	return errs, nil
}

// fillLost sets errs[i] for each i in lost: an error wrapping
// ErrLeaseLost when the delivery exists, ErrNotFound otherwise.
func (s *Store) fillLost(ctx context.Context, op string, ids []string, lost []int, errs []error) error {
	if len(lost) == 0 {
		return nil
	}
	sub := make([]string, len(lost))
	for j, i := range lost {
		sub[j] = ids[i]
	}
	rows, _ := s.pool.Query(ctx, `SELECT id FROM deliveries WHERE id = ANY($1::text[])`, sub)
	exists := map[string]bool{}
	var id string
	if _, err := pgx.ForEachRow(rows, []any{&id}, func() error { exists[id] = true; return nil }); err != nil {
		return wrap(op, err)
	}
	for _, i := range lost {
		if exists[ids[i]] {
			errs[i] = fmt.Errorf("pgstore: delivery %q: %w", ids[i], shipevents.ErrLeaseLost)
		} else {
			errs[i] = fmt.Errorf("pgstore: delivery %q: %w", ids[i], shipevents.ErrNotFound)
		}
	}
	return nil
}

// sqlRecord applies a batch of attempt outcomes in one statement (so one
// implicit transaction). The lease is checked on the queue row, which is
// deleted when the delivery is finished and otherwise made pending again
// at its next attempt; only the outcomes whose token still matched go on
// to the history row (state, counters, last error: no indexed column, so
// a HOT update) and append their attempts. The matched input positions
// are returned; the others lost their lease. Each step passes the input
// columns along in its RETURNING list, so that no step joins two row sets
// of the batch with each other.
const sqlRecord = `WITH input AS (
	SELECT * FROM unnest($1::int[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::int[],
		$7::timestamptz[], $8::bigint[], $9::int[], $10::text[], $11::bytea[])
		AS i(ord, id, token, outcome, next_at, number, started_at, duration_ns, status_code, error, response)
), done AS (
	DELETE FROM delivery_queue q USING input i
	WHERE q.delivery_id = i.id AND q.lease_token = i.token AND i.outcome IN ('succeeded', 'dead')
	RETURNING i.*
), again AS (
	UPDATE delivery_queue q
	SET next_attempt_at = i.next_at, lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL
	FROM input i
	WHERE q.delivery_id = i.id AND q.lease_token = i.token AND i.outcome IN ('retry', 'released')
	RETURNING i.*
), held AS (
	SELECT * FROM done UNION ALL SELECT * FROM again
), upd AS (
	UPDATE deliveries d SET
		state = CASE i.outcome WHEN 'succeeded' THEN 'succeeded' WHEN 'dead' THEN 'dead' ELSE 'queued' END,
		dead_at = CASE WHEN i.outcome = 'dead' THEN $12::timestamptz END,
		next_attempt_at = CASE WHEN i.outcome IN ('retry', 'released') THEN i.next_at ELSE d.next_attempt_at END,
		attempts = d.attempts + CASE WHEN i.outcome = 'released' THEN 0 ELSE 1 END,
		last_error = CASE WHEN i.outcome = 'released' THEN d.last_error ELSE i.error END,
		last_status_code = CASE WHEN i.outcome = 'released' THEN d.last_status_code ELSE i.status_code END,
		updated_at = $12
	FROM held i
	WHERE d.id = i.id
	RETURNING i.*, d.attempts
), ins AS (
	INSERT INTO attempts (delivery_id, number, started_at, duration_ns, status_code, error, response)
	SELECT id, CASE WHEN number > 0 THEN number ELSE attempts END, started_at, duration_ns,
		status_code, error, response
	FROM upd
	WHERE outcome <> 'released'
	ORDER BY ord
)
SELECT ord FROM upd`

// RecordAttempts implements [shipevents.DeliveryQueue]: the whole batch
// is one statement. An expired lease that nobody claimed again is still
// honoured; only a changed token (a new claim, a requeue) or a state other
// than in flight fences a record out.
func (s *Store) RecordAttempts(ctx context.Context, records []shipevents.AttemptRecord) ([]error, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	errs := make([]error, len(records))
	if len(records) == 0 {
		return errs, nil
	}
	n := len(records)
	var (
		ords, numbers, codes    = make([]int32, 0, n), make([]int32, 0, n), make([]int32, 0, n)
		ids, tokens, outs, msgs = make([]string, 0, n), make([]string, 0, n), make([]string, 0, n), make([]string, 0, n)
		nexts, starts           = make([]time.Time, 0, n), make([]time.Time, 0, n)
		durations               = make([]int64, 0, n)
		responses               = make([][]byte, 0, n)
		seen                    = make(map[string]bool, n)
		allIDs                  = make([]string, n)
		lost                    []int
		sent                    = make([]bool, n)
	)
	for i := range records {
		r := &records[i]
		allIDs[i] = r.Lease.DeliveryID
		switch r.Outcome {
		case shipevents.OutcomeSucceeded, shipevents.OutcomeRetry, shipevents.OutcomeDead, shipevents.OutcomeReleased:
		default:
			errs[i] = fmt.Errorf("pgstore: delivery %q: unknown outcome %q", r.Lease.DeliveryID, r.Outcome)
			continue
		}
		if seen[r.Lease.DeliveryID] {
			// One lease can be spent once: a second record for the same
			// delivery in one batch is fenced out like a late one.
			lost = append(lost, i)
			continue
		}
		seen[r.Lease.DeliveryID] = true
		sent[i] = true
		a := &r.Attempt
		resp := a.Response
		if len(resp) > shipevents.MaxStoredResponse {
			resp = resp[:shipevents.MaxStoredResponse]
		}
		ords = append(ords, int32(i))
		ids = append(ids, r.Lease.DeliveryID)
		tokens = append(tokens, r.Lease.Token)
		outs = append(outs, string(r.Outcome))
		nexts = append(nexts, r.NextAttemptAt)
		numbers = append(numbers, int32(a.Number))
		starts = append(starts, a.StartedAt)
		durations = append(durations, int64(a.Duration))
		codes = append(codes, int32(a.StatusCode))
		msgs = append(msgs, cleanText(a.Error))
		responses = append(responses, []byte(resp))
	}
	matched := make([]bool, n)
	if len(ids) > 0 {
		b := &pgx.Batch{}
		b.Queue(sqlByIDPlan)
		b.Queue(sqlRecord, ords, ids, tokens, outs, nexts, numbers, starts, durations,
			codes, msgs, responses, s.now().UTC())
		br := s.pool.SendBatch(ctx, b)
		_, err := br.Exec()
		if err == nil {
			rows, _ := br.Query()
			var ord int32
			_, err = pgx.ForEachRow(rows, []any{&ord}, func() error { matched[ord] = true; return nil })
		}
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, wrap("record attempts", err)
		}
	}
	for i := range records {
		if sent[i] && !matched[i] {
			lost = append(lost, i)
		}
	}
	if err := s.fillLost(ctx, "record attempts", allIDs, lost, errs); err != nil {
		return nil, err
	}
	return errs, nil
}

// ListDeliveries implements [shipevents.DeliveryLog]: oldest first (or
// newest first), with the page (one row more than asked, which says
// whether more follow), the count up to one more than
// [shipevents.MaxExactCount] and whether matches precede the cursor read
// by one statement; past the bound the count is the planner's estimate.
func (s *Store) ListDeliveries(ctx context.Context, f shipevents.DeliveryFilter) (shipevents.Page[shipevents.Delivery], error) {
	var page shipevents.Page[shipevents.Delivery]
	if err := s.check(ctx); err != nil {
		return page, err
	}
	limit := shipevents.PageLimit(f.Limit)
	after := int64(-1)
	if f.After != "" {
		var err error
		if after, err = shipevents.DecodeCursor(f.After); err != nil {
			return page, err
		}
	}
	var a sqlArgs
	conds := []string{"true"}
	if f.ID != "" {
		conds = append(conds, "d.id = "+a.add(f.ID))
	}
	// TenantID and EventID together name an event: EventID alone is the
	// event without a tenant (deliveries_event_key_idx serves both, and
	// TenantID alone as its prefix).
	switch {
	case f.EventID != "":
		conds = append(conds, "d.tenant_id = "+a.add(f.TenantID)+" AND d.event_id = "+a.add(f.EventID))
	case f.TenantID != "":
		conds = append(conds, "d.tenant_id = "+a.add(f.TenantID))
	}
	if f.SubscriptionID != "" {
		conds = append(conds, "d.subscription_id = "+a.add(f.SubscriptionID))
	}
	if f.State != "" {
		conds = append(conds, stateCond(f.State))
	}
	where := strings.Join(conds, " AND ")
	whereArgs := len(a)
	dir, past, passed := "", ">", "<="
	if f.NewestFirst {
		dir, past, passed = " DESC", "<", ">="
	}
	window, before := where, "false"
	if after >= 0 {
		pAfter := a.add(after)
		window += " AND d.seq " + past + " " + pAfter
		// A scalar subquery, not EXISTS: the planner drops the order of an
		// EXISTS, and with it the index walk from the cursor.
		before = "coalesce((SELECT true FROM deliveries d WHERE " + where + " AND d.seq " + passed + " " + pAfter + " ORDER BY d.seq" + dir + " LIMIT 1), false)"
	}
	q := `WITH p AS (
		SELECT d.seq FROM deliveries d WHERE ` + window + `
		ORDER BY d.seq` + dir + ` LIMIT ` + a.add(limit+1) + `)
	SELECT (SELECT count(*) FROM (SELECT FROM deliveries d WHERE ` + where + ` ORDER BY d.seq LIMIT ` + a.add(shipevents.MaxExactCount+1) + `) AS c),
		` + before + `, x.*
	FROM (SELECT 1) AS one LEFT JOIN (
		SELECT d.seq, ` + deliveryColumns + ` FROM p JOIN ` + deliveryJoin + ` ON d.seq = p.seq) AS x ON true
	ORDER BY x.seq` + dir
	rows, err := s.pool.Query(ctx, q, a...)
	if err != nil {
		return page, wrap("list deliveries", err)
	}
	defer rows.Close()
	var total int64
	var lastSeq int64
	for rows.Next() {
		var seq *int64
		var id, tenantID, eventID, subID, state, lastErr *string
		var attempts, code *int32
		var next, created, updated, lease *time.Time
		if err := rows.Scan(&total, &page.PageInfo.HasPreviousPage, &seq, &id, &tenantID, &eventID, &subID, &state, &attempts, &next, &created,
			&updated, &lastErr, &code, &lease); err != nil {
			return page, wrap("list deliveries", err)
		}
		if seq == nil {
			continue
		}
		if len(page.Items) == limit {
			page.PageInfo.HasNextPage = true
			continue
		}
		d := shipevents.Delivery{ID: *id, TenantID: *tenantID, EventID: *eventID, SubscriptionID: *subID, NextAttemptAt: *next,
			CreatedAt: *created, UpdatedAt: *updated, LastError: *lastErr}
		finishDelivery(&d, *state, *attempts, *code, lease)
		if len(page.Items) == 0 {
			page.PageInfo.StartCursor = shipevents.EncodeCursor(*seq)
		}
		lastSeq = *seq
		page.Items = append(page.Items, d)
	}
	if err := rows.Err(); err != nil {
		return page, wrap("list deliveries", err)
	}
	page.PageInfo.Count = int(total)
	if len(page.Items) > 0 {
		page.PageInfo.EndCursor = shipevents.EncodeCursor(lastSeq)
	}
	if total > shipevents.MaxExactCount {
		n, err := s.estimate(ctx, "SELECT 1 FROM deliveries d WHERE "+where, a[:whereArgs])
		if err != nil {
			return page, wrap("list deliveries: estimating the count", err)
		}
		page.PageInfo.Count, page.PageInfo.CountEstimated = int(max(n, total)), true
	}
	return page, nil
}

// stateCond renders a delivery state filter on deliveries d. The history
// row says queued, succeeded or dead; a queued delivery is in flight while
// its queue row holds a lease and pending otherwise. Dead letters are
// found by dead_at, the predicate of the partial index deliveries_dead_idx.
func stateCond(state shipevents.DeliveryState) string {
	switch state {
	case shipevents.DeliveryPending:
		return `d.state = 'queued' AND d.id IN (SELECT delivery_id FROM delivery_queue WHERE lease_token IS NULL)`
	case shipevents.DeliveryInFlight:
		return `d.state = 'queued' AND d.id IN (SELECT delivery_id FROM delivery_queue WHERE lease_token IS NOT NULL)`
	case shipevents.DeliverySucceeded:
		return `d.state = 'succeeded'`
	case shipevents.DeliveryDead:
		// dead_at is set exactly when the state is dead (a check
		// constraint), so the partial index alone answers: no heap read.
		return `d.dead_at IS NOT NULL`
	}
	return "false" // no delivery is in a state the library does not name
}

// ListAttempts implements [shipevents.DeliveryLog].
func (s *Store) ListAttempts(ctx context.Context, deliveryID string) ([]shipevents.Attempt, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT a.number, a.started_at, a.duration_ns, a.status_code, a.error, a.response
		FROM deliveries d LEFT JOIN attempts a ON a.delivery_id = d.id
		WHERE d.id = $1 ORDER BY a.id`, deliveryID)
	if err != nil {
		return nil, wrap(fmt.Sprintf("delivery %q: attempts", deliveryID), err)
	}
	defer rows.Close()
	found := false
	var out []shipevents.Attempt
	for rows.Next() {
		found = true
		var number, code *int32
		var started *time.Time
		var dur *int64
		var msg *string
		var resp []byte
		if err := rows.Scan(&number, &started, &dur, &code, &msg, &resp); err != nil {
			return nil, wrap(fmt.Sprintf("delivery %q: attempts", deliveryID), err)
		}
		if number == nil {
			continue // the delivery has no attempts
		}
		out = append(out, shipevents.Attempt{DeliveryID: deliveryID, Number: int(*number), StartedAt: utc(*started),
			Duration: time.Duration(*dur), StatusCode: int(*code), Error: *msg, Response: string(resp)})
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(fmt.Sprintf("delivery %q: attempts", deliveryID), err)
	}
	if !found {
		return nil, fmt.Errorf("pgstore: delivery %q: %w", deliveryID, shipevents.ErrNotFound)
	}
	return out, nil
}

// RequeueDeliveries implements [shipevents.DeliveryLog]. The queue rows
// are written first (inserted for finished deliveries, reset for live
// ones: clearing the token revokes any lease), then the history rows, in
// one transaction; RecordAttempts takes its row locks in the same order,
// queue then history. The history rows are read for the queue rows with a
// key-share lock (in id order), which RecordAttempts' updates do not wait
// for but a Purge's delete does: a delivery being purged is either kept
// (the requeue came first) or not found (the purge came first), never
// given a queue row without its history row. A transaction aborted by a
// deadlock with a concurrent multi-row call is retried.
func (s *Store) RequeueDeliveries(ctx context.Context, ids []string, at time.Time) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	if len(ids) == 0 {
		return 0, nil
	}
	for try := 0; ; try++ {
		n, err := s.requeueTx(ctx, ids, at)
		if err == nil {
			return n, nil
		}
		if try >= s.appendRetries || !retryable(err) || ctx.Err() != nil {
			return 0, wrap("requeue deliveries", err)
		}
	}
}

func (s *Store) requeueTx(ctx context.Context, ids []string, at time.Time) (int, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO delivery_queue (delivery_id, subscription_id, next_attempt_at, seq)
		SELECT id, subscription_id, $2, seq FROM deliveries WHERE id = ANY($1::text[]) ORDER BY id FOR KEY SHARE
		ON CONFLICT (delivery_id) DO UPDATE SET next_attempt_at = excluded.next_attempt_at,
			lease_token = NULL, lease_owner = NULL, lease_expires_at = NULL`, ids, at)
	// Counted per input id, as given (an id twice counts twice).
	b.Queue(`WITH u AS (
		UPDATE deliveries SET state = 'queued', dead_at = NULL, next_attempt_at = $2, updated_at = $3
		WHERE id = ANY($1::text[])
		RETURNING id
	)
	SELECT count(*) FROM unnest($1::text[]) AS i(id) JOIN u ON u.id = i.id`, ids, at, s.now().UTC())
	br := tx.SendBatch(ctx, b)
	var n int64
	_, err = br.Exec()
	if err == nil {
		err = br.QueryRow().Scan(&n)
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, err
	}
	return int(n), nil
}
