package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/shipevents/shipevents/pgstore"
)

// dsnEnv names the environment variable with the test database's DSN.
const dsnEnv = "SHIPEVENTS_PG_DSN"

// testDSN returns the DSN of the test database, or skips the test.
func testDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		tb.Skipf("%s is not set: skipping the PostgreSQL tests (e.g. %s=postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", dsnEnv, dsnEnv)
	}
	return dsn
}

// randomName returns prefix followed by random hex, a valid unquoted
// identifier.
func randomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// testSchema creates nothing but reserves a fresh schema name whose schema
// is dropped when the test ends.
func testSchema(tb testing.TB, dsn string) string {
	tb.Helper()
	schema := randomName("shipevents_test_")
	tb.Cleanup(func() { dropSchema(tb, dsn, schema) })
	return schema
}

func dropSchema(tb testing.TB, dsn, schema string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Errorf("drop schema %s: %v", schema, err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
		tb.Errorf("drop schema %s: %v", schema, err)
	}
}

// openStore opens a migrated store on schema.
func openStore(tb testing.TB, dsn, schema string, cfg pgstore.Config) *pgstore.Store {
	tb.Helper()
	cfg.Schema = schema
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := pgstore.Open(ctx, dsn, cfg)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(s.Close)
	if err := s.Migrate(ctx); err != nil {
		tb.Fatalf("migrate: %v", err)
	}
	return s
}

// newTestStore returns a migrated store on a fresh schema of its own.
func newTestStore(tb testing.TB) *pgstore.Store {
	tb.Helper()
	dsn := testDSN(tb)
	return openStore(tb, dsn, testSchema(tb, dsn), pgstore.Config{})
}

// adminPool returns a pool on the test database, outside any test schema.
func adminPool(tb testing.TB, dsn string) *pgxpool.Pool {
	tb.Helper()
	pool, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("admin pool: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

func pgstoreConfig() pgstore.Config { return pgstore.Config{} }
