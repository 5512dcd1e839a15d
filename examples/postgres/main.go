// Command postgres is the quickstart flow on PostgreSQL with two
// dispatcher instances sharing one schema: it normalizes the UPS payloads
// in testdata/ups, for two shops (tenants) that track the same parcels,
// starts a local webhook receiver, publishes the events through both
// instances (and again through one: duplicates create nothing), lets both
// instances deliver, and prints what was delivered and by whom. It creates
// its own schema and drops it at the end.
//
// The DSN comes from SHIPEVENTS_PG_DSN (default
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable). From the
// repository root:
//
//	go run ./examples/postgres
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/pgstore"
)

// DefaultDSN is used when SHIPEVENTS_PG_DSN is not set.
const DefaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

func main() {
	dir := flag.String("testdata", "", "directory of UPS payloads (default: testdata/ups found from the working directory up)")
	flag.Parse()
	dsn := os.Getenv("SHIPEVENTS_PG_DSN")
	if dsn == "" {
		dsn = DefaultDSN
	}
	if err := run(context.Background(), os.Stdout, dsn, *dir); err != nil {
		log.Fatal(err)
	}
}

// findTestdata looks for testdata/ups in the working directory and its
// parents, so the example runs from the repository root or from pgstore.
func findTestdata() (string, error) {
	for _, up := range []string{".", "..", "../..", "../../.."} {
		p := filepath.Join(up, "testdata", "ups")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("testdata/ups not found; run from the repository root or pass -testdata")
}

// receiver is a local webhook endpoint that counts what it received.
type receiver struct {
	url  string
	mu   sync.Mutex
	seen map[string]int // path + " " + webhook-id -> requests
}

func startReceiver() (*receiver, func(), error) {
	rc := &receiver{seen: map[string]int{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		rc.mu.Lock()
		rc.seen[r.URL.Path+" "+r.Header.Get(shipevents.HeaderWebhookID)]++
		rc.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	rc.url = "http://" + ln.Addr().String()
	return rc, func() { _ = srv.Close() }, nil
}

func run(ctx context.Context, w io.Writer, dsn, dir string) (err error) {
	// 1. Events: every UPS payload of testdata, normalized.
	if dir == "" {
		if dir, err = findTestdata(); err != nil {
			return err
		}
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	var events []shipevents.Event
	payloads := 0
	for _, p := range paths {
		if strings.HasSuffix(p, ".golden.json") {
			continue
		}
		payloads++
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		evs, err := shipevents.Normalize(shipevents.FormatUPS, raw)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		events = append(events, evs...)
	}
	if len(events) == 0 {
		return fmt.Errorf("no UPS payloads in %s", dir)
	}
	fmt.Fprintf(w, "normalized %d events from %d UPS payloads\n", len(events), payloads)
	// Two shops track the same parcels, so each gets the same scans with
	// the same ids. Each sets its tenant before publishing: an event is
	// known by tenant and id together, so each shop's copy is an event of
	// its own.
	tenants := []string{"shop-a", "shop-b"}
	scans := events
	events = nil
	for _, tenant := range tenants {
		for _, e := range scans {
			e.TenantID = tenant
			events = append(events, e)
		}
	}

	// 2. Two instances, each with its own Store (its own pool), on a schema
	// of their own. Migrate is safe to run from both at once.
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	schema := "shipevents_example_" + hex.EncodeToString(b)
	var stores [2]*pgstore.Store
	for i := range stores {
		s, err := pgstore.Open(ctx, dsn, pgstore.Config{Schema: schema, ApplicationName: fmt.Sprintf("shipevents-example-%d", i+1)})
		if err != nil {
			return err
		}
		defer s.Close()
		stores[i] = s
	}
	defer func() {
		// Drop the schema, whatever happened.
		_, derr := stores[0].Pool().Exec(context.WithoutCancel(ctx), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		if derr == nil {
			fmt.Fprintf(w, "dropped schema %s\n", schema)
		}
		err = errors.Join(err, derr)
	}()
	var wg sync.WaitGroup
	var merr [2]error
	for i, s := range stores {
		wg.Go(func() { merr[i] = s.Migrate(ctx) })
	}
	wg.Wait()
	if err := errors.Join(merr[:]...); err != nil {
		return err
	}
	fmt.Fprintf(w, "schema %s at version %d\n", schema, pgstore.LatestVersion())

	// 3. A local receiver; the HTTP sender is told loopback is allowed (it
	// refuses internal addresses by default).
	rc, stop, err := startReceiver()
	if err != nil {
		return err
	}
	defer stop()
	var ds [2]*shipevents.Dispatcher
	for i, s := range stores {
		ds[i] = shipevents.NewDispatcher(shipevents.DispatcherConfig{
			Store: s, Name: fmt.Sprintf("instance-%d", i+1), PollInterval: 20 * time.Millisecond,
			Sender: shipevents.NewHTTPSender(shipevents.HTTPSenderConfig{
				Policy: shipevents.AddressPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
			}),
		})
	}
	secret, err := shipevents.GenerateSecret()
	if err != nil {
		return err
	}
	// crm takes every shop's events; notifications only shop-a's.
	subs := []shipevents.Subscription{
		{ID: "crm", URL: rc.url + "/crm", EnabledEvents: []string{"shipments"}, Secrets: []string{secret}},
		{ID: "notifications", TenantID: "shop-a", URL: rc.url + "/notifications",
			EnabledEvents: []string{"shipments/delivered", "shipments/in_delivery/OUT_FOR_DELIVERY"}},
	}
	for _, s := range subs {
		if err := ds[0].Subscribe(ctx, s); err != nil {
			return err
		}
	}
	if err := ds[1].ReloadSubscriptions(ctx); err != nil {
		return err
	}
	runCtx, cancel := context.WithCancel(ctx)
	var runErr [2]error
	var runWG sync.WaitGroup
	for i, d := range ds {
		runWG.Go(func() { runErr[i] = d.Run(runCtx) })
	}
	stopRun := func() error { cancel(); runWG.Wait(); return errors.Join(runErr[:]...) }
	defer stopRun() //nolint:errcheck // the normal path checks it below

	// 4. Publish through both instances at once, each shop's shipment
	// through one of them, one call per shipment as webhooks would arrive;
	// then all of the events again through instance 2: the store knows
	// them by tenant and id, so nothing is created twice.
	var order []shipevents.ShipmentKey
	byShipment := map[shipevents.ShipmentKey][]shipevents.Event{}
	for _, e := range events {
		k := e.Shipment()
		if _, ok := byShipment[k]; !ok {
			order = append(order, k)
		}
		byShipment[k] = append(byShipment[k], e)
	}
	var pubRes [2][]shipevents.PublishResult
	var pubErr [2]error
	for i := range ds {
		wg.Go(func() {
			for j := i; j < len(order); j += len(ds) {
				res, err := ds[i].Publish(ctx, byShipment[order[j]]...)
				if err != nil {
					pubErr[i] = err
					return
				}
				pubRes[i] = append(pubRes[i], res...)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(pubErr[:]...); err != nil {
		return err
	}
	for i, res := range pubRes {
		outcomes := map[shipevents.AppendOutcome]int{}
		created := 0
		for _, r := range res {
			outcomes[r.Outcome]++
			created += r.Deliveries
		}
		fmt.Fprintf(w, "instance-%d published %d events: %d new, %d late (did not move their shipment's status), %d deliveries\n",
			i+1, len(res), outcomes[shipevents.AppendNew], outcomes[shipevents.AppendLate], created)
	}
	res, err := ds[1].Publish(ctx, events...)
	if err != nil {
		return err
	}
	dups := 0
	for _, r := range res {
		if r.Outcome == shipevents.AppendDuplicate {
			dups++
		}
	}
	fmt.Fprintf(w, "instance-2 published all %d events again: %d duplicates, nothing created\n", len(events), dups)

	// 5. Wait until no delivery is pending or in flight.
	deadline := time.Now().Add(30 * time.Second)
	for {
		busy := 0
		for _, st := range []shipevents.DeliveryState{shipevents.DeliveryPending, shipevents.DeliveryInFlight} {
			p, err := stores[0].ListDeliveries(ctx, shipevents.DeliveryFilter{State: st, Limit: 1})
			if err != nil {
				return err
			}
			busy += p.PageInfo.Count
		}
		if busy == 0 {
			break
		}
		if time.Now().After(deadline) {
			return errors.New("deliveries did not settle within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := stopRun(); err != nil {
		return err
	}

	// 6. What happened.
	for _, s := range subs {
		p, err := stores[1].ListDeliveries(ctx, shipevents.DeliveryFilter{SubscriptionID: s.ID, State: shipevents.DeliverySucceeded})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "subscription %-13s delivered %d\n", s.ID, p.PageInfo.Count)
	}
	for i, d := range ds {
		fmt.Fprintf(w, "instance-%d sent %d\n", i+1, d.Stats().Succeeded)
	}
	rc.mu.Lock()
	var lines []string
	more := 0
	for k, n := range rc.seen {
		lines = append(lines, k)
		if n > 1 {
			more++
		}
	}
	rc.mu.Unlock()
	sort.Strings(lines)
	fmt.Fprintf(w, "receiver got %d distinct (endpoint, webhook-id) pairs, %d more than once\n", len(lines), more)
	for _, tenant := range tenants {
		key := scans[len(scans)-1].Shipment()
		key.TenantID = tenant
		st, err := stores[1].ShipmentState(ctx, key)
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "shipment %s: current status %s (%s, event %s)\n", key, st.Status, st.EventName, st.EventID)
	}
	page, err := stores[1].ListEvents(ctx, shipevents.EventFilter{Limit: 3})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "events stored: %d (shipment events and the dispatchers' webhooks/delivered events); newest:\n", page.PageInfo.Count)
	for _, e := range page.Items {
		fmt.Fprintf(w, "  #%d %s %s\n", e.Seq, e.Event.Ref, e.Event.Key())
	}
	return nil
}
