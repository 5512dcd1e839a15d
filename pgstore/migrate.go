package pgstore

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// migration is one numbered SQL file of migrations/.
type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in version order.
func migrations() ([]migration, error) {
	entries, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, p := range entries {
		name := path.Base(p)
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %s: name must start with a positive number and '_'", name)
		}
		b, err := migrationFiles.ReadFile(p)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: strings.TrimSuffix(name, ".sql"), sql: string(b)})
	}
	slices.SortFunc(out, func(a, b migration) int { return a.version - b.version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("two migrations numbered %d", out[i].version)
		}
	}
	return out, nil
}

// LatestVersion is the schema version this package's migrations reach.
func LatestVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// Migrate brings the schema to the latest version: it creates the schema
// (Config.Schema) if missing, then applies the migrations not yet recorded
// in schema_migrations, all in one transaction. Instances may call it
// concurrently: a transaction-level advisory lock per schema serializes
// them, and the ones that come second find nothing to do. A database at a
// newer version than this package knows is left alone.
func (s *Store) Migrate(ctx context.Context) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	ms, err := migrations()
	if err != nil {
		return fmt.Errorf("pgstore: migrate: %w", err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return wrap("migrate: begin", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	if err := migrateTx(ctx, tx, s.schema, ms); err != nil {
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return wrap("migrate: commit", err)
	}
	return nil
}

func migrateTx(ctx context.Context, tx pgx.Tx, schema string, ms []migration) error {
	// Two-key advisory lock: a fixed class for pgstore migrations, and
	// the schema, so that migrating two schemas does not serialize.
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('shipevents/pgstore/migrate'),
		hashtext(coalesce(nullif($1::text, ''), current_schema(), '')))`, schema); err != nil {
		return wrap("migrate: lock", err)
	}
	if schema != "" {
		id := pgx.Identifier{schema}.Sanitize()
		if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+id); err != nil {
			return wrap("migrate: create schema", err)
		}
		if _, err := tx.Exec(ctx, "SET LOCAL search_path TO "+id); err != nil {
			return wrap("migrate: search_path", err)
		}
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		name       text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return wrap("migrate: create schema_migrations", err)
	}
	rows, _ := tx.Query(ctx, `SELECT version FROM schema_migrations`)
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	if err != nil {
		return wrap("migrate: read schema_migrations", err)
	}
	for _, m := range ms {
		if slices.Contains(applied, int32(m.version)) {
			continue
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return wrap("migrate: apply "+m.name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name) VALUES ($1, $2)`, m.version, m.name); err != nil {
			return wrap("migrate: record "+m.name, err)
		}
	}
	return nil
}

// Version returns the highest migration version applied (0 for none).
func (s *Store) Version(ctx context.Context) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	var v int32
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	if err != nil {
		return 0, wrap("schema version", err)
	}
	return int(v), nil
}
