// Command console runs a dispatcher with the quickstart's demo traffic
// (the carrier payloads of testdata/, delivered to local receivers: one
// healthy, one that fails twice before it recovers, one that is gone, one
// that always fails) and the operator console mounted at /, and keeps
// publishing a scan every few seconds so that the live tail moves. It
// runs until interrupted.
//
// Run it from the repository root:
//
//	go run ./examples/console              # http://127.0.0.1:8080/
//	go run ./examples/console -addr :8080  # every interface: credentials required
//
// On a loopback address the console lets requests in without
// credentials, and says so. On any other address it asks for HTTP Basic
// credentials: user admin and the password in SHIPEVENTS_CONSOLE_PASSWORD,
// or one generated at start and printed once.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/console"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "address to serve the console on")
	dir := flag.String("testdata", "testdata", "directory of carrier payloads, one subdirectory per format")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *addr, *dir, os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// isLoopback reports whether addr (host:port) listens on loopback only.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// authorizer lets every request in on loopback, and asks for the admin's
// password anywhere else.
func authorizer(addr string, out io.Writer) (console.Authorizer, error) {
	if isLoopback(addr) {
		fmt.Fprintf(out, "console on loopback (%s): requests are let in without credentials\n", addr)
		return func(*http.Request) (console.Principal, error) {
			return console.Principal{Name: "local operator", AllTenants: true}, nil
		}, nil
	}
	password := os.Getenv("SHIPEVENTS_CONSOLE_PASSWORD")
	if password == "" {
		b := make([]byte, 18)
		if _, err := rand.Read(b); err != nil {
			return nil, err
		}
		password = base64.RawURLEncoding.EncodeToString(b)
		fmt.Fprintf(out, "console on %s: not loopback, so credentials are required: user admin, password %s\n", addr, password)
		fmt.Fprintln(out, "(set SHIPEVENTS_CONSOLE_PASSWORD to choose the password)")
	} else {
		fmt.Fprintf(out, "console on %s: not loopback, so credentials are required: user admin, password from SHIPEVENTS_CONSOLE_PASSWORD\n", addr)
	}
	return console.BasicAuth("admin", password, console.Principal{Name: "admin", AllTenants: true}), nil
}

// receiver is a local webhook endpoint answering by the n-th call of an
// event.
func receiver(answer func(calls int) int) (url string, stop func(), err error) {
	var mu sync.Mutex
	calls := map[string]int{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		id := r.Header.Get(shipevents.HeaderWebhookID)
		mu.Lock()
		calls[id]++
		n := calls[id]
		mu.Unlock()
		code := answer(n)
		w.WriteHeader(code)
		fmt.Fprintf(w, `{"status": %d}`, code)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String() + "/hooks", func() { _ = srv.Close() }, nil
}

func run(ctx context.Context, addr, dir string, out io.Writer) error {
	auth, err := authorizer(addr, out)
	if err != nil {
		return err
	}
	var events []shipevents.Event
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
		}
	}
	if len(events) == 0 {
		return fmt.Errorf("no payloads under %s (run from the repository root)", dir)
	}

	var urls [4]string
	for i, answer := range []func(int) int{
		func(int) int { return http.StatusNoContent }, // healthy
		func(n int) int { // fails twice, then recovers
			if n <= 2 {
				return http.StatusServiceUnavailable
			}
			return http.StatusOK
		},
		func(int) int { return http.StatusGone },                // decommissioned
		func(int) int { return http.StatusInternalServerError }, // broken: dead letters to replay
	} {
		u, stop, err := receiver(answer)
		if err != nil {
			return err
		}
		defer stop()
		urls[i] = u
	}
	d := shipevents.NewDispatcher(shipevents.DispatcherConfig{
		Sender: shipevents.NewHTTPSender(shipevents.HTTPSenderConfig{
			Policy: shipevents.AddressPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}},
		}),
		Retry:        shipevents.RetryPolicy{Schedule: []time.Duration{200 * time.Millisecond, 500 * time.Millisecond, time.Second}},
		PollInterval: 50 * time.Millisecond,
		Logger:       slog.New(slog.DiscardHandler),
	})
	secret, err := shipevents.GenerateSecret()
	if err != nil {
		return err
	}
	for _, s := range []shipevents.Subscription{
		{ID: "crm", Name: "CRM: every shipment event", URL: urls[0], EnabledEvents: []string{"shipments"}, Secrets: []string{secret}},
		{ID: "notifications", Name: "Customer notifications: delivery and failures", URL: urls[1],
			EnabledEvents: []string{"shipments/delivered", "shipments/delivery_failed", "shipments/in_delivery/OUT_FOR_DELIVERY"}},
		{ID: "legacy-erp", Name: "Old ERP (decommissioned)", URL: urls[2], EnabledEvents: []string{"shipments"}},
		{ID: "warehouse", Name: "Warehouse system (failing)", URL: urls[3], EnabledEvents: []string{"shipments/delivered"},
			Retry: &shipevents.RetryPolicy{Schedule: []time.Duration{100 * time.Millisecond}}},
	} {
		if err := d.Subscribe(ctx, s); err != nil {
			return err
		}
	}
	c := console.New(d, console.Config{Authorize: auth, Challenge: `Basic realm="shipevents console"`})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "serving the console on http://%s/ (interrupt to stop)\n", ln.Addr())

	var wg sync.WaitGroup
	errs := make(chan error, 3)
	wg.Go(func() { errs <- d.Run(ctx) })
	wg.Go(func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errs <- err
		}
	})
	wg.Go(func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	if _, err := d.Publish(ctx, events...); err != nil {
		return err
	}
	fmt.Fprintf(out, "published %d demo events\n", len(events))
	wg.Go(func() { liveTraffic(ctx, d) })
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return err
		}
	}
	return nil
}

// liveTraffic publishes a scan of a demo parcel every few seconds, along
// its journey, until ctx ends.
func liveTraffic(ctx context.Context, d *shipevents.Dispatcher) {
	steps := []string{"SHIPMENT_BOOKED", "PICKED_UP", "IN_TRANSIT", "OUT_FOR_DELIVERY", "SUCCESSFULLY_DELIVERED"}
	tick := time.NewTicker(3 * time.Second)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		parcel := fmt.Sprintf("1ZDEMO%05d", n/len(steps))
		e, err := shipevents.NewShipmentEvent(steps[n%len(steps)], shipevents.HostEvent{Carrier: "ups", TrackingNumber: parcel,
			OccurredAt: time.Now(), Data: shipevents.EventData{Description: "Demo parcel " + parcel}})
		if err != nil {
			continue
		}
		_, _ = d.Publish(ctx, e)
	}
}
