package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/shipevents/shipevents"
)

var _ shipevents.TxAppender[pgx.Tx] = (*Store)(nil)

// AppendEventsTx implements [shipevents.TxAppender] for pgx.Tx: it is
// AppendEvents inside tx, a transaction the caller owns, which it never
// commits or rolls back. [shipevents.PublishTx] calls it; call that, not
// this, unless the records come from elsewhere.
//
// tx must be on this store's database, from any pool or connection, in
// any of pgx's query modes. The statements are those of AppendEvents
// (shipment advisory locks, ON CONFLICT DO NOTHING, the ordering rule
// under the locks) inside a savepoint, in three round trips: on any
// error the savepoint is rolled back, so nothing of the call is left in
// tx, and tx is usable again unless the connection failed. The settings
// the statements change for themselves (planner switches and, with
// Config.Schema, search_path) are put back as they were, so tx's own
// statements are planned and resolved as before the call. Without
// Config.Schema, tx's search_path must find the store's tables.
//
// The shipment locks and the new rows' locks are held until tx ends:
// another transaction appending about the same shipment waits for tx to
// commit or roll back. Publish at the end of the transaction, just before
// its commit, to hold them briefly, and all of a transaction's events in
// one call (one call takes its locks in a fixed order; two calls in two
// transactions could take them in opposite orders).
//
// It never retries: a deadlock or a serialization failure is returned
// wrapping [shipevents.ErrTxConflict] (and the *pgconn.PgError, SQLSTATE
// 40P01 or 40001), and the caller runs the whole transaction again.
// Under READ COMMITTED, PostgreSQL's default, transactions appending
// about the same shipment are serialised by its lock, each reading the
// state the previous one committed, and one publishing an event another
// is publishing waits for it (and gets a duplicate if it commits); a
// conflict is then a deadlock, over locks tx's other statements or calls
// took, or between two transactions inserting the same new events in
// opposite orders. Under REPEATABLE READ and SERIALIZABLE, tx reads
// shipment states and events as of its snapshot, taken at its first
// statement: when another transaction committed a change to the same
// shipment's state, or the same event, after that snapshot, the write
// fails with a serialization failure instead of deciding on stale state;
// SERIALIZABLE may also refuse tx at commit, as it may any transaction.
func (s *Store) AppendEventsTx(ctx context.Context, tx pgx.Tx, records []shipevents.AppendRecord) ([]shipevents.AppendResult, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if tx == nil {
		return nil, errors.New("pgstore: append events in a transaction: tx is nil")
	}
	if len(records) == 0 {
		return []shipevents.AppendResult{}, nil
	}
	p, err := planAppend(records)
	if err != nil {
		return nil, err
	}
	h := &hostScope{schema: s.schema}
	err = h.open(ctx, tx)
	var results []shipevents.AppendResult
	if err == nil {
		results, err = s.appendIn(ctx, tx, p, h)
	}
	if err != nil {
		if uerr := h.undo(ctx, tx); uerr != nil {
			err = fmt.Errorf("%w (and rolling back to the savepoint failed: %v)", err, uerr)
		}
		if retryable(err) {
			return nil, fmt.Errorf("pgstore: append events in a transaction: %w: %w", shipevents.ErrTxConflict, err)
		}
		return nil, wrap("append events in a transaction", err)
	}
	return results, nil
}

// hostScope is what AppendEventsTx adds around the statements of
// appendIn in the caller's transaction: a savepoint, so that a failure
// takes back what the append wrote (the caller could otherwise commit
// events without their deliveries) and leaves the transaction usable;
// and the settings the statements change read first and put back last.
// A nil *hostScope adds nothing (AppendEvents' own transaction ends
// with the append, and its settings with it); its methods but open
// accept one.
type hostScope struct {
	schema string   // made the search_path meanwhile, when set
	saved  []string // scopedSettings as they were
	begun  bool     // the savepoint exists
}

// scopedSettings are the settings an append changes with set_config(...,
// is_local): search_path (with Config.Schema) and those sqlByIDPlan sets.
var scopedSettings = []string{"search_path", "enable_hashjoin", "enable_mergejoin", "enable_bitmapscan", "enable_seqscan"}

const (
	sqlSavepoint  = `SAVEPOINT shipevents_append`
	sqlRelease    = `RELEASE SAVEPOINT shipevents_append`
	sqlRollbackTo = `ROLLBACK TO SAVEPOINT shipevents_append`
	sqlSearchPath = `SELECT set_config('search_path', $1, true)`
)

// sqlReadSettings and sqlRestoreSettings read scopedSettings and set them
// back, in that order.
var sqlReadSettings, sqlRestoreSettings = func() (read, restore string) {
	var r, w []string
	for i, name := range scopedSettings {
		r = append(r, "current_setting('"+name+"')")
		w = append(w, "set_config('"+name+"', $"+strconv.Itoa(i+1)+", true)")
	}
	return "SELECT " + strings.Join(r, ", "), "SELECT " + strings.Join(w, ", ")
}()

// open makes the savepoint, reads the settings and sets the schema, in
// a round trip of its own: pgx prepares every statement of a batch
// before it runs the first, so the append's statements must find the
// search_path set (and the savepoint made, to take back a failure to
// prepare them) when their batch is sent.
func (h *hostScope) open(ctx context.Context, tx pgx.Tx) error {
	b := &pgx.Batch{}
	b.Queue(sqlSavepoint)
	b.Queue(sqlReadSettings)
	if h.schema != "" {
		b.Queue(sqlSearchPath, pgx.Identifier{h.schema}.Sanitize())
	}
	br := tx.SendBatch(ctx, b)
	defer br.Close()
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("making a savepoint: %w", err)
	}
	h.begun = true
	h.saved = make([]string, len(scopedSettings))
	dst := make([]any, len(h.saved))
	for i := range h.saved {
		dst[i] = &h.saved[i]
	}
	if err := br.QueryRow().Scan(dst...); err != nil {
		return fmt.Errorf("reading settings: %w", err)
	}
	if h.schema != "" {
		if _, err := br.Exec(); err != nil {
			return fmt.Errorf("setting the search_path: %w", err)
		}
	}
	return br.Close()
}

// queueClose queues the settings' restore and the savepoint's release.
func (h *hostScope) queueClose(b *pgx.Batch) {
	if h == nil {
		return
	}
	args := make([]any, len(h.saved))
	for i, v := range h.saved {
		args[i] = v
	}
	b.Queue(sqlRestoreSettings, args...)
	b.Queue(sqlRelease)
}

// readClose reads the results of what queueClose queued.
func (h *hostScope) readClose(br pgx.BatchResults) error {
	if h == nil {
		return nil
	}
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("restoring settings: %w", err)
	}
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("releasing the savepoint: %w", err)
	}
	h.begun = false
	return nil
}

// undo rolls back to the savepoint, if it exists, and releases it: the
// append's rows, locks and settings are gone, and a transaction the
// failure aborted is usable again. It runs even when ctx is cancelled,
// since the caller might otherwise commit half an append.
func (h *hostScope) undo(ctx context.Context, tx pgx.Tx) error {
	if !h.begun {
		return nil
	}
	ctx = context.WithoutCancel(ctx)
	if _, err := tx.Exec(ctx, sqlRollbackTo); err != nil {
		return err
	}
	h.begun = false
	_, err := tx.Exec(ctx, sqlRelease)
	return err
}
