package pgstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shipevents/shipevents"
)

// TestMigrateQueueFromVersion1 fills a schema at version 1 (the queue in
// deliveries) with a delivery in each state, migrates it, and checks that
// the store sees each one as it was: the pending one is claimable, the in
// flight one keeps its lease (its holder can still record), and the
// finished ones stay finished, with their dead letter listed as such.
func TestMigrateQueueFromVersion1(t *testing.T) {
	dsn := os.Getenv("SHIPEVENTS_PG_DSN")
	if dsn == "" {
		t.Skip("SHIPEVENTS_PG_DSN is not set: skipping the PostgreSQL tests")
	}
	t.Parallel()
	ctx := t.Context()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "shipevents_test_mig_" + hex.EncodeToString(b)
	s, err := Open(ctx, dsn, Config{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = s.pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		s.Close()
	})

	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateTx(ctx, tx, schema, ms[:1]); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ev := shipevents.Event{ID: "evt-mig-1", Type: shipevents.TypeTrackingUpdated, Source: shipevents.SourceShipments,
		Version: shipevents.EnvelopeVersion, Ref: "shipments/in_transit/IN_TRANSIT", OccurredAt: t0, TriggeredAt: t0}
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	// Version 1 rows, as the previous release wrote them.
	const pending, inFlight, succeeded, dead = "d-pending", "d-in-flight", "d-succeeded", "d-dead"
	for _, st := range []struct {
		q    string
		args []any
	}{
		{`INSERT INTO events (id, body, type, ref, occurred_at, stored_at)
			VALUES ('evt-mig-1', $1, 'tracking.updated', 'shipments/in_transit/IN_TRANSIT', $2, $2)`, []any{body, t0}},
		{`INSERT INTO deliveries (id, event_id, subscription_id, state, attempts, next_attempt_at,
			lease_token, lease_owner, lease_expires_at, last_error, last_status_code, created_at, updated_at) VALUES
			('d-pending', 'evt-mig-1', 'sub-a', 'pending', 0, $1, NULL, NULL, NULL, '', 0, $1, $1),
			('d-in-flight', 'evt-mig-1', 'sub-b', 'in_flight', 1, $1, 'token-old', 'worker-1', $1::timestamptz + interval '1 minute', 'HTTP 500', 500, $1, $1),
			('d-succeeded', 'evt-mig-1', 'sub-c', 'succeeded', 1, $1, NULL, NULL, NULL, '', 204, $1, $1),
			('d-dead', 'evt-mig-1', 'sub-d', 'dead', 3, $1, NULL, NULL, NULL, 'HTTP 410', 410, $1, $1)`, []any{t0}},
		{`INSERT INTO attempts (delivery_id, number, started_at, duration_ns, status_code)
			VALUES ('d-in-flight', 1, $1, 1000, 500), ('d-succeeded', 1, $1, 1000, 204)`, []any{t0}},
	} {
		if _, err := s.pool.Exec(ctx, st.q, st.args...); err != nil {
			t.Fatalf("version 1 data: %v", err)
		}
	}

	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate to %d: %v", LatestVersion(), err)
	}

	// The previous release's statements fail rather than bypass the queue.
	for _, q := range []string{
		`INSERT INTO deliveries (id, event_id, subscription_id, state, next_attempt_at, created_at, updated_at)
			VALUES ('d-old', 'evt-mig-1', 'sub-a', 'pending', now(), now(), now())`,
		`UPDATE deliveries SET lease_token = NULL WHERE id = 'd-pending'`,
	} {
		if _, err := s.pool.Exec(ctx, q); err == nil {
			t.Errorf("a statement of the previous release succeeded after migrating: %s", q)
		}
	}

	list := func(f shipevents.DeliveryFilter) []shipevents.Delivery {
		t.Helper()
		p, err := s.ListDeliveries(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if p.PageInfo.Count != len(p.Items) {
			t.Errorf("ListDeliveries(%+v): Count %d, %d items", f, p.PageInfo.Count, len(p.Items))
		}
		return p.Items
	}
	byID := map[string]shipevents.Delivery{}
	for _, d := range list(shipevents.DeliveryFilter{}) {
		byID[d.ID] = d
	}
	for id, want := range map[string]shipevents.DeliveryState{pending: shipevents.DeliveryPending,
		inFlight: shipevents.DeliveryInFlight, succeeded: shipevents.DeliverySucceeded, dead: shipevents.DeliveryDead} {
		if got := byID[id].State; got != want {
			t.Errorf("delivery %s: state %q after migrating, want %q", id, got, want)
		}
		got := list(shipevents.DeliveryFilter{State: want})
		if len(got) != 1 || got[0].ID != id {
			t.Errorf("ListDeliveries{State: %s} = %v, want only %s", want, got, id)
		}
	}
	if d := byID[inFlight]; !d.LeaseExpiresAt.Equal(t0.Add(time.Minute)) || d.Attempts != 1 || d.LastStatusCode != 500 {
		t.Errorf("in flight delivery after migrating: %+v, want its lease to %v, 1 attempt, status 500", d, t0.Add(time.Minute))
	}
	if d := byID[dead]; d.Attempts != 3 || d.LastError != "HTTP 410" {
		t.Errorf("dead delivery after migrating: %+v", d)
	}
	if got := list(shipevents.DeliveryFilter{SubscriptionID: "sub-d", State: shipevents.DeliveryDead}); len(got) != 1 {
		t.Errorf("dead letters of sub-d: %v, want %s", got, dead)
	}
	se, err := s.GetEvent(ctx, ev.Key())
	if err != nil {
		t.Fatal(err)
	}
	if se.PendingDeliveries != 2 {
		t.Errorf("PendingDeliveries = %d, want 2 (the pending and the in flight delivery)", se.PendingDeliveries)
	}

	// The lease taken before the migration is still held, and only it.
	errs, err := s.RecordAttempts(ctx, []shipevents.AttemptRecord{
		{Lease: shipevents.Lease{DeliveryID: pending, Token: "token-old"}, Outcome: shipevents.OutcomeSucceeded,
			Attempt: shipevents.Attempt{DeliveryID: pending, Number: 1, StartedAt: t0, StatusCode: 204}},
		{Lease: shipevents.Lease{DeliveryID: inFlight, Token: "token-old"}, Outcome: shipevents.OutcomeSucceeded,
			Attempt: shipevents.Attempt{DeliveryID: inFlight, Number: 2, StartedAt: t0, StatusCode: 204}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(errs[0], shipevents.ErrLeaseLost) || errs[1] != nil {
		t.Errorf("records after migrating: %v, want lease lost for the pending delivery and success for the leased one", errs)
	}
	if d := list(shipevents.DeliveryFilter{EventID: ev.ID, SubscriptionID: "sub-b"}); len(d) != 1 ||
		d[0].State != shipevents.DeliverySucceeded || d[0].Attempts != 2 {
		t.Errorf("in flight delivery after its record: %+v, want succeeded after 2 attempts", d)
	}

	// The pending delivery is claimable; then the dead one, once requeued.
	claim := func() []string {
		t.Helper()
		cs, err := s.ClaimDeliveries(ctx, shipevents.ClaimRequest{Now: t0.Add(time.Hour), Lease: time.Minute, Limit: 10, Owner: "test"})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, c := range cs {
			ids = append(ids, c.Delivery.ID)
		}
		return ids
	}
	if got := claim(); !slices.Equal(got, []string{pending}) {
		t.Errorf("claim after migrating: %v, want [%s]", got, pending)
	}
	if n, err := s.RequeueDeliveries(ctx, []string{dead}, t0); err != nil || n != 1 {
		t.Fatalf("requeue the dead letter: %d, %v", n, err)
	}
	if got := list(shipevents.DeliveryFilter{State: shipevents.DeliveryDead}); len(got) != 0 {
		t.Errorf("dead letters after requeueing: %v, want none", got)
	}
	if got := claim(); !slices.Equal(got, []string{dead}) {
		t.Errorf("claim after requeueing: %v, want [%s]", got, dead)
	}
}

// TestMigrateTenantsFromVersion3 fills a schema at version 3 (events keyed
// by id alone) with an event of a tenant and one without, each with
// deliveries in several states, migrates it, and checks that every row
// reads back under its event's key: the deliveries carry their event's
// tenant, the live one is claimed with the right event, and from then on
// the id of acme's event names another event under another tenant.
func TestMigrateTenantsFromVersion3(t *testing.T) {
	dsn := os.Getenv("SHIPEVENTS_PG_DSN")
	if dsn == "" {
		t.Skip("SHIPEVENTS_PG_DSN is not set: skipping the PostgreSQL tests")
	}
	t.Parallel()
	ctx := t.Context()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "shipevents_test_mig_" + hex.EncodeToString(b)
	s, err := Open(ctx, dsn, Config{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = s.pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		s.Close()
	})
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateTx(ctx, tx, schema, ms[:3]); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	event := func(id, tenant string) shipevents.Event {
		return shipevents.Event{ID: id, TenantID: tenant, Type: shipevents.TypeTrackingUpdated, Source: shipevents.SourceShipments,
			Version: shipevents.EnvelopeVersion, Ref: "shipments/in_transit/IN_TRANSIT", Status: shipevents.StatusInTransit,
			Phase: shipevents.StatusInTransit.Phase(), EventName: "IN_TRANSIT", EventGroup: "in_transit",
			Direction: shipevents.DirectionForward, Carrier: "ups", TrackingNumber: "1ZMIG", OccurredAt: t0, TriggeredAt: t0}
	}
	acme, bare := event("evt-1", "acme"), event("evt-2", "")
	body := func(e shipevents.Event) []byte {
		b, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// The previous release named deliveries by event id and subscription
	// only, whatever the tenant.
	oldID := func(eventID, sub string) string { return shipevents.DeliveryID(shipevents.EventKey{ID: eventID}, sub) }
	queued, dead, done := oldID("evt-1", "sub-a"), oldID("evt-1", "sub-b"), oldID("evt-2", "sub-a")
	for _, st := range []struct {
		q    string
		args []any
	}{
		{`INSERT INTO events (id, body, type, ref, tenant_id, carrier, tracking_number, occurred_at, stored_at) VALUES
			('evt-1', $1, 'tracking.updated', 'shipments/in_transit/IN_TRANSIT', 'acme', 'ups', '1ZMIG', $3, $3),
			('evt-2', $2, 'tracking.updated', 'shipments/in_transit/IN_TRANSIT', '', 'ups', '1ZMIG', $3, $3)`,
			[]any{body(acme), body(bare), t0}},
		{`INSERT INTO shipment_state (tenant_id, carrier, tracking_number, status, event_name, event_id, occurred_at, updated_at)
			VALUES ('acme', 'ups', '1ZMIG', 'IN_TRANSIT', 'IN_TRANSIT', 'evt-1', $1, $1), ('', 'ups', '1ZMIG', 'IN_TRANSIT', 'IN_TRANSIT', 'evt-2', $1, $1)`,
			[]any{t0}},
		{`INSERT INTO deliveries (id, event_id, subscription_id, state, attempts, next_attempt_at, last_error, last_status_code,
			created_at, updated_at, dead_at) VALUES
			($1, 'evt-1', 'sub-a', 'queued', 1, $4, 'HTTP 500', 500, $4, $4, NULL),
			($2, 'evt-1', 'sub-b', 'dead', 3, $4, 'HTTP 410', 410, $4, $4, $4),
			($3, 'evt-2', 'sub-a', 'succeeded', 1, $4, '', 204, $4, $4, NULL)`, []any{queued, dead, done, t0}},
		{`INSERT INTO delivery_queue (delivery_id, next_attempt_at, seq) SELECT id, next_attempt_at, seq FROM deliveries WHERE id = $1`,
			[]any{queued}},
		{`INSERT INTO attempts (delivery_id, number, started_at, duration_ns, status_code)
			VALUES ($1, 1, $3, 1000, 500), ($2, 1, $3, 1000, 204)`, []any{queued, done, t0}},
	} {
		if _, err := s.pool.Exec(ctx, st.q, st.args...); err != nil {
			t.Fatalf("version 3 data: %v", err)
		}
	}

	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate to %d: %v", LatestVersion(), err)
	}

	// The previous release's writes fail rather than file rows under the
	// wrong event.
	for _, q := range []string{
		`INSERT INTO events (id, body, type, ref, occurred_at, stored_at)
			VALUES ('evt-old', '{}', 'tracking.updated', 'shipments', now(), now()) ON CONFLICT (id) DO NOTHING`,
		`INSERT INTO deliveries (id, event_id, subscription_id, state, next_attempt_at, created_at, updated_at)
			VALUES ('d-old', 'evt-1', 'sub-c', 'queued', now(), now(), now())`,
	} {
		if _, err := s.pool.Exec(ctx, q); err == nil {
			t.Errorf("a statement of the previous release succeeded after migrating: %s", q)
		}
	}

	for key, pending := range map[shipevents.EventKey]int{acme.Key(): 1, bare.Key(): 0} {
		se, err := s.GetEvent(ctx, key)
		if err != nil {
			t.Fatalf("GetEvent(%s) after migrating: %v", key, err)
		}
		if se.Event.Key() != key || se.PendingDeliveries != pending {
			t.Errorf("GetEvent(%s) = %s with %d pending, want %d pending", key, se.Event.Key(), se.PendingDeliveries, pending)
		}
	}
	if _, err := s.GetEvent(ctx, shipevents.EventKey{ID: "evt-1"}); !errors.Is(err, shipevents.ErrNotFound) {
		t.Errorf("GetEvent of acme's id without its tenant: %v, want ErrNotFound", err)
	}
	list := func(f shipevents.DeliveryFilter) map[string]shipevents.Delivery {
		t.Helper()
		p, err := s.ListDeliveries(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]shipevents.Delivery{}
		for _, d := range p.Items {
			out[d.ID] = d
		}
		return out
	}
	byID := list(shipevents.DeliveryFilter{TenantID: "acme", EventID: "evt-1"})
	if len(byID) != 2 || byID[queued].TenantID != "acme" || byID[dead].TenantID != "acme" ||
		byID[queued].State != shipevents.DeliveryPending || byID[dead].State != shipevents.DeliveryDead || byID[dead].Attempts != 3 {
		t.Errorf("acme's deliveries after migrating: %+v, want the pending and the dead one, under tenant acme", byID)
	}
	if got := list(shipevents.DeliveryFilter{EventID: "evt-2"}); len(got) != 1 || got[done].TenantID != "" || got[done].State != shipevents.DeliverySucceeded {
		t.Errorf("the deliveries of the event without a tenant after migrating: %+v", got)
	}
	if got := list(shipevents.DeliveryFilter{TenantID: "acme"}); len(got) != 2 {
		t.Errorf("deliveries of tenant acme: %d, want 2", len(got))
	}
	if got := list(shipevents.DeliveryFilter{SubscriptionID: "sub-b", State: shipevents.DeliveryDead}); len(got) != 1 || got[dead].TenantID != "acme" {
		t.Errorf("dead letters of sub-b: %+v, want acme's", got)
	}
	if as, err := s.ListAttempts(ctx, done); err != nil || len(as) != 1 {
		t.Errorf("attempts after migrating: %v, %v", as, err)
	}

	cs, err := s.ClaimDeliveries(ctx, shipevents.ClaimRequest{Now: t0.Add(time.Hour), Lease: time.Minute, Limit: 10, Owner: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Delivery.ID != queued || cs[0].Delivery.EventKey() != acme.Key() || cs[0].Event.Key() != acme.Key() {
		t.Fatalf("claim after migrating: %+v, want %s with acme's event", cs, queued)
	}

	// From now on the id is acme's only: globex's copy and a tenant-less
	// one are stored (the tenant-less one late: its shipment's state is as
	// recent), acme's copy is a duplicate.
	globex := acme
	globex.TenantID = "globex"
	sameAgain := event("evt-1", "")
	var recs []shipevents.AppendRecord
	for _, e := range []shipevents.Event{globex, acme, sameAgain} {
		recs = append(recs, shipevents.AppendRecord{Event: e, Deliveries: []shipevents.NewDelivery{
			{ID: shipevents.DeliveryID(e.Key(), "sub-a"), SubscriptionID: "sub-a", NextAttemptAt: t0}}})
	}
	res, err := s.AppendEvents(ctx, recs)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []shipevents.AppendOutcome{shipevents.AppendNew, shipevents.AppendDuplicate, shipevents.AppendLate} {
		if res[i].Outcome != want {
			t.Errorf("append %s after migrating: %v, want %v", recs[i].Event.Key(), res[i].Outcome, want)
		}
	}

	// A backfill repeated across the upgrade finds sub-b's delivery of
	// acme's event, named the old way, and adds only sub-c's.
	n, err := s.AddDeliveries(ctx, acme.Key(), []shipevents.NewDelivery{
		{ID: shipevents.DeliveryID(acme.Key(), "sub-b"), SubscriptionID: "sub-b", NextAttemptAt: t0},
		{ID: shipevents.DeliveryID(acme.Key(), "sub-c"), SubscriptionID: "sub-c", NextAttemptAt: t0},
	})
	if err != nil || n != 1 {
		t.Errorf("AddDeliveries to acme's event after migrating = %d, %v; want 1 (sub-c; sub-b has one)", n, err)
	}
}

// TestMigrateQueueSubscription fills a schema at the version before
// 0005_queue_subscription with queue rows of two subscriptions (pending,
// and one leased), migrates it, and checks that every row knows its
// subscription: a claim that may take nothing of one takes the other's,
// the lease taken before the upgrade can still record, and the previous
// release's queue insert (no subscription) fails.
func TestMigrateQueueSubscription(t *testing.T) {
	dsn := os.Getenv("SHIPEVENTS_PG_DSN")
	if dsn == "" {
		t.Skip("SHIPEVENTS_PG_DSN is not set: skipping the PostgreSQL tests")
	}
	t.Parallel()
	ctx := t.Context()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "shipevents_test_mig_" + hex.EncodeToString(b)
	s, err := Open(ctx, dsn, Config{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = s.pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		s.Close()
	})
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	before := slices.IndexFunc(ms, func(m migration) bool { return m.name == "0005_queue_subscription" })
	if before < 0 {
		t.Fatal("no migration 0005_queue_subscription")
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := migrateTx(ctx, tx, schema, ms[:before]); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}

	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	ev := shipevents.Event{ID: "evt-mig-5", Type: shipevents.TypeTrackingUpdated, Source: shipevents.SourceShipments,
		Version: shipevents.EnvelopeVersion, Ref: "shipments/in_transit/IN_TRANSIT", OccurredAt: t0, TriggeredAt: t0}
	// The event as the schema before the migration holds it: the store's
	// appends write the columns of later migrations too.
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO events (id, body, type, ref, occurred_at, stored_at)
		VALUES ('evt-mig-5', $1, 'tracking.updated', 'shipments/in_transit/IN_TRANSIT', $2, $2)`, body, t0); err != nil {
		t.Fatal(err)
	}
	// a1 and a2 of sub-a lead the queue (a1 leased), then b1 of sub-b.
	for _, q := range []string{
		`INSERT INTO deliveries (id, tenant_id, event_id, subscription_id, state, next_attempt_at, created_at, updated_at) VALUES
			('a1', '', 'evt-mig-5', 'sub-a', 'queued', $1, $1, $1),
			('a2', '', 'evt-mig-5', 'sub-a', 'queued', $1::timestamptz + interval '1 second', $1, $1),
			('b1', '', 'evt-mig-5', 'sub-b', 'queued', $1::timestamptz + interval '2 seconds', $1, $1)`,
		`INSERT INTO delivery_queue (delivery_id, next_attempt_at, seq, lease_token, lease_owner, lease_expires_at)
		SELECT id, next_attempt_at, seq,
			CASE WHEN id = 'a1' THEN 'token-old' END, CASE WHEN id = 'a1' THEN 'worker-1' END,
			CASE WHEN id = 'a1' THEN $1::timestamptz + interval '1 hour' END
		FROM deliveries`,
	} {
		if _, err := s.pool.Exec(ctx, q, t0); err != nil {
			t.Fatalf("data before the migration: %v", err)
		}
	}

	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("migrate to %d: %v", LatestVersion(), err)
	}

	rows, _ := s.pool.Query(ctx, `SELECT delivery_id || '/' || subscription_id FROM delivery_queue ORDER BY delivery_id`)
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a1/sub-a", "a2/sub-a", "b1/sub-b"}; !slices.Equal(got, want) {
		t.Errorf("queue rows after migrating: %v, want %v", got, want)
	}
	if _, err := s.pool.Exec(ctx, `INSERT INTO delivery_queue (delivery_id, next_attempt_at, seq) VALUES ('x', now(), 0)`); err == nil {
		t.Error("the previous release's queue insert (no subscription) succeeded after migrating")
	}

	cs, err := s.ClaimDeliveries(ctx, shipevents.ClaimRequest{Now: t0.Add(time.Minute), Lease: time.Minute, Limit: 10,
		MaxPerSubscription: 1, SubscriptionMax: map[string]int{"sub-a": 0}, Owner: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Delivery.ID != "b1" {
		t.Errorf("claim with sub-a's share used up: %v, want [b1]", cs)
	}
	errs, err := s.RecordAttempts(ctx, []shipevents.AttemptRecord{{Lease: shipevents.Lease{DeliveryID: "a1", Token: "token-old"},
		Outcome: shipevents.OutcomeSucceeded, Attempt: shipevents.Attempt{DeliveryID: "a1", Number: 1, StartedAt: t0, StatusCode: 204}}})
	if err != nil || errs[0] != nil {
		t.Errorf("recording the lease taken before the migration: %v, %v", err, errs)
	}
	cs, err = s.ClaimDeliveries(ctx, shipevents.ClaimRequest{Now: t0.Add(time.Minute), Lease: time.Minute, Limit: 10, Owner: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Delivery.ID != "a2" {
		t.Errorf("claim after migrating: %v, want [a2]", cs)
	}
}
