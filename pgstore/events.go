package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shipevents/shipevents"
)

// keySep joins the parts of a shipment key into one lock key; it cannot
// appear in ordinary identifiers.
const keySep = "\x1f"

// appendPlan is an AppendEvents call prepared outside the transaction.
type appendPlan struct {
	records []shipevents.AppendRecord
	first   []bool // first record with its event key in this call
	// Event columns, for the records with first set, in record order.
	ids, types, refs, tenants, carriers, tracking, correlations []string
	groups, statuses, transactions                              []string
	testModes                                                   []bool
	metadata                                                    []*string // JSON objects, nil for none
	bodies                                                      []string
	occurred                                                    []time.Time
	// Shipment keys of status events (deduplicated), for the locks and the
	// state lookup.
	lockKeys                  []string
	keyTenant, keyCarr, keyTN []string
}

// AppendEvents implements [shipevents.EventStore]. A call is one
// transaction: advisory locks on the shipments it touches (taken in a
// fixed order, so concurrent calls cannot deadlock on them), the events
// inserted with ON CONFLICT (tenant_id, id) DO NOTHING (idempotency by
// event key), the shipments' current states read and the ordering rule
// applied in Go
// ([shipevents.UpdateShipment]), then the late
// marks, the new states and the deliveries written in one pipelined batch.
// A transaction aborted by a deadlock (two calls inserting the same new
// event keys in opposite orders) is retried. [Store.AppendEventsTx] runs
// the same statements in a transaction of the caller's.
func (s *Store) AppendEvents(ctx context.Context, records []shipevents.AppendRecord) ([]shipevents.AppendResult, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if len(records) == 0 {
		return []shipevents.AppendResult{}, nil
	}
	p, err := planAppend(records)
	if err != nil {
		return nil, err
	}
	for try := 0; ; try++ {
		results, err := s.appendTx(ctx, p)
		if err == nil {
			return results, nil
		}
		if try >= s.appendRetries || !retryable(err) || ctx.Err() != nil {
			return nil, wrap("append events", err)
		}
	}
}

func planAppend(records []shipevents.AppendRecord) (*appendPlan, error) {
	p := &appendPlan{records: records, first: make([]bool, len(records))}
	seen := make(map[shipevents.EventKey]bool, len(records))
	keys := map[string]bool{}
	for i := range records {
		e := &records[i].Event
		if seen[e.Key()] {
			continue
		}
		seen[e.Key()] = true
		p.first[i] = true
		body, err := json.Marshal(e)
		if err != nil {
			// No retry changes what the event holds.
			return nil, shipevents.Permanent(fmt.Errorf("pgstore: append events: encoding event %s: %w", e.Key(), err))
		}
		p.ids = append(p.ids, e.ID)
		p.bodies = append(p.bodies, string(body))
		p.types = append(p.types, e.Type)
		p.refs = append(p.refs, e.Ref)
		p.tenants = append(p.tenants, e.TenantID)
		p.carriers = append(p.carriers, e.Carrier)
		p.tracking = append(p.tracking, e.TrackingNumber)
		p.correlations = append(p.correlations, e.CorrelationID)
		p.occurred = append(p.occurred, e.OccurredAt)
		p.groups = append(p.groups, e.EventGroup)
		p.statuses = append(p.statuses, string(e.Status))
		p.transactions = append(p.transactions, e.TransactionID)
		p.testModes = append(p.testModes, e.TestMode)
		var meta *string
		if len(e.Metadata) > 0 {
			b, err := json.Marshal(e.Metadata)
			if err != nil {
				return nil, shipevents.Permanent(fmt.Errorf("pgstore: append events: encoding the metadata of event %s: %w", e.Key(), err))
			}
			m := string(b)
			meta = &m
		}
		p.metadata = append(p.metadata, meta)
		if k, ok := e.StatusKey(); ok {
			lk := lockKey(k)
			if !keys[lk] {
				keys[lk] = true
				p.lockKeys = append(p.lockKeys, lk)
				p.keyTenant = append(p.keyTenant, k.TenantID)
				p.keyCarr = append(p.keyCarr, k.Carrier)
				p.keyTN = append(p.keyTN, k.TrackingNumber)
			}
		}
	}
	return p, nil
}

func lockKey(k shipevents.ShipmentKey) string {
	return k.TenantID + keySep + k.Carrier + keySep + k.TrackingNumber
}

const (
	// The locks are taken in hash order, one statement, before anything
	// else is written. The schema name is part of the key so that stores
	// in different schemas of one database do not contend.
	sqlLockShipments = `SELECT count(pg_advisory_xact_lock(h)) FROM (
		SELECT DISTINCT hashtextextended(current_schema() || '/' || k, 0) AS h
		FROM unnest($1::text[]) AS k ORDER BY 1) AS locks`

	sqlInsertEvents = `INSERT INTO events (id, body, type, ref, tenant_id, carrier, tracking_number,
		correlation_id, occurred_at, stored_at, event_group, status, transaction_id, test_mode, metadata)
	SELECT id, body, type, ref, tenant_id, carrier, tracking_number, correlation_id, occurred_at, $10,
		event_group, status, transaction_id, test_mode, metadata::jsonb
	FROM unnest($1::text[], $2::json[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
		$8::text[], $9::timestamptz[], $11::text[], $12::text[], $13::text[], $14::bool[], $15::text[]) WITH ORDINALITY
		AS x(id, body, type, ref, tenant_id, carrier, tracking_number, correlation_id, occurred_at,
			event_group, status, transaction_id, test_mode, metadata, ord)
	ORDER BY ord
	ON CONFLICT (tenant_id, id) DO NOTHING
	RETURNING tenant_id, id`

	sqlShipmentStates = `SELECT s.tenant_id, s.carrier, s.tracking_number, s.status, s.event_name, s.event_id,
		s.occurred_at, s.occurred_at_nanos, s.updated_at
	FROM shipment_state s
	JOIN unnest($1::text[], $2::text[], $3::text[]) AS k(tenant_id, carrier, tracking_number)
		ON s.tenant_id = k.tenant_id AND s.carrier = k.carrier AND s.tracking_number = k.tracking_number`

	// Looked up by primary key (the transaction runs under sqlByIDPlan).
	sqlMarkLate = `UPDATE events e SET late = true
	FROM unnest($1::text[], $2::text[]) AS x(tenant_id, id)
	WHERE e.tenant_id = x.tenant_id AND e.id = x.id`

	// The shipments are locked, so a state row read as missing cannot
	// appear meanwhile: new states are inserts, changed ones plain updates
	// (HOT: the key does not change). Except in a transaction whose
	// snapshot predates the lock (REPEATABLE READ or SERIALIZABLE, as a
	// host's transaction in AppendEventsTx may be): there a row committed
	// after the snapshot makes the update, and the insert through its ON
	// CONFLICT clause, fail with a serialization failure rather than
	// with a unique violation, which would read as permanent.
	sqlInsertStates = `INSERT INTO shipment_state (tenant_id, carrier, tracking_number, status, event_name,
		event_id, occurred_at, occurred_at_nanos, updated_at)
	SELECT tenant_id, carrier, tracking_number, status, event_name, event_id, occurred_at, nanos, $9
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
		$8::int[]) AS x(tenant_id, carrier, tracking_number, status, event_name, event_id, occurred_at, nanos)
	ON CONFLICT DO NOTHING`

	sqlUpdateStates = `UPDATE shipment_state s SET status = x.status, event_name = x.event_name,
		event_id = x.event_id, occurred_at = x.occurred_at, occurred_at_nanos = x.nanos, updated_at = $9
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[],
		$8::int[]) AS x(tenant_id, carrier, tracking_number, status, event_name, event_id, occurred_at, nanos)
	WHERE s.tenant_id = x.tenant_id AND s.carrier = x.carrier AND s.tracking_number = x.tracking_number`

	// The deliveries go into the history as queued and into the queue as
	// pending, in one statement; a delivery already stored (its id is
	// deterministic) gets neither. Each names its event by tenant and id.
	sqlInsertDeliveries = `WITH d AS (
		INSERT INTO deliveries (id, tenant_id, event_id, subscription_id, state, next_attempt_at, created_at, updated_at)
		SELECT id, tenant_id, event_id, subscription_id, 'queued', next_attempt_at, $6, $6
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) WITH ORDINALITY
			AS x(id, tenant_id, event_id, subscription_id, next_attempt_at, ord)
		ORDER BY ord
		ON CONFLICT (id) DO NOTHING
		RETURNING id, tenant_id, event_id, subscription_id, next_attempt_at, seq
	), q AS (
		INSERT INTO delivery_queue (delivery_id, subscription_id, next_attempt_at, seq)
		SELECT id, subscription_id, next_attempt_at, seq FROM d
	)
	SELECT tenant_id, event_id FROM d`
)

// appendTx runs one attempt of an AppendEvents transaction.
func (s *Store) appendTx(ctx context.Context, p *appendPlan) ([]shipevents.AppendResult, error) {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	results, err := s.appendIn(ctx, tx, p, nil)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, err
	}
	return results, nil
}

// appendIn writes an append's rows in tx, in two pipelined round trips,
// and commits nothing: appendTx runs it in a transaction of its own, and
// AppendEventsTx in the caller's, with h's closing statements in the
// second round trip.
func (s *Store) appendIn(ctx context.Context, tx pgx.Tx, p *appendPlan, h *hostScope) ([]shipevents.AppendResult, error) {
	now := s.now().UTC()

	// Round trip 1: locks, events, current states.
	b := &pgx.Batch{}
	b.Queue(sqlByIDPlan)
	if len(p.lockKeys) > 0 {
		b.Queue(sqlLockShipments, p.lockKeys)
	}
	b.Queue(sqlInsertEvents, p.ids, p.bodies, p.types, p.refs, p.tenants, p.carriers, p.tracking,
		p.correlations, p.occurred, now, p.groups, p.statuses, p.transactions, p.testModes, p.metadata)
	if len(p.lockKeys) > 0 {
		b.Queue(sqlShipmentStates, p.keyTenant, p.keyCarr, p.keyTN)
	}
	br := tx.SendBatch(ctx, b)
	if _, err := br.Exec(); err != nil {
		br.Close()
		return nil, err
	}
	if len(p.lockKeys) > 0 {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return nil, fmt.Errorf("locking shipments: %w", err)
		}
	}
	inserted := make(map[shipevents.EventKey]bool, len(p.ids))
	rows, _ := br.Query()
	var k shipevents.EventKey
	_, err := pgx.ForEachRow(rows, []any{&k.TenantID, &k.ID}, func() error { inserted[k] = true; return nil })
	if err != nil {
		br.Close()
		return nil, fmt.Errorf("inserting events: %w", err)
	}
	states := map[string]shipevents.ShipmentState{}
	existing := map[string]bool{} // has a state row
	if len(p.lockKeys) > 0 {
		rows, _ := br.Query()
		var st shipevents.ShipmentState
		var status string
		var nanos int32
		_, err = pgx.ForEachRow(rows, []any{&st.Key.TenantID, &st.Key.Carrier, &st.Key.TrackingNumber, &status,
			&st.EventName, &st.EventID, &st.OccurredAt, &nanos, &st.UpdatedAt}, func() error {
			st.Status = shipevents.Status(status)
			st.OccurredAt = addNanos(st.OccurredAt, nanos)
			st.UpdatedAt = utc(st.UpdatedAt)
			states[lockKey(st.Key)] = st
			existing[lockKey(st.Key)] = true
			return nil
		})
		if err != nil {
			br.Close()
			return nil, fmt.Errorf("reading shipment states: %w", err)
		}
	}
	if err := br.Close(); err != nil {
		return nil, err
	}

	// The ordering rule, in record order, on the states read under lock.
	results := make([]shipevents.AppendResult, len(p.records))
	var lateTenants, lateIDs []string
	changed := map[string]bool{}
	var dIDs, dTenants, dEvents, dSubs []string
	var dNext []time.Time
	for i := range p.records {
		r := &p.records[i]
		e := &r.Event
		results[i].TenantID, results[i].EventID = e.TenantID, e.ID
		if !p.first[i] || !inserted[e.Key()] {
			results[i].Outcome = shipevents.AppendDuplicate
			continue
		}
		var u shipevents.ShipmentUpdate
		if k, ok := e.StatusKey(); ok {
			lk := lockKey(k)
			cur, exists := states[lk] // as read, or as set by an earlier record
			u = shipevents.UpdateShipment(cur, exists, e, now)
			switch {
			case u.Changed:
				states[lk] = u.State
				changed[lk] = true
			case u.Late:
				lateTenants = append(lateTenants, e.TenantID)
				lateIDs = append(lateIDs, e.ID)
			}
		}
		results[i].Outcome = u.Outcome()
		for _, nd := range r.Deliveries {
			if !u.Creates(nd) {
				continue
			}
			dIDs = append(dIDs, nd.ID)
			dTenants = append(dTenants, e.TenantID)
			dEvents = append(dEvents, e.ID)
			dSubs = append(dSubs, nd.SubscriptionID)
			dNext = append(dNext, nd.NextAttemptAt)
		}
	}

	// Round trip 2: late marks, shipment states, deliveries.
	b = &pgx.Batch{}
	if len(lateIDs) > 0 {
		b.Queue(sqlMarkLate, lateTenants, lateIDs)
	}
	stateWrites := 0
	for _, existed := range []bool{false, true} {
		var tn, ca, tr, stt, en, eid []string
		var occ []time.Time
		var nanos []int32
		for _, lk := range p.lockKeys { // a stable order
			if !changed[lk] || existing[lk] != existed {
				continue
			}
			st := states[lk]
			tn = append(tn, st.Key.TenantID)
			ca = append(ca, st.Key.Carrier)
			tr = append(tr, st.Key.TrackingNumber)
			stt = append(stt, string(st.Status))
			en = append(en, st.EventName)
			eid = append(eid, st.EventID)
			occ = append(occ, st.OccurredAt)
			nanos = append(nanos, int32(st.OccurredAt.Nanosecond()%1000))
		}
		if len(tn) == 0 {
			continue
		}
		q := sqlInsertStates
		if existed {
			q = sqlUpdateStates
		}
		b.Queue(q, tn, ca, tr, stt, en, eid, occ, nanos, now)
		stateWrites++
	}
	if len(dIDs) > 0 {
		b.Queue(sqlInsertDeliveries, dIDs, dTenants, dEvents, dSubs, dNext, now)
	}
	h.queueClose(b)
	if b.Len() > 0 {
		br = tx.SendBatch(ctx, b)
		if len(lateIDs) > 0 {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return nil, fmt.Errorf("marking late events: %w", err)
			}
		}
		for range stateWrites {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return nil, fmt.Errorf("writing shipment states: %w", err)
			}
		}
		if len(dIDs) > 0 {
			created := map[shipevents.EventKey]int{}
			rows, _ := br.Query()
			var k shipevents.EventKey
			if _, err := pgx.ForEachRow(rows, []any{&k.TenantID, &k.ID}, func() error { created[k]++; return nil }); err != nil {
				br.Close()
				return nil, fmt.Errorf("inserting deliveries: %w", err)
			}
			for i := range results {
				if p.first[i] && results[i].Outcome != shipevents.AppendDuplicate {
					results[i].Deliveries = created[p.records[i].Event.Key()]
				}
			}
		}
		if err := h.readClose(br); err != nil {
			br.Close()
			return nil, err
		}
		if err := br.Close(); err != nil {
			return nil, err
		}
	}
	return results, nil
}

// addNanos restores the sub-microsecond part of an instant read from a
// timestamptz, and returns it in UTC.
func addNanos(t time.Time, nanos int32) time.Time {
	return t.UTC().Add(time.Duration(nanos))
}

// eventColumns are the columns decodeStored reads, for an events row e.
const eventColumns = `e.seq, e.body, e.late, e.stored_at,
	(SELECT count(*) FROM deliveries d WHERE d.tenant_id = e.tenant_id AND d.event_id = e.id AND d.state = 'queued')`

func scanStored(row pgx.Row) (shipevents.StoredEvent, error) {
	var se shipevents.StoredEvent
	var body []byte
	var pending int64
	if err := row.Scan(&se.Seq, &body, &se.Late, &se.StoredAt, &pending); err != nil {
		return se, err
	}
	if err := se.Event.UnmarshalJSON(body); err != nil { // without encoding/json's extra validation pass
		return se, fmt.Errorf("decoding event body: %w", err)
	}
	se.StoredAt = utc(se.StoredAt)
	se.PendingDeliveries = int(pending)
	return se, nil
}

// GetEvent implements [shipevents.EventStore].
func (s *Store) GetEvent(ctx context.Context, key shipevents.EventKey) (shipevents.StoredEvent, error) {
	if err := s.check(ctx); err != nil {
		return shipevents.StoredEvent{}, err
	}
	se, err := scanStored(s.pool.QueryRow(ctx, `SELECT `+eventColumns+` FROM events e WHERE e.tenant_id = $1 AND e.id = $2`,
		key.TenantID, key.ID))
	if err != nil {
		return shipevents.StoredEvent{}, wrap("event "+key.String(), err)
	}
	return se, nil
}

// ListEvents implements [shipevents.EventStore]. One statement reads the
// page (one row more than asked, which says whether more follow in the
// page's direction), the count of the matches up to one more than
// [shipevents.MaxExactCount], and an existence probe for the other side
// of the page, so that they agree with each other. Past the bound the
// count is the planner's estimate, read with a second statement: counting
// every match is a scan of all of them (over 100 ms at a million events).
func (s *Store) ListEvents(ctx context.Context, f shipevents.EventFilter) (shipevents.Page[shipevents.StoredEvent], error) {
	var page shipevents.Page[shipevents.StoredEvent]
	if err := s.check(ctx); err != nil {
		return page, err
	}
	limit := shipevents.PageLimit(f.Limit)
	offset := max(f.Offset, 0)
	var after, before int64 = -1, -1
	var err error
	if f.After != "" {
		if after, err = shipevents.DecodeCursor(f.After); err != nil {
			return page, err
		}
	}
	if f.Before != "" {
		if before, err = shipevents.DecodeCursor(f.Before); err != nil {
			return page, err
		}
	}
	var a sqlArgs
	where := eventWhere(&a, &f)
	whereArgs := len(a) // the estimate reads these only
	// A time range is the one filter whose matches may lie anywhere in the
	// history: walking it newest first (the page order) until they come
	// costs the whole newer part of the history. When the planner expects
	// few enough matches, the page is chosen among all of them instead
	// (from the occurred_at index), whatever their place.
	byRange := false
	if !f.OccurredAfter.IsZero() || !f.OccurredBefore.IsZero() {
		n, err := s.estimate(ctx, "SELECT 1 FROM events e WHERE "+where, a)
		if err != nil {
			return page, wrap("list events: estimating the range", err)
		}
		byRange = n <= maxRangeSort
	}
	// The probes walk the seq index from the cursor, and stop at the
	// first match: scalar subqueries, since the planner drops the order
	// (and so the index walk) of an EXISTS.
	matches := func(cond, order string) string {
		return "coalesce((SELECT true FROM events e WHERE " + where + " AND " + cond + " ORDER BY e.seq " + order + " LIMIT 1), false)"
	}
	window := where
	pAfter, pBefore := "", ""
	if after >= 0 {
		pAfter = a.add(after)
		window += " AND e.seq < " + pAfter
	}
	if before >= 0 {
		pBefore = a.add(before)
		window += " AND e.seq > " + pBefore
	}
	// The probe answers the flag the extra row cannot: going forward (from
	// the newest match or from After), whether newer matches precede the
	// page; going back from Before, whether older ones follow it. The
	// cases are MemoryStore's page positions (pageBySeq) in SQL.
	backward := before >= 0 && after < 0
	newer, older := "false", "false"
	switch {
	case backward && offset > 0:
		older = matches("true", "DESC")
	case backward:
		older = matches("e.seq <= "+pBefore, "DESC")
	default:
		if before >= 0 {
			older = matches("e.seq <= "+pBefore, "DESC")
		}
		switch {
		case offset > 0 && before >= 0:
			newer = matches("e.seq > "+pBefore, "ASC")
		case offset > 0:
			newer = matches("true", "DESC")
		case after >= 0 && before >= 0:
			newer = matches("e.seq >= "+pAfter+" AND e.seq > "+pBefore, "ASC")
		case after >= 0:
			newer = matches("e.seq >= "+pAfter, "ASC")
		}
	}
	dir := "DESC"
	if backward {
		dir = "ASC"
	}
	// seq + 0 is no index's order: the planner reads the matches by the
	// range and keeps the page's share of them (a top-N sort).
	pageOrder, countOrder := "e.seq", " ORDER BY e.seq DESC"
	if byRange {
		pageOrder, countOrder = "e.seq + 0", ""
	}
	// The page's seqs first (from an index alone where the filter's
	// columns are in it), then their rows: skipped and extra rows cost no
	// body and no pending count.
	q := `WITH p AS (
		SELECT e.seq FROM events e WHERE ` + window + `
		ORDER BY ` + pageOrder + ` ` + dir + ` LIMIT ` + a.add(limit+1) + ` OFFSET ` + a.add(offset) + `)
	SELECT (SELECT count(*) FROM (SELECT FROM events e WHERE ` + where + countOrder + ` LIMIT ` + a.add(shipevents.MaxExactCount+1) + `) AS c),
		` + newer + `, ` + older + `, x.*
	FROM (SELECT 1) AS one LEFT JOIN (
		SELECT ` + eventColumns + ` AS pending FROM p JOIN events e ON e.seq = p.seq) AS x ON true
	ORDER BY x.seq DESC`
	rows, err := s.pool.Query(ctx, q, a...)
	if err != nil {
		return page, wrap("list events", err)
	}
	defer rows.Close()
	var total int64
	var hasNewer, hasOlder bool
	for rows.Next() {
		var seq *int64
		var body []byte
		var late *bool
		var storedAt *time.Time
		var pending *int64
		if err := rows.Scan(&total, &hasNewer, &hasOlder, &seq, &body, &late, &storedAt, &pending); err != nil {
			return page, wrap("list events", err)
		}
		if seq == nil {
			continue // no page rows: only the count and the probes
		}
		se := shipevents.StoredEvent{Seq: *seq, Late: *late, StoredAt: utc(*storedAt), PendingDeliveries: int(*pending)}
		if err := se.Event.UnmarshalJSON(body); err != nil { // without encoding/json's extra validation pass
			return page, wrap(fmt.Sprintf("list events: decoding event at seq %d", *seq), err)
		}
		page.Items = append(page.Items, se)
	}
	if err := rows.Err(); err != nil {
		return page, wrap("list events", err)
	}
	extra := len(page.Items) > limit
	if extra { // the row past the page, newest first: the oldest going forward, the newest going back
		if backward {
			page.Items = page.Items[1:]
		} else {
			page.Items = page.Items[:limit]
		}
	}
	page.PageInfo = shipevents.PageInfo{Count: int(total), HasPreviousPage: hasNewer, HasNextPage: hasOlder}
	if backward {
		page.PageInfo.HasPreviousPage = extra
	} else {
		page.PageInfo.HasNextPage = extra || hasOlder
	}
	if len(page.Items) > 0 {
		page.PageInfo.StartCursor = shipevents.EncodeCursor(page.Items[0].Seq)
		page.PageInfo.EndCursor = shipevents.EncodeCursor(page.Items[len(page.Items)-1].Seq)
	}
	if total > shipevents.MaxExactCount {
		n, err := s.estimate(ctx, "SELECT 1 FROM events e WHERE "+where, a[:whereArgs])
		if err != nil {
			return page, wrap("list events: estimating the count", err)
		}
		page.PageInfo.Count, page.PageInfo.CountEstimated = int(max(n, total)), true
	}
	return page, nil
}

// maxRangeSort is how many matches of a time range the planner may expect
// for a page to be chosen among all of them (see ListEvents): reading
// that many index entries stays within tens of milliseconds.
const maxRangeSort = 100_000

// estimate returns the planner's estimate of the rows q returns.
func (s *Store) estimate(ctx context.Context, q string, args []any) (int64, error) {
	var plan []byte
	if err := s.pool.QueryRow(ctx, "EXPLAIN (FORMAT JSON) "+q, args...).Scan(&plan); err != nil {
		return 0, err
	}
	var out []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if err := json.Unmarshal(plan, &out); err != nil || len(out) == 0 {
		return 0, fmt.Errorf("reading the plan: %w", err)
	}
	return int64(out[0].Plan.Rows), nil
}

// eventWhere renders the filter's conditions on events e.
func eventWhere(a *sqlArgs, f *shipevents.EventFilter) string {
	conds := []string{"true"}
	eq := func(col, v string) {
		if v != "" {
			conds = append(conds, "e."+col+" = "+a.add(v))
		}
	}
	// The partial indexes on optional fields hold only non-empty values;
	// the literal condition lets the planner prove a generic plan may use
	// them.
	eqOptional := func(col, v string) {
		if v != "" {
			conds = append(conds, "e."+col+" = "+a.add(v)+" AND e."+col+" <> ''")
		}
	}
	// One value is an equality, which an index on (col, seq) serves in
	// page order; several are an ANY, read and sorted.
	oneOf := func(col string, vs []string, optional bool) {
		switch {
		case len(vs) == 1 && optional:
			eqOptional(col, vs[0])
		case len(vs) == 1:
			eq(col, vs[0])
		case len(vs) > 1:
			conds = append(conds, "e."+col+" = ANY("+a.add(slices.Clone(vs))+"::text[])")
		}
	}
	oneOf("type", f.Types, false)
	if f.RefPattern != "" {
		conds = append(conds, "e.ref ~ "+a.add(refRegexp(f.RefPattern)))
	}
	eqOptional("tenant_id", f.TenantID)
	eq("carrier", f.Carrier)
	eqOptional("tracking_number", f.TrackingNumber)
	eqOptional("correlation_id", f.CorrelationID)
	eqOptional("transaction_id", f.TransactionID)
	oneOf("event_group", f.EventGroups, true)
	statuses := make([]string, len(f.Statuses))
	for i, st := range f.Statuses {
		statuses[i] = string(st)
	}
	oneOf("status", statuses, true)
	if len(f.Metadata) > 0 {
		b, _ := json.Marshal(f.Metadata) // a map of strings always encodes
		conds = append(conds, "e.metadata @> "+a.add(string(b))+"::jsonb AND e.metadata IS NOT NULL")
	}
	switch f.TestMode {
	case shipevents.TestModeOnly:
		conds = append(conds, "e.test_mode")
	case shipevents.TestModeLive:
		conds = append(conds, "NOT e.test_mode")
	}
	if !f.OccurredAfter.IsZero() {
		conds = append(conds, "e.occurred_at >= "+a.add(f.OccurredAfter))
	}
	if !f.OccurredBefore.IsZero() {
		conds = append(conds, "e.occurred_at < "+a.add(f.OccurredBefore))
	}
	return strings.Join(conds, " AND ")
}

// refRegexp translates a ref pattern ([shipevents.MatchRef]) into an
// anchored PostgreSQL regular expression: whole segments, "*" for any one
// segment, a prefix of the ref's segments.
func refRegexp(pattern string) string {
	var sb strings.Builder
	sb.WriteString("^")
	for i, seg := range strings.Split(pattern, "/") {
		if i > 0 {
			sb.WriteString("/")
		}
		if seg == "*" {
			sb.WriteString("[^/]*")
			continue
		}
		for _, r := range seg {
			if r < 0x80 && !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
				sb.WriteByte('\\')
			}
			sb.WriteRune(r)
		}
	}
	sb.WriteString("(/|$)")
	return sb.String()
}
