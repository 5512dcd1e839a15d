// Package pgstore is a PostgreSQL [shipevents.Store]: events, deliveries,
// attempts, subscriptions and shipment state in PostgreSQL tables, so that
// several dispatcher processes can share one queue.
//
// It needs PostgreSQL 13 or later (gen_random_uuid). Create the tables with
// [Store.Migrate], which is safe to run from several instances at once.
// Claims use FOR UPDATE SKIP LOCKED; every lease has a fresh random token
// that RecordAttempts and ExtendLeases check (fencing), so a worker whose
// lease was taken over can never overwrite the newer attempt's outcome.
//
// [Store.AppendEventsTx] appends inside a pgx.Tx the caller owns, for
// [shipevents.PublishTx]: the caller's own writes and the events with
// their deliveries commit or roll back together.
//
// Timestamps are stored as timestamptz, whose resolution is one
// microsecond: times read back (NextAttemptAt, CreatedAt, attempt
// StartedAt, ...) are truncated to the microsecond. Event envelopes and
// the shipment ordering rule keep full nanosecond precision.
package pgstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shipevents/shipevents"
)

// DefaultApplicationName is the application_name Open gives its
// connections when neither the DSN nor Config names one.
const DefaultApplicationName = "shipevents"

// Config configures a Store. The zero value uses the defaults.
type Config struct {
	// Now stamps stored_at, created_at and updated_at; nil means time.Now.
	// Claim times come from the caller (ClaimRequest.Now).
	Now func() time.Time
	// Schema, when set, is the PostgreSQL schema holding the tables. Open
	// sets it as the connections' search_path and Migrate creates it if it
	// is missing. With New, give the pool that search_path yourself
	// (Migrate still creates the schema).
	Schema string
	// ApplicationName is the application_name of the connections Open
	// makes, unless the DSN sets one; default DefaultApplicationName.
	ApplicationName string
	// MaxConns bounds the pool Open makes; 0 keeps the DSN's
	// pool_max_conns or pgxpool's default (the larger of 4 and the number
	// of CPUs).
	MaxConns int32
	// AppendRetries is how many times AppendEvents retries a transaction
	// that PostgreSQL aborted for a deadlock or a serialization failure
	// (possible when two instances append overlapping batches in different
	// orders); default 3. RequeueDeliveries and each batch of Purge retry
	// as often.
	AppendRetries int
	// Keyring, when set, encrypts subscription bodies (secrets, header
	// values, OAuth2 credentials: the whole subscription) with AES-256-GCM
	// before they are stored, and decrypts them when they are read. Bodies
	// stored in plaintext before stay readable and are encrypted when next
	// written; see [Store.RotateSubscriptionKeys]. nil stores plaintext
	// (and cannot read encrypted bodies).
	Keyring *Keyring
}

// Store is a [shipevents.Store] on PostgreSQL. It is safe for concurrent
// use, and any number of Stores (processes) may share one database schema.
type Store struct {
	pool          *pgxpool.Pool
	ownPool       bool
	now           func() time.Time
	schema        string
	appendRetries int
	keys          *Keyring
	closed        atomic.Bool
}

var _ shipevents.Store = (*Store)(nil)

// New returns a Store on an existing pool; Close leaves the pool open.
func New(pool *pgxpool.Pool, cfg Config) *Store {
	s := &Store{pool: pool, now: cfg.Now, schema: cfg.Schema, appendRetries: cfg.AppendRetries, keys: cfg.Keyring}
	if s.now == nil {
		s.now = time.Now
	}
	if s.appendRetries <= 0 {
		s.appendRetries = 3
	}
	return s
}

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value string; pgxpool settings such as pool_max_conns are accepted)
// and checks the connection before returning. Close closes the pool.
// Call Migrate before first use.
func Open(ctx context.Context, dsn string, cfg Config) (*Store, error) {
	pc, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's parse errors may quote the DSN, password included.
		return nil, errors.New("pgstore: open: the DSN cannot be parsed")
	}
	rp := pc.ConnConfig.RuntimeParams
	if cfg.Schema != "" {
		rp["search_path"] = pgx.Identifier{cfg.Schema}.Sanitize()
	}
	if cfg.ApplicationName != "" {
		rp["application_name"] = cfg.ApplicationName
	} else if rp["application_name"] == "" {
		rp["application_name"] = DefaultApplicationName
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("pgstore: open %s: %w", where(pc), err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("pgstore: open: cannot reach PostgreSQL at %s: %w", where(pc), err)
	}
	s := New(pool, cfg)
	s.ownPool = true
	return s, nil
}

// where names the server of a pool config without its credentials.
func where(pc *pgxpool.Config) string {
	return fmt.Sprintf("%s:%d/%s", pc.ConnConfig.Host, pc.ConnConfig.Port, pc.ConnConfig.Database)
}

// Pool returns the store's connection pool.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close makes every later call fail with shipevents.ErrClosed and closes
// the pool if Open made it. Calls in progress finish first.
func (s *Store) Close() {
	if s.closed.Swap(true) {
		return
	}
	if s.ownPool {
		s.pool.Close()
	}
}

// check fails fast on a closed store or a cancelled context.
func (s *Store) check(ctx context.Context) error {
	if s.closed.Load() {
		return fmt.Errorf("pgstore: %w", shipevents.ErrClosed)
	}
	return ctx.Err()
}

// wrap adds the operation to an error; pgx.ErrNoRows becomes
// shipevents.ErrNotFound, and an error no retry can cure is marked
// permanent.
func wrap(op string, err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("pgstore: %s: %w", op, shipevents.ErrNotFound)
	}
	err = fmt.Errorf("pgstore: %s: %w", op, err)
	if permanent(err) {
		return shipevents.Permanent(err)
	}
	return err
}

// permanent reports whether PostgreSQL refused the statement for its data,
// which it will refuse again however often it is sent: SQLSTATE class 22
// (data exception: a NUL byte or invalid UTF-8 in text, a value out of
// range), 23 (integrity constraint violation) and 54 (program limit
// exceeded: an index entry too large).
func permanent(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || len(pe.Code) != 5 {
		return false
	}
	switch pe.Code[:2] {
	case "22", "23", "54":
		return true
	}
	return false
}

// retryable reports whether a transaction failed only because of
// concurrency (deadlock or serialization failure) and may simply be run
// again.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code == "40P01" || pe.Code == "40001"
	}
	return false
}

// sqlArgs collects positional query arguments.
type sqlArgs []any

// add appends v and returns its placeholder.
func (a *sqlArgs) add(v any) string {
	*a = append(*a, v)
	return fmt.Sprintf("$%d", len(*a))
}

// utc returns t in UTC (pgx returns timestamptz in the local zone).
func utc(t time.Time) time.Time { return t.UTC() }

// cleanText makes s storable in a text column: valid UTF-8 without NUL
// bytes (PostgreSQL refuses both).
func cleanText(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
