// Command natsfanout fans shipevents events out through NATS JetStream on
// one machine: it starts an embedded NATS server with JetStream (its
// files in a temporary directory), a dispatcher that publishes every
// event to a stream through natsjs, and two durable consumers that select
// events with ref patterns, as webhook subscriptions do:
//
//   - deliveries: shipments/delivered, of every tenant;
//   - acme-problems: shipments/delivery_failed and shipments/exception,
//     of tenant acme only.
//
// Each consumer verifies the signature of what it receives and prints
// it. The program publishes the journeys of a few shipments of two
// tenants, and stops when both consumers have every event
// shipevents.MatchRef says they should get, or after -timeout.
//
// Run it from the repository root:
//
//	go run ./examples/natsfanout
//	go run ./examples/natsfanout -shipments 50 -timeout 1m
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/natsjs"
)

func main() {
	shipments := flag.Int("shipments", 4, "number of shipments whose journeys are published")
	timeout := flag.Duration("timeout", 30*time.Second, "stop after this long even if a consumer still waits")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "natsfanout-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := run(ctx, os.Stdout, *shipments, dir); err != nil {
		log.Fatal(err)
	}
}

// consumer is one consumer of the stream: its ref patterns, and the
// tenant it is limited to ("" for every tenant).
type consumer struct {
	name     string
	patterns []string
	tenant   string
}

func (c consumer) wants(e *shipevents.Event) bool {
	if c.tenant != "" && e.TenantID != c.tenant {
		return false
	}
	return slices.ContainsFunc(c.patterns, func(p string) bool { return shipevents.MatchRef(p, e.Ref) })
}

func (c consumer) filters(prefix string) ([]string, error) {
	if c.tenant == "" {
		return natsjs.Filters(prefix, c.patterns...)
	}
	return natsjs.TenantFilters(prefix, c.tenant, c.patterns...)
}

var consumers = []consumer{
	{name: "deliveries", patterns: []string{"shipments/delivered"}},
	{name: "acme-problems", patterns: []string{"shipments/delivery_failed", "shipments/exception"}, tenant: "acme"},
}

// journeys are the scans of the demo shipments, in turn.
var journeys = [][]string{
	{"PICKED_UP", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERY_ATTEMPT_FAILED", "OUT_FOR_DELIVERY", "DELIVERED_TO_NEIGHBOR"},
	{"PICKED_UP", "IN_TRANSIT", "OUT_FOR_DELIVERY", "SUCCESSFULLY_DELIVERED"},
	{"PICKED_UP", "IN_TRANSIT", "CARRIER_EXCEPTION"},
}

const (
	streamName = "SHIPEVENTS"
	prefix     = natsjs.DefaultPrefix
)

func run(ctx context.Context, w io.Writer, shipments int, dir string) error {
	if shipments < 1 {
		return errors.New("need at least one shipment")
	}
	out := &lockedWriter{w: w}

	// 1. An embedded NATS server with JetStream, keeping its files in dir.
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		return err
	}
	ns.Start()
	defer ns.Shutdown()
	if !ns.ReadyForConnections(10 * time.Second) {
		return errors.New("NATS server did not start")
	}
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	stream, err := js.CreateOrUpdateStream(ctx, natsjs.StreamConfig(streamName, prefix))
	if err != nil {
		return err
	}
	out.printf("NATS server %s, stream %s on %s.>\n", ns.ClientURL(), streamName, prefix)

	// 2. A dispatcher that publishes every event to the stream, signed.
	secret, err := shipevents.GenerateSecret()
	if err != nil {
		return err
	}
	pub, err := natsjs.NewPublisher(nc, natsjs.PublisherConfig{Stream: streamName})
	if err != nil {
		return err
	}
	d := shipevents.NewDispatcher(shipevents.DispatcherConfig{DisableDeliveryEvents: true})
	d.HandleSender("jetstream", pub)
	if err := d.Subscribe(ctx, shipevents.Subscription{
		ID: "jetstream", Handler: "jetstream", EnabledEvents: []string{"*"}, Secrets: []string{secret},
	}); err != nil {
		return err
	}
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := d.Run(runCtx); err != nil && !errors.Is(err, context.Canceled) {
			out.printf("dispatcher: %v\n", err)
		}
	})
	defer wg.Wait()
	defer stop()

	// 3. The events, and what each consumer should get of them.
	events := demoEvents(shipments)
	want := make([]map[string]bool, len(consumers))
	for i, c := range consumers {
		want[i] = map[string]bool{}
		for j := range events {
			if c.wants(&events[j]) {
				want[i][events[j].TenantID+"/"+events[j].ID] = true
			}
		}
	}

	// 4. The consumers: durable, acknowledging what they have processed.
	done := make(chan string, len(consumers))
	for i, c := range consumers {
		filters, err := c.filters(prefix)
		if err != nil {
			return err
		}
		scope := "every tenant"
		if c.tenant != "" {
			scope = "tenant " + c.tenant
		}
		out.printf("consumer %s: %s of %s -> %s\n", c.name, strings.Join(c.patterns, ", "), scope, strings.Join(filters, " "))
		cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{
			Durable: c.name, FilterSubjects: filters, AckPolicy: jetstream.AckExplicitPolicy,
		})
		if err != nil {
			return err
		}
		var mu sync.Mutex
		got := map[string]bool{}
		cc, err := cons.Consume(func(m jetstream.Msg) {
			if err := natsjs.Verify([]string{secret}, m.Headers(), m.Data(), nil); err != nil {
				out.printf("[%s] refused %s: %v\n", c.name, m.Subject(), err)
				_ = m.Term()
				return
			}
			e, err := natsjs.Decode(m.Headers(), m.Data())
			if err != nil {
				out.printf("[%s] undecodable %s: %v\n", c.name, m.Subject(), err)
				_ = m.Term()
				return
			}
			out.printf("%-15s %-6s %-48s %s\n", "["+c.name+"]", e.TenantID, e.Ref, e.TrackingNumber)
			_ = m.Ack()
			mu.Lock()
			defer mu.Unlock()
			key := e.TenantID + "/" + e.ID
			if !want[i][key] {
				out.printf("[%s] did not ask for %s\n", c.name, key)
			}
			got[key] = true
			if len(got) == len(want[i]) {
				done <- c.name
			}
		})
		if err != nil {
			return err
		}
		defer cc.Stop()
		if len(want[i]) == 0 {
			done <- c.name
		}
	}

	// 5. Publish, and wait for both consumers.
	if _, err := d.Publish(ctx, events...); err != nil {
		return err
	}
	out.printf("published %d events of %d shipments\n", len(events), shipments)
	for range consumers {
		select {
		case <-done:
		case <-ctx.Done():
			return fmt.Errorf("consumers still waiting: %w", ctx.Err())
		}
	}
	for i, c := range consumers {
		out.printf("%s: %d events, as MatchRef says\n", c.name, len(want[i]))
	}
	return nil
}

// demoEvents returns the journeys of n shipments, alternating between the
// tenants acme and globex.
func demoEvents(n int) []shipevents.Event {
	start := time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC)
	var events []shipevents.Event
	for i := range n {
		tenant := []string{"acme", "globex"}[i%2]
		for j, name := range journeys[i%len(journeys)] {
			e, err := shipevents.NewShipmentEvent(name, shipevents.HostEvent{
				TenantID: tenant, Carrier: "ups", TrackingNumber: fmt.Sprintf("1Z%06d", i+1),
				OccurredAt: start.Add(time.Duration(i)*time.Minute + time.Duration(j)*time.Hour),
			})
			if err != nil {
				panic(err) // the journeys use catalogue names
			}
			events = append(events, e)
		}
	}
	return events
}

// lockedWriter serialises the consumers' lines.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.w, format, args...)
}
