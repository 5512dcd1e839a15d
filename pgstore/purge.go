package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// DefaultPurgeBatch is how many events Purge examines per transaction when
// PurgeOptions.BatchSize is zero.
const DefaultPurgeBatch = 500

// PurgeOptions tunes [Store.Purge]. The zero value keeps dead letters and
// examines DefaultPurgeBatch events per transaction.
type PurgeOptions struct {
	// DeadBefore bounds dead letters separately: an event with a
	// dead-lettered delivery is purged only if it was also stored before
	// DeadBefore. Zero keeps such events whatever their age, as
	// shipevents.MemoryStore does, so that dead letters can still be
	// listed and replayed. Set it to the purge cutoff to treat dead
	// letters like successes, or earlier to keep them longer.
	DeadBefore time.Time
	// BatchSize is how many events (in append order) one transaction
	// examines; 0 means DefaultPurgeBatch. Each batch deletes its events
	// with all their deliveries and attempts, so with many subscriptions
	// per event a smaller batch keeps transactions short.
	BatchSize int
}

// PurgeResult counts what a Purge call did.
type PurgeResult struct {
	// Events, Deliveries and Attempts are the rows deleted.
	Events, Deliveries, Attempts int
	// Kept counts the events stored before the cutoff that were examined
	// and kept: a delivery is pending or in flight, or one is dead and
	// PurgeOptions.DeadBefore does not allow it to go.
	Kept int
	// Batches counts the transactions that examined events.
	Batches int
}

func (r *PurgeResult) add(b PurgeResult) {
	r.Events += b.Events
	r.Deliveries += b.Deliveries
	r.Attempts += b.Attempts
	r.Kept += b.Kept
	r.Batches += b.Batches
}

// Purge deletes the events stored before before whose deliveries have all
// finished (succeeded, or dead as PurgeOptions.DeadBefore allows; events
// without deliveries count as finished), with their deliveries and their
// attempts. Events with a pending or in-flight delivery are kept whatever
// their age. Shipment states are never deleted: they are the memory of the
// ordering rule (see the package README).
//
// A purged event id is no longer recognised as a duplicate: appended
// again, the event is stored again. A shipment status event then comes
// late, as its shipment's state was kept (only subscriptions with
// IncludeLate receive it again); any other event is new and delivered
// again. Choose a cutoff longer than any carrier's re-send window.
//
// Purge walks the events in append order (the seq index, so no index is
// needed on stored_at) and stops at the first event stored at or after
// before; events appended concurrently with slightly earlier stored_at
// values wait for the next call. Each batch is one short REPEATABLE READ
// transaction that deletes exactly the rows it examined: a delivery
// requeued, recorded or deleted by someone else meanwhile aborts the
// batch with a serialization failure, and the batch is examined again
// (up to Config.AppendRetries times). RequeueDeliveries key-share-locks the
// history rows it requeues, so a requeue and a purge of the same delivery
// are ordered: either the requeue wins and the event is kept, or the purge
// wins and the requeue finds nothing. No queue row is ever left without
// its history row, nor a history row without its event.
//
// Concurrent calls for one schema (from this or other processes) take
// turns batch by batch, through a transaction-level advisory lock, so they
// share the walk instead of deleting the same rows at once. ctx is checked
// between batches and aborts the one in progress; the result then counts
// the batches committed before the error, which are not undone.
func (s *Store) Purge(ctx context.Context, before time.Time, opts PurgeOptions) (PurgeResult, error) {
	var res PurgeResult
	if err := s.check(ctx); err != nil {
		return res, err
	}
	batch := opts.BatchSize
	if batch <= 0 {
		batch = DefaultPurgeBatch
	}
	w := &purgeWalk{before: before, deadBefore: opts.DeadBefore, batch: batch}
	for !w.done {
		if err := s.check(ctx); err != nil {
			return res, fmt.Errorf("pgstore: purge: %w", err)
		}
		b, err := s.purgeBatchRetried(ctx, w)
		if err != nil {
			return res, wrap(fmt.Sprintf("purge: batch after seq %d", w.cursor), err)
		}
		res.add(b)
	}
	return res, nil
}

// purgeWalk is where a Purge call is in the events' append order.
type purgeWalk struct {
	before, deadBefore time.Time
	batch              int
	cursor             int64 // the last seq examined
	done               bool  // the cutoff or the last event was reached
}

// errPurgeBusy: another Purge holds the batch lock.
var errPurgeBusy = errors.New("another purge is running a batch")

const (
	// One purge batch per schema at a time. A batch takes the lock with
	// its first statement, and does not wait for it there: in a
	// REPEATABLE READ transaction that statement fixes the snapshot, which
	// would then miss what the batch waited for. A busy batch gives up,
	// and sqlPurgeWait waits until the lock is free (taking it and, at the
	// end of the statement, releasing it) before the batch starts again.
	sqlPurgeTryLock = `SELECT pg_try_advisory_xact_lock(hashtext('shipevents/pgstore/purge'), hashtext(current_schema()))`
	sqlPurgeWait    = `SELECT pg_advisory_xact_lock(hashtext('shipevents/pgstore/purge'), hashtext(current_schema()))`

	// The next events in append order (events_seq_key), each with whether
	// it has a queued (pending or in flight) and a dead delivery. Events
	// at or past the cutoff are returned without looking at deliveries:
	// they end the walk.
	sqlPurgeScan = `SELECT e.tenant_id, e.id, e.seq, e.stored_at, f.busy, f.dead
	FROM (SELECT tenant_id, id, seq, stored_at FROM events WHERE seq > $1 ORDER BY seq LIMIT $2) AS e
	CROSS JOIN LATERAL (
		SELECT coalesce(bool_or(d.state = 'queued'), false) AS busy,
			coalesce(bool_or(d.state = 'dead'), false) AS dead
		FROM deliveries d WHERE d.tenant_id = e.tenant_id AND d.event_id = e.id AND e.stored_at < $3
	) AS f
	ORDER BY e.seq`

	// Deletes the events (by seq: their unique index), their deliveries
	// (found per event key by deliveries_event_key_idx, in the lateral
	// subquery, and deleted by primary key) and the deliveries' attempts,
	// all as seen by the transaction's snapshot, and counts each.
	sqlPurgeDelete = `WITH d AS (
		DELETE FROM deliveries WHERE id = ANY(ARRAY(
			SELECT x.id FROM unnest($1::text[], $2::text[]) AS k(tenant_id, event_id)
			CROSS JOIN LATERAL (SELECT id FROM deliveries d
				WHERE d.tenant_id = k.tenant_id AND d.event_id = k.event_id) AS x))
		RETURNING id
	), a AS (
		DELETE FROM attempts WHERE delivery_id = ANY(ARRAY(SELECT id FROM d)) RETURNING 1
	), e AS (
		DELETE FROM events WHERE seq = ANY($3::bigint[]) RETURNING 1
	)
	SELECT (SELECT count(*) FROM e), (SELECT count(*) FROM d), (SELECT count(*) FROM a)`
)

// purgeRetries is how many times a purge batch is run again after
// PostgreSQL aborted it for a concurrent change.
const purgeRetries = 10

// purgeBatchRetried runs purgeBatch until it has run once without being
// aborted: it waits while another purge holds the batch lock, and runs the
// batch again (up to purgeRetries times, backing off) when PostgreSQL
// aborted it for a concurrent change (serialization failure) or a
// deadlock.
func (s *Store) purgeBatchRetried(ctx context.Context, w *purgeWalk) (PurgeResult, error) {
	for try := 0; ; {
		res, err := w.purgeBatch(ctx, s.pool)
		switch {
		case errors.Is(err, errPurgeBusy):
			if _, err := s.pool.Exec(ctx, sqlPurgeWait); err != nil {
				return res, fmt.Errorf("waiting for another purge: %w", err)
			}
		case err == nil || try >= purgeRetries || !retryable(err) || ctx.Err() != nil:
			return res, err
		default:
			// A busy table (appends, claims, added deliveries) aborts a
			// batch now and then; back off a little before the next try.
			try++
			select {
			case <-time.After(time.Duration(try) * 5 * time.Millisecond):
			case <-ctx.Done():
				return res, ctx.Err()
			}
		}
	}
}

// purgeBatch examines up to w.batch events after w.cursor in one
// transaction and deletes the purgeable ones. Only a committed batch
// moves the walk on.
func (w *purgeWalk) purgeBatch(ctx context.Context, pool *pgxpool.Pool) (PurgeResult, error) {
	var res PurgeResult
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return res, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	var locked bool
	if err := tx.QueryRow(ctx, sqlPurgeTryLock).Scan(&locked); err != nil {
		return res, fmt.Errorf("locking: %w", err)
	}
	if !locked {
		return res, errPurgeBusy
	}
	doomed, next, done, err := w.scan(ctx, tx, &res)
	if err != nil {
		return PurgeResult{}, fmt.Errorf("scanning events: %w", err)
	}
	if len(doomed.seqs) > 0 {
		if err := tx.QueryRow(ctx, sqlPurgeDelete, doomed.tenants, doomed.ids, doomed.seqs).Scan(&res.Events, &res.Deliveries, &res.Attempts); err != nil {
			return PurgeResult{}, fmt.Errorf("deleting: %w", err)
		}
	}
	// The batch's work is done: commit it whatever happens to ctx now, so
	// that the result counts exactly what was deleted.
	if err := tx.Commit(context.WithoutCancel(ctx)); err != nil {
		return PurgeResult{}, err
	}
	w.cursor, w.done = next, done
	return res, nil
}

// purgeable is the batch's events to delete: their keys and seqs, aligned.
type purgeable struct {
	tenants, ids []string
	seqs         []int64
}

// scan reads the batch's events and returns the purgeable ones, the last
// seq before the cutoff, and whether the walk ends here. It counts the
// batch and the events kept in res.
func (w *purgeWalk) scan(ctx context.Context, tx pgx.Tx, res *PurgeResult) (doomed purgeable, next int64, done bool, err error) {
	rows, _ := tx.Query(ctx, sqlPurgeScan, w.cursor, w.batch, w.before)
	next, seen := w.cursor, 0
	var tenant, id string
	var seq int64
	var storedAt time.Time
	var busy, dead bool
	_, err = pgx.ForEachRow(rows, []any{&tenant, &id, &seq, &storedAt, &busy, &dead}, func() error {
		seen++
		if done || !storedAt.Before(w.before) {
			done = true // stored at or after the cutoff: the walk ends
			return nil
		}
		next = seq
		if busy || (dead && !storedAt.Before(w.deadBefore)) {
			res.Kept++
		} else {
			doomed.tenants = append(doomed.tenants, tenant)
			doomed.ids = append(doomed.ids, id)
			doomed.seqs = append(doomed.seqs, seq)
		}
		return nil
	})
	if seen > 0 {
		res.Batches = 1
	}
	return doomed, next, done || seen < w.batch, err
}
