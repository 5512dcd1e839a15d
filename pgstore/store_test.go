package pgstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/pgstore"
)

// TestMigrateTwice: a second Migrate finds nothing to do, and the schema
// is at the latest version.
func TestMigrateTwice(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	if err := s.Migrate(ctx); err != nil {
		t.Fatalf("second Migrate: %v", err)
	}
	v, err := s.Version(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if v != pgstore.LatestVersion() || v == 0 {
		t.Errorf("version %d, want %d", v, pgstore.LatestVersion())
	}
}

// TestClosed: a closed store refuses calls with ErrClosed, and Close is
// idempotent; a store made with New leaves its pool open.
func TestClosed(t *testing.T) {
	s := newTestStore(t)
	shared := pgstore.New(s.Pool(), pgstore.Config{})
	shared.Close()
	if _, err := shared.ListSubscriptions(t.Context()); !errors.Is(err, shipevents.ErrClosed) {
		t.Errorf("ListSubscriptions on a closed store: %v, want ErrClosed", err)
	}
	if err := s.Pool().Ping(t.Context()); err != nil {
		t.Errorf("closing a store made with New closed the pool: %v", err)
	}
	s.Close()
	s.Close()
	if _, err := s.ClaimDeliveries(context.Background(), shipevents.ClaimRequest{Limit: 1}); !errors.Is(err, shipevents.ErrClosed) {
		t.Errorf("ClaimDeliveries on a closed store: %v, want ErrClosed", err)
	}
}

// TestSecretsStayOutOfErrors: a subscription's secrets never show in the
// errors of the calls that handle it.
func TestSecretsStayOutOfErrors(t *testing.T) {
	s := newTestStore(t)
	const secret = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"
	sub := webhookSub("sub-secret", "http://127.0.0.1/x")
	sub.Secrets = []string{secret}
	sub.OAuth2 = &shipevents.OAuth2{TokenURL: "http://127.0.0.1/token", ClientID: "id", ClientSecret: "client-secret-value"}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, err := range []error{s.PutSubscription(ctx, sub), s.DeleteSubscription(t.Context(), "missing")} {
		if err == nil {
			continue
		}
		for _, leak := range []string{secret, "client-secret-value"} {
			if msg := err.Error(); strings.Contains(msg, leak) {
				t.Errorf("error %q leaks a secret", msg)
			}
		}
	}
	if err := s.PutSubscription(t.Context(), sub); err != nil {
		t.Fatal(err)
	}
	subs, err := s.ListSubscriptions(t.Context())
	if err != nil || len(subs) != 1 || subs[0].Secrets[0] != secret || subs[0].OAuth2.ClientSecret != "client-secret-value" {
		t.Fatalf("round trip: %v %+v", err, subs)
	}
}

// TestAppendRacing: two instances append the same new events in opposite
// orders at once, many times. PostgreSQL may abort one of them as a
// deadlock (each waits on the other's uncommitted event id); AppendEvents
// retries it, so both calls succeed, and each event is stored once: one
// call reports it new, the other a duplicate.
func TestAppendRacing(t *testing.T) {
	dsn := testDSN(t)
	t.Parallel()
	schema := testSchema(t, dsn)
	a := openStore(t, dsn, schema, pgstore.Config{})
	b := openStore(t, dsn, schema, pgstore.Config{})
	ctx := t.Context()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for round := range 15 {
		var recs []shipevents.AppendRecord
		for i := range 4 {
			// Rounds alternate between events of one shipment (the
			// shipment lock serializes the two calls) and events without
			// a shipment key (nothing serializes them: they may deadlock
			// on each other's event ids, and are retried).
			tracking := "1ZRACE"
			if round%3 == 1 {
				tracking = ""
			}
			e := shipmentEvent(fmt.Sprintf("race-%d-%d", round, i), tracking, at.Add(time.Duration(round*10+i)*time.Second))
			recs = append(recs, shipevents.AppendRecord{Event: e, Deliveries: []shipevents.NewDelivery{
				{ID: shipevents.DeliveryID(e.Key(), "s"), SubscriptionID: "s", NextAttemptAt: at},
			}})
		}
		rev := slices.Clone(recs)
		slices.Reverse(rev)
		var wg sync.WaitGroup
		var resA, resB []shipevents.AppendResult
		var errA, errB error
		wg.Go(func() { resA, errA = a.AppendEvents(ctx, recs) })
		wg.Go(func() { resB, errB = b.AppendEvents(ctx, rev) })
		wg.Wait()
		if errA != nil || errB != nil {
			t.Fatalf("round %d: %v / %v", round, errA, errB)
		}
		outcomes := map[string][]shipevents.AppendOutcome{}
		created := map[string]int{}
		for _, r := range append(resA, resB...) {
			outcomes[r.EventID] = append(outcomes[r.EventID], r.Outcome)
			created[r.EventID] += r.Deliveries
		}
		for id, o := range outcomes {
			dup := slices.Index(o, shipevents.AppendDuplicate)
			if len(o) != 2 || dup < 0 || o[1-dup] == shipevents.AppendDuplicate || created[id] != 1 {
				t.Errorf("round %d: event %s: outcomes %v, %d deliveries; want one duplicate and one stored with 1 delivery", round, id, o, created[id])
			}
		}
	}
	key := shipmentEvent("x", "1ZRACE", at)
	st, err := a.ShipmentState(ctx, key.Shipment())
	if err != nil {
		t.Fatal(err)
	}
	if st.EventID != "race-14-3" {
		t.Errorf("shipment state set by %s, want the latest event race-14-3", st.EventID)
	}
	var dl int64
	if err := adminPool(t, dsn).QueryRow(ctx, `SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`).Scan(&dl); err == nil {
		t.Logf("deadlocks detected in this database so far (all tests; statistics lag): %d", dl)
	}
}

// TestPoisonedText: PostgreSQL refuses NUL bytes in text, so an event
// holding one can never be stored. Publish refuses it up front, naming its
// index, and the batch's valid events can then be published; a store call
// that gets one anyway fails with a permanent error, never one that looks
// like an outage worth retrying.
func TestPoisonedText(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	d := shipevents.NewDispatcher(shipevents.DispatcherConfig{Store: s})
	if err := d.Subscribe(ctx, webhookSub("s", "https://example.com/h")); err != nil {
		t.Fatal(err)
	}
	batch := makeEvents("poison", 3)
	batch[1].TrackingNumber = "1Z\x00"

	res, err := d.Publish(ctx, batch...)
	t.Logf("Publish of a batch with a poisoned event: results %v, error %v", res, err)
	var ee *shipevents.EventError
	if !errors.Is(err, shipevents.ErrInvalidEvent) || !errors.As(err, &ee) || ee.Index != 1 {
		t.Fatalf("Publish = %v, want an EventError for index 1 matching ErrInvalidEvent", err)
	}
	valid := slices.Delete(slices.Clone(batch), ee.Index, ee.Index+1)
	res, err = d.Publish(ctx, valid...)
	if err != nil {
		t.Fatalf("publishing the valid events: %v", err)
	}
	for _, r := range res {
		if r.Outcome != shipevents.AppendNew || r.Deliveries != 1 {
			t.Errorf("result %+v, want new with one delivery", r)
		}
	}

	_, err = s.AppendEvents(ctx, []shipevents.AppendRecord{{Event: batch[1]}})
	t.Logf("AppendEvents of the poisoned event: %v", err)
	if !errors.Is(err, shipevents.ErrPermanent) {
		t.Errorf("AppendEvents = %v, want an error matching ErrPermanent", err)
	}
	dup := batch[0]
	dup.ID = "poison-other"
	if _, err := s.AppendEvents(ctx, []shipevents.AppendRecord{{Event: dup, Deliveries: []shipevents.NewDelivery{
		{ID: "d1", SubscriptionID: "s\xff", NextAttemptAt: time.Now()}}}}); !errors.Is(err, shipevents.ErrPermanent) {
		t.Errorf("AppendEvents with an invalid UTF-8 subscription id = %v, want ErrPermanent", err)
	}
	if err := s.PutSubscription(ctx, webhookSub("s\x00", "https://example.com/h")); !errors.Is(err, shipevents.ErrPermanent) {
		t.Errorf("PutSubscription with a NUL in the id = %v, want ErrPermanent", err)
	}
}

// TestStoredSubscriptionsKeepTheirState: bodies stored in the earlier
// form, with "active" and no "disabled", keep their state, and bodies
// written now still carry "active" for instances that read only that.
func TestStoredSubscriptionsKeepTheirState(t *testing.T) {
	s := newTestStore(t)
	ctx := t.Context()
	for id, active := range map[string]bool{"was-inactive": false, "was-active": true} {
		body := fmt.Sprintf(`{"id":%q,"url":"https://example.com/h","enabled_events":["*"],"active":%v,"disabled_reason":"410"}`, id, active)
		if _, err := s.Pool().Exec(ctx, `INSERT INTO subscriptions (id, tenant_id, body, updated_at) VALUES ($1, '', $2, now())`, id, body); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutSubscription(ctx, shipevents.Subscription{ID: "now-disabled", URL: "https://example.com/h", EnabledEvents: []string{"*"}, Disabled: true}); err != nil {
		t.Fatal(err)
	}
	subs, err := s.ListSubscriptions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{"was-inactive": true, "was-active": false, "now-disabled": true}
	for _, sub := range subs {
		if sub.Disabled != want[sub.ID] {
			t.Errorf("%s: Disabled = %v, want %v", sub.ID, sub.Disabled, want[sub.ID])
		}
	}
	var active bool
	if err := s.Pool().QueryRow(ctx, `SELECT (body->>'active')::bool FROM subscriptions WHERE id = 'now-disabled'`).Scan(&active); err != nil || active {
		t.Errorf(`stored body of a disabled subscription has "active": %v (%v), want false`, active, err)
	}
}
