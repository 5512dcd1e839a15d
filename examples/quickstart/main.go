// Command quickstart shows the whole shipevents flow on one machine, with
// the in-memory store: it normalizes the carrier payloads in testdata/,
// starts local webhook receivers (one healthy, one that fails twice before
// it recovers, one that is gone), publishes the events, and prints what was
// delivered, retried, dead-lettered and replayed, then one shipment's
// journey.
//
// Run it from the repository root:
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shipevents/shipevents"
)

func main() {
	dir := flag.String("testdata", "testdata", "directory of carrier payloads, one subdirectory per format")
	flag.Parse()
	if err := run(*dir); err != nil {
		log.Fatal(err)
	}
}

// endpoint is a local webhook receiver that counts what it accepted.
type endpoint struct {
	name     string
	url      string
	mu       sync.Mutex
	accepted map[string]int
	calls    map[string]int
	answer   func(calls int) int // HTTP status for the n-th call of an event
}

func startEndpoint(name string, answer func(calls int) int) (*endpoint, func(), error) {
	ep := &endpoint{name: name, accepted: map[string]int{}, calls: map[string]int{}, answer: answer}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		id := r.Header.Get(shipevents.HeaderWebhookID)
		ep.mu.Lock()
		ep.calls[id]++
		code := ep.answer(ep.calls[id])
		if code < 300 {
			ep.accepted[id]++
		}
		ep.mu.Unlock()
		w.WriteHeader(code)
	})}
	go func() { _ = srv.Serve(ln) }()
	ep.url = "http://" + ln.Addr().String() + "/hooks/" + name
	return ep, func() { _ = srv.Close() }, nil
}

func run(dir string) error {
	ctx := context.Background()

	// 1. Normalize every payload in testdata/<format>/*.json.
	var events []shipevents.Event
	perFormat := map[string]int{}
	for _, format := range shipevents.Formats() {
		paths, _ := filepath.Glob(filepath.Join(dir, format, "*.json"))
		for _, p := range paths {
			if strings.HasSuffix(p, ".golden.json") {
				continue
			}
			raw, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			evs, err := shipevents.Normalize(shipevents.FormatDetect, raw)
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
			events = append(events, evs...)
			perFormat[format] += len(evs)
		}
	}
	if len(events) == 0 {
		return fmt.Errorf("no payloads under %s (run from the repository root)", dir)
	}
	fmt.Printf("normalized %d events from %d formats:", len(events), len(perFormat))
	for _, f := range shipevents.Formats() {
		fmt.Printf(" %s=%d", f, perFormat[f])
	}
	fmt.Println()

	// 2. Local receivers.
	healthy, stop1, err := startEndpoint("crm", func(int) int { return http.StatusNoContent })
	if err != nil {
		return err
	}
	defer stop1()
	flaky, stop2, err := startEndpoint("notifications", func(n int) int {
		if n <= 2 {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	if err != nil {
		return err
	}
	defer stop2()
	gone, stop3, err := startEndpoint("legacy-erp", func(int) int { return http.StatusGone })
	if err != nil {
		return err
	}
	defer stop3()

	// 3. A dispatcher on the in-memory store. Receivers are on loopback, so
	// the sender must be told that is allowed (it refuses internal
	// addresses by default). The retry schedule is shortened for the demo.
	sender := shipevents.NewHTTPSender(shipevents.HTTPSenderConfig{
		Policy: shipevents.AddressPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
	})
	d := shipevents.NewDispatcher(shipevents.DispatcherConfig{
		Sender:       sender,
		Retry:        shipevents.RetryPolicy{Schedule: []time.Duration{50 * time.Millisecond, 100 * time.Millisecond, 200 * time.Millisecond}},
		PollInterval: 20 * time.Millisecond,
		// The demo prints its own report of the failures it provokes; left
		// nil, the logger is slog.Default() and shows each failed attempt
		// and dead letter on stderr.
		Logger: slog.New(slog.DiscardHandler),
	})
	secret, err := shipevents.GenerateSecret()
	if err != nil {
		return err
	}
	subs := []shipevents.Subscription{
		{ID: "crm", Name: "CRM: every shipment event", URL: healthy.url, EnabledEvents: []string{"shipments"}, Secrets: []string{secret}},
		{ID: "notifications", Name: "Customer notifications: delivery and failures", URL: flaky.url,
			EnabledEvents: []string{"shipments/delivered", "shipments/delivery_failed", "shipments/in_delivery/OUT_FOR_DELIVERY"}},
		{ID: "legacy-erp", Name: "Old ERP (decommissioned)", URL: gone.url, EnabledEvents: []string{"shipments"}},
	}
	for _, s := range subs {
		if err := d.Subscribe(ctx, s); err != nil {
			return err
		}
	}
	var audit sync.Map
	d.Handle("audit", func(ctx context.Context, e shipevents.Event) error {
		v, _ := audit.LoadOrStore(e.Ref, new(int))
		*(v.(*int))++ // handlers may run concurrently; the demo only reads the counts after Run returns
		return nil
	})
	if err := d.Subscribe(ctx, shipevents.Subscription{ID: "audit", Handler: "audit", EnabledEvents: []string{"webhooks"}}); err != nil {
		return err
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()

	// 4. Publish, then publish the same events again: duplicates are
	// recognised by id and create nothing.
	count := func(res []shipevents.PublishResult) map[shipevents.AppendOutcome]int {
		m := map[shipevents.AppendOutcome]int{}
		for _, r := range res {
			m[r.Outcome]++
		}
		return m
	}
	res, err := d.Publish(ctx, events...)
	if err != nil {
		return err
	}
	c := count(res)
	fmt.Printf("published: %d new, %d late (did not move their shipment's status), %d duplicate\n",
		c[shipevents.AppendNew], c[shipevents.AppendLate], c[shipevents.AppendDuplicate])
	res, err = d.Publish(ctx, events...)
	if err != nil {
		return err
	}
	fmt.Printf("published the same payloads again: %d duplicate, %d new\n", count(res)[shipevents.AppendDuplicate], count(res)[shipevents.AppendNew])

	if err := waitSettled(ctx, d); err != nil {
		return err
	}
	report(ctx, d, "after the first round")

	// 5. The ERP answered 410 Gone: its subscription is disabled and its
	// deliveries are dead letters. Point it at a working endpoint,
	// re-activate it, and replay its dead letters.
	all, _ := d.Store().ListSubscriptions(ctx)
	for _, s := range all {
		if s.ID == "legacy-erp" {
			fmt.Printf("subscription %s: disabled=%v (%s)\n", s.ID, s.Disabled, s.DisabledReason)
			s.URL, s.Disabled, s.DisabledReason = healthy.url, false, ""
			if err := d.Subscribe(ctx, s); err != nil {
				return err
			}
		}
	}
	n, err := d.ReplayDeadLetters(ctx, "legacy-erp")
	if err != nil {
		return err
	}
	fmt.Printf("replayed %d dead letters of legacy-erp to its new endpoint\n", n)
	if err := waitSettled(ctx, d); err != nil {
		return err
	}
	report(ctx, d, "after the replay")

	cancel()
	if err := <-done; err != nil {
		return err
	}
	refs := []string{}
	audit.Range(func(k, v any) bool { refs = append(refs, fmt.Sprintf("%s=%d", k, *(v.(*int)))); return true })
	sort.Strings(refs)
	fmt.Printf("in-process audit handler received: %s\n", strings.Join(refs, " "))

	// 6. One shipment's journey: timeline, current status, raw codes.
	key := events[len(events)-1].Shipment()
	for _, e := range events {
		if e.Carrier == "ups" && e.Status == shipevents.StatusDelivered && e.CarrierStatus != nil && e.CarrierStatus.Namespace == "type_code" {
			key = e.Shipment()
			break
		}
	}
	j, err := d.Journey(ctx, key)
	if err != nil {
		return err
	}
	fmt.Printf("\njourney of %s %s: current status %s\n", key.Carrier, key.TrackingNumber, j.Current.Status)
	for _, s := range j.Steps {
		raw := ""
		if s.CarrierStatus != nil {
			raw = strings.Trim(s.CarrierStatus.Type+":"+s.CarrierStatus.Code, ":")
		}
		loc := ""
		if s.Location != nil {
			loc = strings.Trim(s.Location.City+", "+s.Location.State, ", ")
		}
		mark := ""
		if s.Current {
			mark = "  <- current"
		}
		if s.Late {
			mark = "  (late)"
		}
		fmt.Printf("  %s  %-20s %-26s raw %-6s %s%s\n", s.OccurredAt.Format(time.RFC3339), s.Status, s.EventName, raw, loc, mark)
	}
	// The counts add up: every attempt succeeded, was retried or was
	// dead-lettered; the ERP's deliveries claimed after its subscription
	// was disabled became dead letters without a send.
	st := d.Stats()
	fmt.Printf("\nattempts %d: %d succeeded, %d retried, %d dead-lettered; %d dead letters without an attempt (subscription disabled)\n",
		st.Attempts, st.Succeeded, st.Retried, st.Dead, st.DeadUnsent)
	return nil
}

func waitSettled(ctx context.Context, d *shipevents.Dispatcher) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		busy := 0
		for _, s := range []shipevents.DeliveryState{shipevents.DeliveryPending, shipevents.DeliveryInFlight} {
			p, err := d.Deliveries(ctx, shipevents.DeliveryFilter{State: s, Limit: 1})
			if err != nil {
				return err
			}
			busy += p.PageInfo.Count
		}
		if busy == 0 {
			time.Sleep(50 * time.Millisecond) // let the dispatcher publish its own delivery events
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("deliveries did not settle")
}

func report(ctx context.Context, d *shipevents.Dispatcher, when string) {
	fmt.Printf("\ndeliveries %s:\n", when)
	for _, id := range []string{"crm", "notifications", "legacy-erp", "audit"} {
		counts := map[shipevents.DeliveryState]int{}
		retried := 0
		f := shipevents.DeliveryFilter{SubscriptionID: id, Limit: shipevents.MaxPageSize}
		for {
			p, err := d.Deliveries(ctx, f)
			if err != nil {
				fmt.Println("  error:", err)
				return
			}
			for _, del := range p.Items {
				counts[del.State]++
				if del.Attempts > 1 {
					retried++
				}
			}
			if !p.PageInfo.HasNextPage {
				break
			}
			f.After = p.PageInfo.EndCursor
		}
		fmt.Printf("  %-14s delivered %3d   dead letters %3d   pending %d   more than one attempt %d\n", id,
			counts[shipevents.DeliverySucceeded], counts[shipevents.DeliveryDead], counts[shipevents.DeliveryPending]+counts[shipevents.DeliveryInFlight], retried)
	}
}
