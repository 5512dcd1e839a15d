// Command webhook-receiver is the receiving side of shipevents webhooks: it
// verifies each request's Standard Webhooks signature and timestamp,
// drops redeliveries by webhook-id (delivery is at least once), and
// decodes the event.
//
// With -listen it serves until interrupted:
//
//	go run ./examples/webhook-receiver -listen 127.0.0.1:8080 -secret whsec_...
//
// Without it, it demonstrates itself: it starts on a free port, posts one
// correctly signed event twice and one forged event, and prints what it
// accepted.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/shipevents/shipevents"
)

// receiver verifies and deduplicates deliveries.
type receiver struct {
	secrets []string // the current secret and, during rotation, the previous one
	mu      sync.Mutex
	seen    map[string]bool // webhook-ids already processed; a real service keeps these in its database
	handle  func(shipevents.Event)
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "read error", http.StatusBadRequest)
		return
	}
	if err := shipevents.VerifyAny(rc.secrets, r.Header, body, nil); err != nil {
		// 401 is permanent for the sender (not retried): a forged or
		// stale request must not be retried into acceptance.
		log.Printf("rejected: %v", err)
		http.Error(w, "invalid signature", http.StatusUnauthorized)
		return
	}
	id := r.Header.Get(shipevents.HeaderWebhookID)
	rc.mu.Lock()
	dup := rc.seen[id]
	rc.seen[id] = true
	rc.mu.Unlock()
	if dup {
		w.WriteHeader(http.StatusOK) // already processed: acknowledge so it is not retried
		return
	}
	var e shipevents.Event
	if err := json.Unmarshal(body, &e); err != nil {
		http.Error(w, "not an event", http.StatusBadRequest)
		return
	}
	rc.handle(e)
	w.WriteHeader(http.StatusNoContent)
}

func main() {
	listen := flag.String("listen", "", "address to serve on; empty runs the self-demonstration")
	secret := flag.String("secret", os.Getenv("SHIPEVENTS_SECRET"), "whsec_ signing secret")
	flag.Parse()
	if *listen != "" {
		if *secret == "" {
			log.Fatal("-secret (or SHIPEVENTS_SECRET) is required")
		}
		serve(*listen, *secret)
		return
	}
	if err := demo(); err != nil {
		log.Fatal(err)
	}
}

func serve(addr, secret string) {
	rc := &receiver{secrets: []string{secret}, seen: map[string]bool{}, handle: func(e shipevents.Event) {
		log.Printf("%s %s %s %s", e.Ref, e.Carrier, e.TrackingNumber, e.Status)
	}}
	srv := &http.Server{Addr: addr, Handler: rc, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	log.Printf("listening on %s", addr)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Fatal(err)
	}
}

func demo() error {
	secret, err := shipevents.GenerateSecret()
	if err != nil {
		return err
	}
	var accepted []shipevents.Event
	rc := &receiver{secrets: []string{secret}, seen: map[string]bool{}, handle: func(e shipevents.Event) { accepted = append(accepted, e) }}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "http://" + ln.Addr().String()

	e, err := shipevents.NewShipmentEvent("SUCCESSFULLY_DELIVERED", shipevents.HostEvent{
		Carrier: "ups", TrackingNumber: "1Z999AA10123456784", OccurredAt: time.Now().Add(-time.Minute),
	})
	if err != nil {
		return err
	}
	body, err := json.Marshal(e)
	if err != nil {
		return err
	}
	post := func(label string, body []byte, sign bool) error {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return err
		}
		now := time.Now()
		req.Header.Set(shipevents.HeaderWebhookID, e.ID)
		req.Header.Set(shipevents.HeaderWebhookTimestamp, fmt.Sprint(now.Unix()))
		sig := "v1,Zm9yZ2VkIHNpZ25hdHVyZSBub3QgZnJvbSB0aGUgc2VjcmV0"
		if sign {
			if sig, err = shipevents.Sign(e.ID, now, body, secret); err != nil {
				return err
			}
		}
		req.Header.Set(shipevents.HeaderWebhookSignature, sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		fmt.Printf("%-28s -> HTTP %d\n", label, resp.StatusCode)
		return nil
	}
	if err := post("signed delivery", body, true); err != nil {
		return err
	}
	if err := post("same delivery, retried", body, true); err != nil {
		return err
	}
	if err := post("forged signature", body, false); err != nil {
		return err
	}
	fmt.Printf("processed %d event(s):\n", len(accepted))
	for _, a := range accepted {
		fmt.Printf("  %s %s %s\n", a.Ref, a.Carrier, a.TrackingNumber)
	}
	return nil
}
