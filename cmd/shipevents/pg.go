package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/pgstore"
)

// dbFlags are the flags every PostgreSQL command shares.
type dbFlags struct {
	dsn, schema *string
}

func defineDB(fs *flag.FlagSet) *dbFlags {
	return &dbFlags{
		dsn:    fs.String("dsn", "", "the PostgreSQL database, a postgres:// URL or key=value `DSN`; default $"+envDSN+"; prefer the variable, as a flag lands in the shell history"),
		schema: fs.String("schema", "", "the `schema` of the tables; default $"+envSchema+", else the DSN's search_path"),
	}
}

// database is an open store and what may be said about where it is.
type database struct {
	store    *pgstore.Store
	where    string // host:port/database, schema: never credentials
	password string // to scrub from error messages
}

func (db *database) close() { db.store.Close() }

// open connects to the database. With current set it also checks the
// schema is at the version this build knows, so that a forgotten migrate
// is named as such rather than as a missing table.
func (f *dbFlags) open(ctx context.Context, e *env, current bool) (*database, error) {
	dsn := *f.dsn
	if dsn == "" {
		dsn = e.getenv(envDSN)
	}
	if dsn == "" {
		return nil, usageError("no database: set %s or give -dsn", envDSN)
	}
	schema := *f.schema
	if schema == "" {
		schema = e.getenv(envSchema)
	}
	db := &database{}
	// pgconn resolves the password as pgx will (the DSN, PGPASSWORD,
	// ~/.pgpass); its parse errors may quote the DSN, so they are not
	// shown, and pgstore.Open reports a DSN it cannot parse without it.
	if pc, err := pgconn.ParseConfig(dsn); err == nil {
		db.password = pc.Password
		db.where = fmt.Sprintf("%s:%d/%s", pc.Host, pc.Port, pc.Database)
	}
	if schema != "" {
		db.where += ", schema " + schema
	}
	s, err := pgstore.Open(ctx, dsn, pgstore.Config{Schema: schema, ApplicationName: "shipevents-cli", MaxConns: 2})
	if err != nil {
		return nil, failure(db.scrub(err))
	}
	db.store = s
	if !current {
		return db, nil
	}
	v, err := db.version(ctx)
	if err != nil {
		db.close()
		return nil, err
	}
	if v < pgstore.LatestVersion() {
		db.close()
		return nil, failure(fmt.Errorf("the schema (%s) is at version %d, and this shipevents needs %d: run shipevents migrate", db.where, v, pgstore.LatestVersion()))
	}
	return db, nil
}

// version returns the schema's migration version, 0 for a schema never
// migrated.
func (db *database) version(ctx context.Context) (int, error) {
	v, err := db.store.Version(ctx)
	if pe, ok := errors.AsType[*pgconn.PgError](err); ok && pe.Code == "42P01" { // undefined_table
		return 0, nil
	}
	if err != nil {
		return 0, db.fail(err)
	}
	return v, nil
}

// fail maps a store error to its exit status: an unknown id is a rejected
// request, a cursor the store did not issue a bad flag value, anything
// else a failure.
func (db *database) fail(err error) error {
	err = db.scrub(err)
	switch {
	case errors.Is(err, shipevents.ErrNotFound):
		return rejected(err)
	case errors.Is(err, shipevents.ErrInvalidCursor):
		return usageError("%v", err)
	}
	return failure(err)
}

// scrub removes the password from an error message, in case a driver or
// server message ever quotes the connection string. errors.Is still sees
// the causes.
func (db *database) scrub(err error) error {
	if err == nil || db.password == "" {
		return err
	}
	msg := err.Error()
	clean := msg
	for _, p := range []string{db.password, url.QueryEscape(db.password), url.PathEscape(db.password)} {
		clean = strings.ReplaceAll(clean, p, "xxxxx")
	}
	if clean == msg {
		return err
	}
	return &scrubbedError{msg: clean, err: err}
}

type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

func init() {
	register(&command{
		name:     "migrate",
		synopsis: "[-status] [-dsn DSN] [-schema NAME]",
		summary:  "create or upgrade the PostgreSQL tables",
		details: `
Migrate brings the schema to the version this shipevents knows, creating the
schema and the tables if needed (pgstore's Migrate: one transaction, safe to run
from several instances at once). With -status it changes nothing and reports the
schema's version: exit 0 when it is current, 1 when it needs migrating.

Examples:

	SHIPEVENTS_PG_DSN=postgres://shipevents@db.internal/oms shipevents migrate -schema shipevents
	shipevents migrate -status || shipevents migrate`,
		define: func(fs *flag.FlagSet) runFunc {
			dbf := defineDB(fs)
			status := fs.Bool("status", false, "report the schema's version without changing anything")
			return func(ctx context.Context, e *env, args []string) error {
				if len(args) > 0 {
					return usageError("unexpected argument %q", args[0])
				}
				db, err := dbf.open(ctx, e, false)
				if err != nil {
					return err
				}
				defer db.close()
				before, err := db.version(ctx)
				if err != nil {
					return err
				}
				latest := pgstore.LatestVersion()
				if *status {
					fmt.Fprintf(e.stdout, "%s: version %d, latest %d\n", db.where, before, latest)
					if before < latest {
						return rejected(fmt.Errorf("the schema needs migrating (version %d, latest %d)", before, latest))
					}
					return nil
				}
				if err := db.store.Migrate(ctx); err != nil {
					return db.fail(err)
				}
				after, err := db.version(ctx)
				if err != nil {
					return err
				}
				if after == before {
					fmt.Fprintf(e.stdout, "%s: already at version %d\n", db.where, after)
				} else {
					fmt.Fprintf(e.stdout, "%s: migrated from version %d to %d\n", db.where, before, after)
				}
				return nil
			}
		},
	})
}
