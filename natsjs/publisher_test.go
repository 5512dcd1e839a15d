package natsjs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/natsjs"
)

func TestPublishedMessageVerifiesAndDecodes(t *testing.T) {
	s := runServer(t, t.TempDir(), 0)
	nc := connect(t, s.ClientURL())
	st := createStream(t, jetStream(t, nc), natsjs.StreamConfig("EVENTS", ""))
	pub := newPublisher(t, nc, natsjs.PublisherConfig{Stream: "EVENTS"})
	ctx := context.Background()

	e := shipmentEvent(t, 1, "acme", "SUCCESSFULLY_DELIVERED")
	if _, err := pub.Send(ctx, message(t, e, &shipevents.Subscription{ID: "s", Secrets: []string{testSecret}})); err != nil {
		t.Fatal(err)
	}
	// The subscription's form and secrets apply.
	other, err := shipevents.GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	e2 := shipmentEvent(t, 2, "", "ARRIVED_AT_FACILITY")
	sub := &shipevents.Subscription{ID: "s", Form: shipevents.FormCloudEvents, Secrets: []string{other}}
	m := message(t, e2, sub)
	if m.Body, err = e2.MarshalCloudEvent(); err != nil {
		t.Fatal(err)
	}
	resp, err := pub.Send(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if got := string(resp.Body); got != "stream EVENTS seq 2" {
		t.Errorf("Send response %q, want the stream and sequence", got)
	}

	msgs := readAll(t, st)
	if len(msgs) != 2 {
		t.Fatalf("stream has %d messages, want 2", len(msgs))
	}
	for i, c := range []struct {
		event       shipevents.Event
		subject     string
		secret      string
		contentType string
	}{
		{e, "shipevents.acme.shipments.delivered.SUCCESSFULLY_DELIVERED", testSecret, "application/json"},
		{e2, "shipevents._.shipments.in_transit.ARRIVED_AT_FACILITY", other, "application/cloudevents+json"},
	} {
		got := msgs[i]
		if got.subject != c.subject {
			t.Errorf("message %d on %q, want %q", i, got.subject, c.subject)
		}
		// Both ids are the event's message id, as webhooks carry it.
		key := shipevents.MessageID(c.event.Key())
		if id, wid := got.header.Get(jetstream.MsgIDHeader), got.header.Get(shipevents.HeaderWebhookID); id != key || wid != key {
			t.Errorf("message %d: Nats-Msg-Id %q, webhook-id %q: want %q", i, id, wid, key)
		}
		if got.header.Get(natsjs.HeaderEventType) != c.event.Type || got.header.Get(natsjs.HeaderEventRef) != c.event.Ref {
			t.Errorf("message %d: type/ref headers %q %q", i, got.header.Get(natsjs.HeaderEventType), got.header.Get(natsjs.HeaderEventRef))
		}
		if ct := got.header.Get(natsjs.HeaderContentType); ct != c.contentType {
			t.Errorf("message %d: Content-Type %q, want %q", i, ct, c.contentType)
		}
		if err := natsjs.Verify([]string{c.secret}, got.header, got.data, nil); err != nil {
			t.Errorf("message %d does not verify: %v", i, err)
		}
		if err := natsjs.Verify([]string{c.secret}, got.header, append(bytes.Clone(got.data), ' '), nil); !errors.Is(err, shipevents.ErrInvalidSignature) {
			t.Errorf("message %d with a changed body: %v, want ErrInvalidSignature", i, err)
		}
		wrong := testSecret
		if c.secret == testSecret {
			wrong = other
		}
		if err := natsjs.Verify([]string{wrong}, got.header, got.data, nil); !errors.Is(err, shipevents.ErrInvalidSignature) {
			t.Errorf("message %d with another secret: %v, want ErrInvalidSignature", i, err)
		}
		// With options, the age counts as for webhooks: these were signed
		// at the messages' timestamp, long ago.
		late := &shipevents.VerifyOptions{Now: func() time.Time { return time.Now().Add(time.Hour) }}
		if err := natsjs.Verify([]string{c.secret}, got.header, got.data, late); !errors.Is(err, shipevents.ErrTimestampOutOfRange) {
			t.Errorf("message %d verified an hour later with the default tolerance: %v, want ErrTimestampOutOfRange", i, err)
		}
		back, err := natsjs.Decode(got.header, got.data)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		want, _ := json.Marshal(&c.event)
		have, _ := json.Marshal(&back)
		if !bytes.Equal(have, want) {
			t.Errorf("message %d decodes to\n%s\nwant\n%s", i, have, want)
		}
	}
	// A message without signature headers does not verify.
	if err := natsjs.Verify([]string{testSecret}, nats.Header{}, msgs[0].data, nil); !errors.Is(err, shipevents.ErrMissingHeaders) {
		t.Errorf("Verify without headers: %v, want ErrMissingHeaders", err)
	}
	// A flat body cannot be decoded back.
	if _, err := natsjs.Decode(nats.Header{natsjs.HeaderForm: {"flat"}}, []byte(`{"id":"x"}`)); !errors.Is(err, natsjs.ErrUndecodable) {
		t.Errorf("Decode of a flat body: %v, want ErrUndecodable", err)
	}
	if _, err := natsjs.Decode(nats.Header{}, []byte(`{"id":`)); !errors.Is(err, natsjs.ErrUndecodable) {
		t.Errorf("Decode of a truncated body: %v, want ErrUndecodable", err)
	}
}

func TestHostileEventFieldsStayInTheirHeaders(t *testing.T) {
	s := runServer(t, t.TempDir(), 0)
	nc := connect(t, s.ClientURL())
	st := createStream(t, jetStream(t, nc), natsjs.StreamConfig("EVENTS", ""))
	pub := newPublisher(t, nc, natsjs.PublisherConfig{})
	e := shipevents.Event{
		ID: "id\r\nNats-Msg-Id: forged", Type: "t\r\nX: y", Source: "orders", Ref: "orders/a b\r\n/%",
		TenantID: "te.n*ant\x00", Version: shipevents.EnvelopeVersion, OccurredAt: baseTime,
	}
	if _, err := pub.Send(context.Background(), message(t, e, &shipevents.Subscription{ID: "s", Secrets: []string{testSecret}})); err != nil {
		t.Fatal(err)
	}
	msgs := readAll(t, st)
	if len(msgs) != 1 {
		t.Fatalf("%d messages", len(msgs))
	}
	m := msgs[0]
	if tenant, ref, err := natsjs.ParseSubject("", m.subject); err != nil || tenant != e.TenantID || ref != e.Ref {
		t.Errorf("subject %q parses to %q %q %v", m.subject, tenant, ref, err)
	}
	for k, vs := range m.header {
		if k == "X" || len(vs) != 1 {
			t.Errorf("header %q = %q: a value broke out of its line", k, vs)
		}
	}
	for k, want := range map[string]string{natsjs.HeaderEventType: e.Type, natsjs.HeaderEventRef: e.Ref} {
		if got, err := natsjs.UnescapeHeader(m.header.Get(k)); err != nil || got != want {
			t.Errorf("%s = %q (%q, %v), want %q", k, m.header.Get(k), got, err, want)
		}
	}
	if err := natsjs.Verify([]string{testSecret}, m.header, m.data, nil); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

func TestRetriedDeliveryIsStoredOnce(t *testing.T) {
	s := runServer(t, t.TempDir(), 0)
	nc := connect(t, s.ClientURL())
	st := createStream(t, jetStream(t, nc), natsjs.StreamConfig("EVENTS", ""))
	pub := newPublisher(t, nc, natsjs.PublisherConfig{Stream: "EVENTS"})
	ctx := context.Background()

	// The same delivery sent twice, as a retry after a lost
	// acknowledgement would.
	m := message(t, shipmentEvent(t, 1, "acme", "SUCCESSFULLY_DELIVERED"), nil)
	for i, want := range []string{"stream EVENTS seq 1", "stream EVENTS seq 1 duplicate"} {
		resp, err := pub.Send(ctx, m)
		if err != nil || string(resp.Body) != want {
			t.Fatalf("send %d: %q, %v; want %q", i+1, resp.Body, err, want)
		}
	}
	// Through a dispatcher: the first attempt is stored but reported
	// failed, so the dispatcher retries it.
	var calls atomic.Int32
	d := shipevents.NewDispatcher(shipevents.DispatcherConfig{
		DisableDeliveryEvents: true, PollInterval: 5 * time.Millisecond,
		Retry: shipevents.RetryPolicy{Schedule: []time.Duration{time.Millisecond}, NoJitter: true},
	})
	d.HandleSender("jetstream", shipevents.SenderFunc(func(ctx context.Context, m *shipevents.Message) (shipevents.Response, error) {
		resp, err := pub.Send(ctx, m)
		if calls.Add(1) == 1 && err == nil {
			return shipevents.Response{}, errors.New("acknowledgement lost")
		}
		return resp, err
	}))
	if err := d.Subscribe(ctx, shipevents.Subscription{ID: "stream", Handler: "jetstream", EnabledEvents: []string{"*"}}); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	// Same id as the event above, another tenant: a different event.
	if _, err := d.Publish(ctx, shipmentEvent(t, 1, "globex", "SUCCESSFULLY_DELIVERED")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the retried delivery", func() bool { return d.Stats().Succeeded == 1 })
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	if got := d.Stats(); got.Attempts != 2 || got.Retried != 1 {
		t.Errorf("dispatcher stats %+v, want 2 attempts, 1 retried", got)
	}
	want := map[[2]string]int{{"acme", "evt-0001"}: 1, {"globex", "evt-0001"}: 1}
	if got := streamEvents(t, st); !equalCounts(got, want) {
		t.Errorf("stream holds %v, want %v", got, want)
	}
}

func equalCounts(a, b map[[2]string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestServerRestartLosesNothing publishes through a dispatcher while the
// server stops and starts again on the same store: every event ends up in
// the stream exactly once, those stored before the restart included.
func TestServerRestartLosesNothing(t *testing.T) {
	dir := t.TempDir()
	s := runServer(t, dir, 0)
	port := serverPort(s)
	nc := connect(t, s.ClientURL())
	createStream(t, jetStream(t, nc), natsjs.StreamConfig("EVENTS", ""))
	pub := newPublisher(t, nc, natsjs.PublisherConfig{Stream: "EVENTS", AckTimeout: 2 * time.Second})
	ctx := context.Background()
	d := shipevents.NewDispatcher(shipevents.DispatcherConfig{
		DisableDeliveryEvents: true, Workers: 8, PollInterval: 5 * time.Millisecond, AttemptTimeout: 2 * time.Second,
		// Retries come fast and never give up within the test.
		Retry: shipevents.RetryPolicy{Schedule: []time.Duration{10 * time.Millisecond}, NoJitter: true, MaxAttempts: 1 << 20},
	})
	d.HandleSender("jetstream", pub)
	if err := d.Subscribe(ctx, shipevents.Subscription{ID: "stream", Handler: "jetstream", EnabledEvents: []string{"shipments"}}); err != nil {
		t.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	defer func() {
		stop()
		<-done
	}()

	want := map[[2]string]int{}
	n := 0
	publish := func(count int) {
		t.Helper()
		var batch []shipevents.Event
		for range count {
			n++
			tenant := []string{"acme", "globex", ""}[n%3]
			e := shipmentEvent(t, n, tenant, []string{"IN_TRANSIT", "SUCCESSFULLY_DELIVERED", "OUT_FOR_DELIVERY"}[n%3])
			batch = append(batch, e)
			want[[2]string{tenant, e.ID}] = 1
		}
		if _, err := d.Publish(ctx, batch...); err != nil {
			t.Fatal(err)
		}
	}
	succeeded := func(k int) func() bool { return func() bool { return d.Stats().Succeeded >= int64(k) } }

	publish(40)
	waitFor(t, "the first events", succeeded(40))
	// The server stops with deliveries in flight.
	publish(40)
	s.Shutdown()
	s.WaitForShutdown()
	publish(40) // published while the server is down
	s2 := runServer(t, dir, port)
	publish(40)
	waitFor(t, "every delivery", succeeded(160))
	t.Logf("dispatcher: %+v", d.Stats())
	if got := d.Stats(); got.Dead != 0 {
		t.Fatalf("%d deliveries dead-lettered: %+v", got.Dead, got)
	}

	// Read back on a new connection to the restarted server.
	st, err := jetStream(t, connect(t, s2.ClientURL())).Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	if got := streamEvents(t, st); !equalCounts(got, want) {
		missing, extra := 0, 0
		for k := range want {
			if got[k] == 0 {
				missing++
			}
		}
		for k, c := range got {
			if want[k] == 0 || c > 1 {
				extra++
			}
		}
		t.Fatalf("stream holds %d events: %d missing, %d unexpected or repeated", len(got), missing, extra)
	}
	// Dedup state came back with the store: resending a delivery stored
	// before the restart adds nothing.
	resp, err := pub.Send(ctx, message(t, shipmentEvent(t, 1, "globex", "SUCCESSFULLY_DELIVERED"), nil))
	if err != nil || !strings.HasSuffix(string(resp.Body), " duplicate") {
		t.Errorf("resending the first event after the restart: %q, %v; want a duplicate", resp.Body, err)
	}
}

// TestPublishErrorsAreClassified checks that each way a publish fails
// reaches the dispatcher's retry policy as the right kind of failure.
func TestPublishErrorsAreClassified(t *testing.T) {
	s := runServer(t, t.TempDir(), 0, func(o *server.Options) {
		o.MaxPayload = 64 << 10
		admin := &server.User{Username: "admin", Password: "a"}
		limited := &server.User{Username: "limited", Password: "l", Permissions: &server.Permissions{
			Publish: &server.SubjectPermission{Allow: []string{"shipevents.acme.>", "$JS.API.>"}},
		}}
		o.Users = []*server.User{admin, limited}
	})
	url := s.ClientURL()
	nc := connect(t, url, nats.UserInfo("admin", "a"))
	js := jetStream(t, nc)
	createStream(t, js, natsjs.StreamConfig("EVENTS", ""))
	other := natsjs.StreamConfig("OTHER", "elsewhere")
	createStream(t, js, other)
	small := natsjs.StreamConfig("SMALL", "small")
	small.MaxMsgSize = 512
	createStream(t, js, small)
	full := natsjs.StreamConfig("FULL", "full")
	full.MaxMsgs, full.Discard = 1, jetstream.DiscardNew
	createStream(t, js, full)
	sealed := natsjs.StreamConfig("SEALED", "sealed")
	createStream(t, js, sealed)
	sealed.Sealed = true
	createStream(t, js, sealed)

	// A subject where a plain subscriber listens: it never acknowledges.
	silent, err := nc.SubscribeSync("mute.>")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = silent.Unsubscribe() }()
	// A responder that answers with something that is not an
	// acknowledgement.
	garbage, err := nc.Subscribe("garbage.>", func(m *nats.Msg) { _ = m.Respond([]byte("not json")) })
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = garbage.Unsubscribe() }()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	ev := shipmentEvent(t, 1, "acme", "IN_TRANSIT")
	huge := message(t, ev, nil)
	huge.Body = bytes.Repeat([]byte("x"), 100<<10)
	big := message(t, ev, nil)
	big.Body = bytes.Repeat([]byte("x"), 1024)
	long := ev
	long.Ref = "orders/" + strings.Repeat("x", natsjs.MaxSubjectLen)

	limitedConn := connect(t, url, nats.UserInfo("limited", "l"))
	for _, c := range []struct {
		name      string
		conn      *nats.Conn
		cfg       natsjs.PublisherConfig
		m         *shipevents.Message
		want      error
		wantRetry bool
	}{
		{"no stream", nc, natsjs.PublisherConfig{Prefix: "nowhere"}, message(t, ev, nil), natsjs.ErrNoStream, false},
		{"another stream", nc, natsjs.PublisherConfig{Prefix: "elsewhere", Stream: "EVENTS"}, message(t, ev, nil), natsjs.ErrRejected, false},
		{"over the stream's message size", nc, natsjs.PublisherConfig{Prefix: "small"}, big, natsjs.ErrRejected, false},
		{"sealed stream", nc, natsjs.PublisherConfig{Prefix: "sealed"}, message(t, ev, nil), natsjs.ErrRejected, false},
		{"stream full", nc, natsjs.PublisherConfig{Prefix: "full"}, message(t, shipmentEvent(t, 2, "acme", "IN_TRANSIT"), nil), natsjs.ErrRejected, true},
		{"over max_payload", nc, natsjs.PublisherConfig{}, huge, natsjs.ErrUnpublishable, false},
		{"subject too long", nc, natsjs.PublisherConfig{}, message(t, long, nil), natsjs.ErrUnpublishable, false},
		{"permission denied", limitedConn, natsjs.PublisherConfig{}, message(t, shipmentEvent(t, 3, "globex", "IN_TRANSIT"), nil), natsjs.ErrPermissionDenied, false},
		{"never acknowledged", nc, natsjs.PublisherConfig{Prefix: "mute", AckTimeout: 50 * time.Millisecond}, message(t, ev, nil), natsjs.ErrNoAck, true},
		{"not an acknowledgement", nc, natsjs.PublisherConfig{Prefix: "garbage"}, message(t, ev, nil), jetstream.ErrInvalidJSAck, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			pub := newPublisher(t, c.conn, c.cfg)
			if c.name == "stream full" {
				// Fill the one slot first.
				if _, err := pub.Send(context.Background(), message(t, ev, nil)); err != nil {
					t.Fatal(err)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), hangGuard)
			defer cancel()
			_, err := pub.Send(ctx, c.m)
			if !errors.Is(err, c.want) {
				t.Fatalf("error %v, want %v", err, c.want)
			}
			var pe *shipevents.PermanentError
			if errors.As(err, &pe) == c.wantRetry {
				t.Errorf("permanent: %v, want %v", !c.wantRetry, !c.wantRetry)
			}
			now := time.Now()
			if dec := (&shipevents.RetryPolicy{}).Decide(err, 1, now, now); dec.Retry != c.wantRetry {
				t.Errorf("retry policy decides %+v for %v, want retry %v", dec, err, c.wantRetry)
			}
		})
	}
	// The refused permission was for that subject only: the same
	// connection publishes where it may.
	pub := newPublisher(t, limitedConn, natsjs.PublisherConfig{})
	if _, err := pub.Send(context.Background(), message(t, ev, nil)); err != nil {
		t.Errorf("allowed subject after a refusal: %v", err)
	}
}

// TestAcknowledgementLostToDisconnect: a publish waiting for its
// acknowledgement when the server goes away fails as retryable.
func TestAcknowledgementLostToDisconnect(t *testing.T) {
	s := runServer(t, t.TempDir(), 0)
	nc := connect(t, s.ClientURL())
	// A plain subscriber holds the publish unanswered until the server
	// stops.
	got := make(chan struct{}, 1)
	sub, err := nc.Subscribe("shipevents.>", func(*nats.Msg) { got <- struct{}{} })
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	pub := newPublisher(t, nc, natsjs.PublisherConfig{AckTimeout: hangGuard})
	var wg sync.WaitGroup
	var sendErr error
	wg.Go(func() {
		_, sendErr = pub.Send(context.Background(), message(t, shipmentEvent(t, 1, "acme", "IN_TRANSIT"), nil))
	})
	<-got
	s.Shutdown()
	wg.Wait()
	if !errors.Is(sendErr, natsjs.ErrNoAck) {
		t.Fatalf("error %v, want ErrNoAck", sendErr)
	}
	now := time.Now()
	if dec := (&shipevents.RetryPolicy{}).Decide(sendErr, 1, now, now); !dec.Retry {
		t.Errorf("retry policy gives up on a lost acknowledgement: %+v", dec)
	}
}

func TestNewPublisherRefusesBadConfig(t *testing.T) {
	s := runServer(t, t.TempDir(), 0)
	nc := connect(t, s.ClientURL())
	for _, cfg := range []natsjs.PublisherConfig{
		{Prefix: "a.*"}, {Prefix: "a..b"}, {Stream: "a.b"}, {Stream: "a b"}, {AckTimeout: -time.Second},
	} {
		if _, err := natsjs.NewPublisher(nc, cfg); !errors.Is(err, natsjs.ErrInvalidConfig) {
			t.Errorf("NewPublisher(%+v) = %v, want ErrInvalidConfig", cfg, err)
		}
	}
	if _, err := natsjs.NewPublisher(nil, natsjs.PublisherConfig{}); !errors.Is(err, natsjs.ErrInvalidConfig) {
		t.Errorf("NewPublisher(nil) = %v, want ErrInvalidConfig", err)
	}
}

func TestSendWithoutEventIsPermanent(t *testing.T) {
	s := runServer(t, t.TempDir(), 0)
	pub := newPublisher(t, connect(t, s.ClientURL()), natsjs.PublisherConfig{})
	_, err := pub.Send(context.Background(), &shipevents.Message{})
	var pe *shipevents.PermanentError
	if !errors.Is(err, natsjs.ErrUnpublishable) || !errors.As(err, &pe) {
		t.Errorf("Send without an event: %v, want a permanent ErrUnpublishable", err)
	}
}
