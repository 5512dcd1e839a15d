package main_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/pgstore"
)

const dsnEnv = "SHIPEVENTS_PG_DSN"

// testDSN returns the test database's DSN, or skips the test.
func testDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn == "" {
		t.Skipf("%s is not set: skipping the PostgreSQL commands (e.g. %s=postgres://postgres@127.0.0.1:5432/test?sslmode=disable)", dsnEnv, dsnEnv)
	}
	return dsn
}

// testSchema returns a fresh schema name, dropped when the test ends.
func testSchema(t *testing.T, dsn string) string {
	t.Helper()
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "shipevents_cli_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return schema
}

// pg runs the command against the test database: the DSN from the
// environment, as operators are told to give it, and the schema by flag.
func pg(t *testing.T, dsn, schema string, args ...string) result {
	t.Helper()
	return cli{args: append(args, "-schema", schema), env: []string{dsnEnv + "=" + dsn}}.run(t)
}

// jsonLines decodes one JSON object per line of out.
func jsonLines[T any](t *testing.T, out string) []T {
	t.Helper()
	var items []T
	for line := range strings.Lines(out) {
		var v T
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		items = append(items, v)
	}
	return items
}

type eventLine struct {
	Seq               int64            `json:"seq"`
	Late              bool             `json:"late"`
	StoredAt          time.Time        `json:"stored_at"`
	PendingDeliveries int              `json:"pending_deliveries"`
	Event             shipevents.Event `json:"event"`
}

type deliveryLine struct {
	ID             string `json:"id"`
	TenantID       string `json:"tenant_id"`
	EventID        string `json:"event_id"`
	SubscriptionID string `json:"subscription_id"`
	State          string `json:"state"`
	Attempts       int    `json:"attempts"`
	LastError      string `json:"last_error"`
	LastStatusCode int    `json:"last_status_code"`
}

// eventIDs returns the keys of the listed events, tenant and id, as text.
func eventIDs(lines []eventLine) []string {
	ids := make([]string, len(lines))
	for i, l := range lines {
		ids[i] = l.Event.Key().String()
	}
	return ids
}

func TestPostgresMigrate(t *testing.T) {
	dsn := testDSN(t)
	schema := testSchema(t, dsn)
	latest := pgstore.LatestVersion()

	r := pg(t, dsn, schema, "events")
	wantExit(t, r, 3)
	if !strings.Contains(r.stderr, "run shipevents migrate") {
		t.Errorf("events on an unmigrated schema: stderr %q, want a pointer to migrate", r.stderr)
	}
	r = pg(t, dsn, schema, "migrate", "-status")
	wantExit(t, r, 1)
	if !strings.Contains(r.stdout, fmt.Sprintf("schema %s: version 0, latest %d", schema, latest)) {
		t.Errorf("migrate -status: %s", r)
	}
	r = pg(t, dsn, schema, "migrate")
	wantExit(t, r, 0)
	if !strings.Contains(r.stdout, fmt.Sprintf("migrated from version 0 to %d", latest)) {
		t.Errorf("migrate: %s", r)
	}
	r = pg(t, dsn, schema, "migrate")
	wantExit(t, r, 0)
	if !strings.Contains(r.stdout, fmt.Sprintf("already at version %d", latest)) {
		t.Errorf("migrate again: %s", r)
	}
	wantExit(t, pg(t, dsn, schema, "migrate", "-status"), 0)

	// The store the library opens on that schema is at the version too.
	ctx := context.Background()
	s, err := pgstore.Open(ctx, dsn, pgstore.Config{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if v, err := s.Version(ctx); err != nil || v != latest {
		t.Errorf("Version = %d, %v; want %d", v, err, latest)
	}
}

// publishFixtures publishes the events of a few payloads through a
// dispatcher on the schema: UPS scans for tenant acme, FedEx scans and a
// fulfillment shipment.created for no tenant, and the same DHL scans for
// no tenant and for tenant globex (two events for each id). It returns
// them by carrier ("" for the fulfillment event).
func publishFixtures(t *testing.T, d *shipevents.Dispatcher) map[string][]shipevents.Event {
	t.Helper()
	byCarrier := map[string][]shipevents.Event{}
	for _, f := range []struct{ format, file, tenant string }{
		{"ups", "track_2k.json", "acme"}, {"fedex", "delivered.json", ""}, {"dhl", "express_transit.json", ""},
		{"dhl", "express_transit.json", "globex"}, {"fulfillment", "shipment_created.json", ""},
	} {
		raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", f.format, f.file))
		if err != nil {
			t.Fatal(err)
		}
		events, err := shipevents.Normalize(f.format, raw)
		if err != nil {
			t.Fatal(err)
		}
		for i := range events {
			events[i].TenantID = f.tenant
		}
		res, err := d.Publish(context.Background(), events...)
		if err != nil {
			t.Fatal(err)
		}
		for _, pr := range res {
			if pr.Outcome == shipevents.AppendDuplicate {
				t.Fatalf("event %s/%s published twice", pr.TenantID, pr.EventID)
			}
		}
		byCarrier[events[0].Carrier] = append(byCarrier[events[0].Carrier], events...)
	}
	return byCarrier
}

// deadEndpoint answers every webhook with 400, which the retry policy
// does not retry: each delivery becomes a dead letter at its first attempt.
func deadEndpoint(ctx context.Context, m *shipevents.Message) (shipevents.Response, error) {
	return shipevents.Response{StatusCode: 400}, &shipevents.HTTPError{StatusCode: 400, Body: "bad request"}
}

func TestPostgresListAndReplay(t *testing.T) {
	dsn := testDSN(t)
	schema := testSchema(t, dsn)
	ctx := context.Background()
	wantExit(t, pg(t, dsn, schema, "migrate"), 0)

	s, err := pgstore.Open(ctx, dsn, pgstore.Config{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	d := shipevents.NewDispatcher(shipevents.DispatcherConfig{Store: s, Sender: shipevents.SenderFunc(deadEndpoint),
		DisableDeliveryEvents: true, PollInterval: 20 * time.Millisecond})
	secret, _ := shipevents.GenerateSecret()
	sub := shipevents.Subscription{ID: "oms", URL: "https://oms.example.com/hooks", EnabledEvents: []string{"shipments/in_transit"},
		Secrets: []string{secret}}
	if err := d.Subscribe(ctx, sub); err != nil {
		t.Fatal(err)
	}
	byCarrier := publishFixtures(t, d)
	var all []shipevents.Event // in a fixed order, so that wantDead is
	for _, carrier := range []string{"fedex", "ups", "dhl", ""} {
		all = append(all, byCarrier[carrier]...)
	}

	t.Run("events", func(t *testing.T) {
		r := pg(t, dsn, schema, "events", "-o", "json", "-limit", "1000")
		wantExit(t, r, 0)
		lines := jsonLines[eventLine](t, r.stdout)
		if len(lines) != len(all) {
			t.Fatalf("%d events listed, want the %d published", len(lines), len(all))
		}
		for i := 1; i < len(lines); i++ {
			if lines[i].Seq >= lines[i-1].Seq {
				t.Errorf("events not newest first: seq %d after %d", lines[i].Seq, lines[i-1].Seq)
			}
		}
		// Each listed event is the one published.
		published := map[shipevents.EventKey]shipevents.Event{}
		for _, e := range all {
			published[e.Key()] = e
		}
		for _, l := range lines {
			want, ok := published[l.Event.Key()]
			if !ok {
				t.Fatalf("listed event %s was not published", l.Event.Key())
			}
			gb, _ := json.Marshal(&l.Event)
			wb, _ := json.Marshal(&want)
			if string(gb) != string(wb) {
				t.Errorf("event %s listed as\n%s\nwant\n%s", l.Event.ID, gb, wb)
			}
		}
		if want := fmt.Sprintf("%d of %d events\n", len(all), len(all)); r.stderr != want {
			t.Errorf("stderr %q, want %q", r.stderr, want)
		}
	})

	t.Run("filters", func(t *testing.T) {
		ups := byCarrier["ups"]
		mid := ups[len(ups)/2].OccurredAt
		cases := []struct {
			args   []string
			filter shipevents.EventFilter
			want   func(e *shipevents.Event) bool
		}{
			{[]string{"-carrier", "ups"}, shipevents.EventFilter{Carrier: "ups"},
				func(e *shipevents.Event) bool { return e.Carrier == "ups" }},
			{[]string{"-tenant", "acme"}, shipevents.EventFilter{TenantID: "acme"},
				func(e *shipevents.Event) bool { return e.TenantID == "acme" }},
			{[]string{"-tracking", ups[0].TrackingNumber}, shipevents.EventFilter{TrackingNumber: ups[0].TrackingNumber},
				func(e *shipevents.Event) bool { return e.TrackingNumber == ups[0].TrackingNumber }},
			{[]string{"-ref", "shipments/in_transit"}, shipevents.EventFilter{RefPattern: "shipments/in_transit"},
				func(e *shipevents.Event) bool { return shipevents.MatchRef("shipments/in_transit", e.Ref) }},
			{[]string{"-type", "shipment.created,order.updated", "-type", "claim.created"}, shipevents.EventFilter{Types: []string{"shipment.created", "order.updated", "claim.created"}},
				func(e *shipevents.Event) bool { return e.Type == "shipment.created" }},
			{[]string{"-carrier", "ups", "-since", mid.Format(time.RFC3339Nano)}, shipevents.EventFilter{Carrier: "ups", OccurredAfter: mid},
				func(e *shipevents.Event) bool { return e.Carrier == "ups" && !e.OccurredAt.Before(mid) }},
			{[]string{"-carrier", "ups", "-until", mid.Format(time.RFC3339Nano)}, shipevents.EventFilter{Carrier: "ups", OccurredBefore: mid},
				func(e *shipevents.Event) bool { return e.Carrier == "ups" && e.OccurredAt.Before(mid) }},
		}
		for _, c := range cases {
			t.Run(strings.Join(c.args, " "), func(t *testing.T) {
				r := pg(t, dsn, schema, append([]string{"events", "-o", "json", "-all", "-limit", "2"}, c.args...)...)
				wantExit(t, r, 0)
				got := eventIDs(jsonLines[eventLine](t, r.stdout))
				// The library's answer to the same filter...
				c.filter.Limit = shipevents.MaxPageSize
				page, err := d.Events(ctx, c.filter)
				if err != nil {
					t.Fatal(err)
				}
				var lib []string
				for _, se := range page.Items {
					lib = append(lib, se.Event.Key().String())
				}
				if !slices.Equal(got, lib) {
					t.Errorf("events %v: %v\nthe library lists %v", c.args, got, lib)
				}
				// ...and what was published.
				var want []string
				for i := range all {
					if c.want(&all[i]) {
						want = append(want, all[i].Key().String())
					}
				}
				if len(want) == 0 || len(want) == len(all) {
					t.Fatalf("the filter selects %d of %d events: it proves nothing", len(want), len(all))
				}
				if !sameSet(got, want) {
					t.Errorf("events %v: %d events %v, want %d %v", c.args, len(got), got, len(want), want)
				}
			})
		}
	})

	t.Run("paging", func(t *testing.T) {
		r := pg(t, dsn, schema, "events", "-o", "json", "-all")
		wantExit(t, r, 0)
		everything := eventIDs(jsonLines[eventLine](t, r.stdout))
		var paged []string
		var cursors []string
		args := []string{"events", "-o", "json", "-limit", "3"}
		for page := 0; ; page++ {
			r := pg(t, dsn, schema, args...)
			wantExit(t, r, 0)
			paged = append(paged, eventIDs(jsonLines[eventLine](t, r.stdout))...)
			_, next, ok := strings.Cut(r.stderr, "next page: -after ")
			if !ok {
				break
			}
			next, _, _ = strings.Cut(strings.TrimSpace(next), ";")
			cursors = append(cursors, next)
			args = []string{"events", "-o", "json", "-limit", "3", "-after", next}
			if page > len(all) {
				t.Fatal("paging does not end")
			}
		}
		if !slices.Equal(paged, everything) {
			t.Errorf("pages of 3 give %v, want %v", paged, everything)
		}
		// -before the second page's start goes back to the first page.
		r = pg(t, dsn, schema, "events", "-o", "json", "-limit", "3", "-after", cursors[0])
		_, prev, ok := strings.Cut(r.stderr, "previous page: -before ")
		if !ok {
			t.Fatalf("the second page offers no previous page: %q", r.stderr)
		}
		r = pg(t, dsn, schema, "events", "-o", "json", "-limit", "3", "-before", strings.TrimSpace(prev))
		wantExit(t, r, 0)
		if got := eventIDs(jsonLines[eventLine](t, r.stdout)); !slices.Equal(got, everything[:3]) {
			t.Errorf("-before gives %v, want the first page %v", got, everything[:3])
		}
		r = pg(t, dsn, schema, "events", "-after", "not-a-cursor")
		wantExit(t, r, 2)
		if !strings.Contains(r.stderr, shipevents.ErrInvalidCursor.Error()) {
			t.Errorf("stderr %q", r.stderr)
		}
	})

	t.Run("table", func(t *testing.T) {
		r := pg(t, dsn, schema, "events", "-carrier", "fedex")
		wantExit(t, r, 0)
		rows := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
		if len(rows) != 1+len(byCarrier["fedex"]) {
			t.Fatalf("%d lines, want a header and %d rows:\n%s", len(rows), len(byCarrier["fedex"]), r.stdout)
		}
		if !strings.HasPrefix(rows[0], "OCCURRED_AT") {
			t.Errorf("header %q", rows[0])
		}
		for _, e := range byCarrier["fedex"] {
			if !strings.Contains(r.stdout, e.ID+"  "+e.Type) {
				t.Errorf("no row for %s", e.ID)
			}
		}
	})

	// The dispatcher sends the in-transit events to the endpoint, which
	// refuses each: dead letters.
	var wantDead []string
	for _, e := range all {
		if shipevents.MatchRef("shipments/in_transit", e.Ref) {
			wantDead = append(wantDead, shipevents.DeliveryID(e.Key(), "oms"))
		}
	}
	if len(wantDead) < 3 {
		t.Fatalf("%d in-transit events: too few to replay one, then the rest", len(wantDead))
	}
	runUntilDead(t, d, len(wantDead))

	t.Run("dead-letters", func(t *testing.T) {
		r := pg(t, dsn, schema, "dead-letters", "-o", "json")
		wantExit(t, r, 0)
		lines := jsonLines[deliveryLine](t, r.stdout)
		var ids []string
		for _, l := range lines {
			ids = append(ids, l.ID)
			if l.State != "dead" || l.SubscriptionID != "oms" || l.Attempts != 1 || l.LastStatusCode != 400 {
				t.Errorf("dead letter %+v, want dead to oms after one attempt answered 400", l)
			}
		}
		if !sameSet(ids, wantDead) {
			t.Errorf("dead letters %v, want %v", ids, wantDead)
		}
		if want := fmt.Sprintf("%d of %d dead letters\n", len(wantDead), len(wantDead)); r.stderr != want {
			t.Errorf("stderr %q, want %q", r.stderr, want)
		}
		r = pg(t, dsn, schema, "dead-letters")
		wantExit(t, r, 0)
		if !strings.HasPrefix(r.stdout, "ID ") || !strings.Contains(r.stdout, wantDead[0]) || !strings.Contains(r.stdout, "  400  ") {
			t.Errorf("dead-letters table:\n%s", r.stdout)
		}
		r = pg(t, dsn, schema, "deliveries", "-state", "pending", "-o", "json")
		wantExit(t, r, 0)
		if r.stdout != "" {
			t.Errorf("pending deliveries before any replay:\n%s", r.stdout)
		}
		// The other filters, and every page of two.
		event := eventOf(t, s, wantDead[2])
		r = pg(t, dsn, schema, "deliveries", "-event", event.ID, "-tenant", event.TenantID, "-o", "json")
		wantExit(t, r, 0)
		if lines := jsonLines[deliveryLine](t, r.stdout); len(lines) != 1 || lines[0].ID != wantDead[2] || lines[0].EventID != event.ID {
			t.Errorf("deliveries -event %s: %+v, want only %s", event, lines, wantDead[2])
		}
		r = pg(t, dsn, schema, "deliveries", "-subscription", "billing", "-o", "json")
		wantExit(t, r, 0)
		if r.stdout != "" || r.stderr != "0 of 0 deliveries\n" {
			t.Errorf("deliveries of a subscription that has none:\n%s", r)
		}
		r = pg(t, dsn, schema, "deliveries", "-subscription", "oms", "-limit", "2", "-all", "-o", "json")
		wantExit(t, r, 0)
		var all []string
		for _, l := range jsonLines[deliveryLine](t, r.stdout) {
			all = append(all, l.ID)
		}
		if !sameSet(all, wantDead) {
			t.Errorf("deliveries -all in pages of 2: %v, want %v", all, wantDead)
		}
	})

	t.Run("replay", func(t *testing.T) {
		r := pg(t, dsn, schema, "replay", "-delivery", wantDead[0])
		wantExit(t, r, 0)
		if !strings.HasPrefix(r.stdout, "requeued 1 delivery") {
			t.Errorf("stdout %q", r.stdout)
		}
		wantStates(t, s, map[string]shipevents.DeliveryState{wantDead[0]: shipevents.DeliveryPending, wantDead[1]: shipevents.DeliveryDead})
		r = pg(t, dsn, schema, "deliveries", "-state", "pending", "-o", "json")
		wantExit(t, r, 0)
		if lines := jsonLines[deliveryLine](t, r.stdout); len(lines) != 1 || lines[0].ID != wantDead[0] || lines[0].Attempts != 1 {
			t.Errorf("pending deliveries after the replay: %+v, want %s with its attempt kept", lines, wantDead[0])
		}

		// An event's deliveries: globex's copy of a DHL scan, not the copy
		// without a tenant that has the same id.
		var globex shipevents.EventKey
		for _, e := range byCarrier["dhl"] {
			if e.TenantID == "globex" && shipevents.MatchRef("shipments/in_transit", e.Ref) {
				globex = e.Key()
				break
			}
		}
		if globex.ID == "" {
			t.Fatal("no in-transit DHL event for globex")
		}
		untenanted := shipevents.EventKey{ID: globex.ID}
		r = pg(t, dsn, schema, "replay", "-event", globex.ID, "-tenant", "globex")
		wantExit(t, r, 0)
		if !strings.HasPrefix(r.stdout, "requeued 1 delivery") {
			t.Errorf("stdout %q", r.stdout)
		}
		wantStates(t, s, map[string]shipevents.DeliveryState{
			shipevents.DeliveryID(globex, "oms"):     shipevents.DeliveryPending,
			shipevents.DeliveryID(untenanted, "oms"): shipevents.DeliveryDead,
		})
		r = pg(t, dsn, schema, "deliveries", "-event", globex.ID, "-tenant", "globex", "-o", "json")
		wantExit(t, r, 0)
		if lines := jsonLines[deliveryLine](t, r.stdout); len(lines) != 1 || lines[0].ID != shipevents.DeliveryID(globex, "oms") || lines[0].TenantID != "globex" || lines[0].State != "pending" {
			t.Errorf("deliveries of globex's event: %+v", lines)
		}
		r = pg(t, dsn, schema, "deliveries", "-event", globex.ID, "-o", "json")
		wantExit(t, r, 0)
		if lines := jsonLines[deliveryLine](t, r.stdout); len(lines) != 1 || lines[0].ID != shipevents.DeliveryID(untenanted, "oms") || lines[0].TenantID != "" || lines[0].State != "dead" {
			t.Errorf("deliveries of the event without a tenant: %+v", lines)
		}
		// A tenant's event is not found without its tenant.
		var acme shipevents.EventKey
		for _, e := range byCarrier["ups"] {
			if shipevents.MatchRef("shipments/in_transit", e.Ref) {
				acme = e.Key()
			}
		}
		if acme.TenantID != "acme" {
			t.Fatalf("no in-transit event of acme's (%s)", acme)
		}
		r = pg(t, dsn, schema, "replay", "-event", acme.ID)
		wantExit(t, r, 1)
		if !strings.Contains(r.stderr, shipevents.ErrNotFound.Error()) {
			t.Errorf("stderr %q", r.stderr)
		}

		// The rest of the subscription's dead letters.
		r = pg(t, dsn, schema, "replay", "-subscription", "oms")
		wantExit(t, r, 0)
		if want := fmt.Sprintf("requeued %d deliveries", len(wantDead)-2); !strings.HasPrefix(r.stdout, want) {
			t.Errorf("stdout %q, want %q", r.stdout, want)
		}
		states := map[string]shipevents.DeliveryState{}
		for _, id := range wantDead {
			states[id] = shipevents.DeliveryPending
		}
		wantStates(t, s, states)
		r = pg(t, dsn, schema, "dead-letters", "-o", "json")
		wantExit(t, r, 0)
		if r.stdout != "" {
			t.Errorf("dead letters left after replaying them all:\n%s", r.stdout)
		}
		// An event's deliveries again, whatever their state.
		r = pg(t, dsn, schema, "replay", "-event", acme.ID, "-tenant", acme.TenantID)
		wantExit(t, r, 0)
		if !strings.HasPrefix(r.stdout, "requeued 1 delivery") {
			t.Errorf("stdout %q", r.stdout)
		}
	})

	t.Run("unknown ids", func(t *testing.T) {
		for _, args := range [][]string{{"replay", "-delivery", "no-such-delivery"}, {"replay", "-event", "no-such-event"}} {
			r := pg(t, dsn, schema, args...)
			wantExit(t, r, 1)
			if !strings.Contains(r.stderr, shipevents.ErrNotFound.Error()) || !strings.Contains(r.stderr, args[2]) {
				t.Errorf("%v: stderr %q", args, r.stderr)
			}
		}
	})
}

// runUntilDead runs the dispatcher until n deliveries are dead, then
// stops it, so that nothing claims what the test replays.
func runUntilDead(t *testing.T, d *shipevents.Dispatcher, n int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var runErr error
	wg.Go(func() { runErr = d.Run(ctx) })
	defer func() {
		cancel()
		wg.Wait()
		if runErr != nil && !errors.Is(runErr, context.Canceled) {
			t.Errorf("Run: %v", runErr)
		}
	}()
	// A generous bound, polled: it only ends a run that is stuck.
	deadline := time.Now().Add(2 * time.Minute)
	for {
		page, err := d.Deliveries(context.Background(), shipevents.DeliveryFilter{State: shipevents.DeliveryDead, Limit: shipevents.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Items) == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d deliveries dead after two minutes", len(page.Items), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func wantStates(t *testing.T, s *pgstore.Store, want map[string]shipevents.DeliveryState) {
	t.Helper()
	page, err := s.ListDeliveries(context.Background(), shipevents.DeliveryFilter{Limit: shipevents.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]shipevents.DeliveryState{}
	for _, d := range page.Items {
		got[d.ID] = d.State
	}
	for id, st := range want {
		if got[id] != st {
			t.Errorf("delivery %s is %q, want %q", id, got[id], st)
		}
	}
}

// eventOf returns the key of a delivery's event.
func eventOf(t *testing.T, s *pgstore.Store, deliveryID string) shipevents.EventKey {
	t.Helper()
	page, err := s.ListDeliveries(context.Background(), shipevents.DeliveryFilter{Limit: shipevents.MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range page.Items {
		if d.ID == deliveryID {
			return d.EventKey()
		}
	}
	t.Fatalf("no delivery %s", deliveryID)
	return shipevents.EventKey{}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

func TestPostgresPasswordNeverPrinted(t *testing.T) {
	const password = "Hunter2-Secret-7f3a"
	// No server needed: a DSN pgx cannot parse, and one whose server
	// refuses the connection.
	for _, dsn := range []string{
		"postgres://postgres:" + password + "@127.0.0.1:notaport/x",
		"host=127.0.0.1 port=1 user=postgres password=" + password + " dbname=x connect_timeout=5",
	} {
		r := cli{args: []string{"events"}, env: []string{dsnEnv + "=" + dsn}}.run(t)
		wantExit(t, r, 3)
		if strings.Contains(r.stdout+r.stderr, password) {
			t.Errorf("the output shows the password:\n%s", r)
		}
		if !strings.HasPrefix(r.stderr, "shipevents events: pgstore: open") {
			t.Errorf("stderr %q", r.stderr)
		}
	}
	// A server that answers, for a database that does not exist.
	base := testDSN(t)
	u, err := url.Parse(base)
	if err != nil || u.Scheme == "" {
		t.Skipf("%s is not a URL; the rest needs one", dsnEnv)
	}
	u.User = url.UserPassword(u.User.Username(), password)
	u.Path = "/shipevents_cli_no_such_database"
	r := cli{args: []string{"migrate", "-dsn", u.String()}}.run(t)
	wantExit(t, r, 3)
	if strings.Contains(r.stdout+r.stderr, password) {
		t.Errorf("the output shows the password:\n%s", r)
	}
	if !strings.Contains(r.stderr, "shipevents_cli_no_such_database") {
		t.Errorf("stderr %q does not say which database", r.stderr)
	}
}

func TestPostgresUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"events"}, "no database: set SHIPEVENTS_PG_DSN or give -dsn"},
		{[]string{"replay", "-dsn", "postgres://h/db"}, "give one of -delivery, -event and -subscription"},
		{[]string{"replay", "-dsn", "postgres://h/db", "-delivery", "a", "-event", "b"}, "give one of"},
		{[]string{"replay", "-dsn", "postgres://h/db", "-subscription", "oms", "-tenant", "acme"}, "-tenant names the tenant of an -event"},
		{[]string{"deliveries", "-dsn", "postgres://h/db", "-state", "lost"}, `-state "lost"`},
		{[]string{"events", "-dsn", "postgres://h/db", "-ref", "shipments//x"}, "-ref"},
		{[]string{"events", "-dsn", "postgres://h/db", "-limit", "5000"}, "-limit 5000"},
		{[]string{"events", "-dsn", "postgres://h/db", "-o", "yaml"}, `-o "yaml"`},
		{[]string{"events", "-dsn", "postgres://h/db", "-after", "x", "-before", "y"}, "-before goes one way"},
		{[]string{"events", "-dsn", "postgres://h/db", "-since", "last tuesday"}, "is not a time"},
		{[]string{"migrate", "-dsn", "postgres://h/db", "now"}, "unexpected argument"},
	}
	for _, c := range cases {
		r := runCLI(t, c.args...)
		wantExit(t, r, 2)
		if !strings.Contains(r.stderr, c.want) {
			t.Errorf("%q: stderr %q, want %q", c.args, r.stderr, c.want)
		}
	}
}
