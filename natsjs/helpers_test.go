package natsjs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/natsjs"
)

// hangGuard bounds waits for things that must happen; it is a guard
// against hanging, never a measure of speed.
const hangGuard = 60 * time.Second

const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

// runServer starts a NATS server with JetStream keeping its files in dir,
// on port (0 for any free port), and stops it when the test ends.
func runServer(t testing.TB, dir string, port int, configure ...func(*server.Options)) *server.Server {
	t.Helper()
	if port == 0 {
		port = -1
	}
	opts := &server.Options{
		Host: "127.0.0.1", Port: port, JetStream: true, StoreDir: dir,
		NoLog: true, NoSigs: true, ServerName: "test",
	}
	for _, f := range configure {
		f(opts)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	if !s.ReadyForConnections(hangGuard) {
		s.Shutdown()
		t.Fatal("server not ready")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

func serverPort(s *server.Server) int { return s.Addr().(*net.TCPAddr).Port }

// connect opens a connection that reconnects for as long as the test
// runs.
func connect(t testing.TB, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	opts = append([]nats.Option{nats.MaxReconnects(-1), nats.ReconnectWait(20 * time.Millisecond)}, opts...)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

func jetStream(t testing.TB, nc *nats.Conn) jetstream.JetStream {
	t.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func createStream(t testing.TB, js jetstream.JetStream, cfg jetstream.StreamConfig) jetstream.Stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	st, err := js.CreateOrUpdateStream(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func newPublisher(t testing.TB, nc *nats.Conn, cfg natsjs.PublisherConfig) *natsjs.Publisher {
	t.Helper()
	p, err := natsjs.NewPublisher(nc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// received is one message read back from a stream.
type received struct {
	subject string
	header  nats.Header
	data    []byte
}

// readAll reads every message of the stream that the filters select, from
// the start, through an ephemeral consumer.
func readAll(t testing.TB, st jetstream.Stream, filters ...string) []received {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
	defer cancel()
	cfg := jetstream.ConsumerConfig{AckPolicy: jetstream.AckNonePolicy, DeliverPolicy: jetstream.DeliverAllPolicy}
	switch len(filters) {
	case 0:
	case 1:
		cfg.FilterSubject = filters[0]
	default:
		cfg.FilterSubjects = filters
	}
	c, err := st.CreateConsumer(ctx, cfg)
	if err != nil {
		t.Fatalf("consumer on %q: %v", filters, err)
	}
	defer func() { _ = st.DeleteConsumer(context.Background(), c.CachedInfo().Name) }()
	pending := int(c.CachedInfo().NumPending)
	var out []received
	for len(out) < pending {
		batch, err := c.Fetch(pending-len(out), jetstream.FetchMaxWait(hangGuard))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			out = append(out, received{subject: m.Subject(), header: m.Headers(), data: m.Data()})
		}
		if err := batch.Error(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// streamEvents decodes every message of st and counts each event
// (tenant, id) it holds.
func streamEvents(t testing.TB, st jetstream.Stream) map[[2]string]int {
	t.Helper()
	counts := map[[2]string]int{}
	for _, m := range readAll(t, st) {
		e, err := natsjs.Decode(m.header, m.data)
		if err != nil {
			t.Fatalf("%s: %v", m.subject, err)
		}
		counts[[2]string{e.TenantID, e.ID}]++
	}
	return counts
}

var baseTime = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// shipmentEvent returns a valid shipment event of tenant for scan i.
func shipmentEvent(t testing.TB, i int, tenant, eventName string) shipevents.Event {
	t.Helper()
	e, err := shipevents.NewShipmentEvent(eventName, shipevents.HostEvent{
		ID: fmt.Sprintf("evt-%04d", i), TenantID: tenant, Carrier: "ups",
		TrackingNumber: fmt.Sprintf("1Z%06d", i), OccurredAt: baseTime.Add(time.Duration(i) * time.Minute),
		TriggeredAt: baseTime,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// message returns the Message a dispatcher would hand a Sender for e.
func message(t testing.TB, e shipevents.Event, sub *shipevents.Subscription) *shipevents.Message {
	t.Helper()
	body, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	return &shipevents.Message{DeliveryID: "d-" + e.ID, Attempt: 1, Event: &e, Subscription: sub, Body: body, Timestamp: baseTime}
}

// waitFor polls cond until it holds or the hang guard runs out.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangGuard)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
