package shipevents

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var e2ePolicy = AddressPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}

// fastRetry retries quickly, so that end-to-end tests cover a whole retry
// schedule in little virtual time.
var fastRetry = RetryPolicy{Schedule: []time.Duration{5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond}, NoJitter: true}

// shipmentEvent builds a valid shipment event for tests.
func shipmentEvent(id, tracking string, status Status, at time.Time) Event {
	name := DefaultEventName(status)
	n, _ := LookupEventName(name)
	return Event{
		ID: id, Type: TypeTrackingUpdated, Source: SourceShipments, Version: EnvelopeVersion,
		Status: status, Phase: status.Phase(), EventName: name, EventGroup: n.Group(DirectionForward),
		Direction: DirectionForward, Ref: ShipmentRef(status.Phase(), name), Carrier: "ups",
		TrackingNumber: tracking, OccurredAt: at.UTC(), TriggeredAt: at.UTC(),
	}
}

// The end-to-end tests run in synctest bubbles (virtual time) with their
// webhook receivers on an in-memory network (pipeNet): a timeout is an
// exact span of virtual time, so no attempt times out because the machine
// is busy, and no test waits for real time to pass.

// receiver records requests by webhook-id and answers with fn.
type receiver struct {
	srv   *httptest.Server
	mu    sync.Mutex
	byID  map[string]int
	total atomic.Int64
}

func newReceiver(t *testing.T, pn *pipeNet, fn func(w http.ResponseWriter, r *http.Request, n int)) *receiver {
	rc := &receiver{byID: map[string]int{}}
	rc.srv = pn.server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		id := r.Header.Get(HeaderWebhookID)
		rc.mu.Lock()
		rc.byID[id]++
		n := rc.byID[id]
		rc.mu.Unlock()
		rc.total.Add(1)
		fn(w, r, n)
	}))
	return rc
}

func (rc *receiver) count(id string) int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.byID[id]
}

// runDispatcher runs a dispatcher with cfg, inside a synctest bubble;
// without a Sender it sends with a 1 s timeout over pn. stop cancels Run
// and checks that it returned nil.
func runDispatcher(t *testing.T, pn *pipeNet, cfg DispatcherConfig) (*Dispatcher, func()) {
	t.Helper()
	if cfg.Sender == nil {
		cfg.Sender = pn.sender(t, HTTPSenderConfig{Timeout: time.Second})
	}
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 5 * time.Millisecond
	}
	d := NewDispatcher(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			require.NoError(t, <-done)
		})
	}
	t.Cleanup(stop)
	return d, stop
}

// waitSettled waits, in virtual time, until no delivery is pending or in
// flight. Each look is one snapshot of the store, taken while every other
// goroutine of the bubble is blocked (synctest.Wait): two separate counts
// could miss a delivery moving from in flight to pending between them.
func waitSettled(t *testing.T, d *Dispatcher) {
	t.Helper()
	for deadline := time.Now().Add(time.Hour); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		synctest.Wait()
		p, err := d.Deliveries(context.Background(), DeliveryFilter{Limit: MaxPageSize})
		require.NoError(t, err)
		require.False(t, p.PageInfo.HasNextPage, "waitSettled looks at one page of deliveries")
		busy := 0
		for _, x := range p.Items {
			if x.State == DeliveryPending || x.State == DeliveryInFlight {
				busy++
			}
		}
		if busy == 0 {
			return
		}
	}
	t.Fatal("deliveries did not settle within an hour of virtual time")
}

func deliveriesOf(t *testing.T, d *Dispatcher, subID string) []Delivery {
	t.Helper()
	var out []Delivery
	f := DeliveryFilter{SubscriptionID: subID, Limit: MaxPageSize}
	for {
		p, err := d.Deliveries(context.Background(), f)
		require.NoError(t, err)
		out = append(out, p.Items...)
		if !p.PageInfo.HasNextPage {
			return out
		}
		f.After = p.PageInfo.EndCursor
	}
}

func TestDispatchEndToEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := newPipeNet()
		ok := newReceiver(t, pn, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(204) })
		flaky := newReceiver(t, pn, func(w http.ResponseWriter, r *http.Request, n int) {
			if n <= 2 {
				w.WriteHeader(500)
				return
			}
			w.WriteHeader(200)
		})
		limited := newReceiver(t, pn, func(w http.ResponseWriter, r *http.Request, n int) {
			if n == 1 {
				w.Header().Set("Retry-After", "0")
				w.WriteHeader(429)
				return
			}
			w.WriteHeader(200)
		})
		gone := newReceiver(t, pn, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(410) })
		rejected := newReceiver(t, pn, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(400) })
		release := make(chan struct{})
		slow := newReceiver(t, pn, func(w http.ResponseWriter, r *http.Request, n int) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		})
		defer close(release)
		reset := newReceiver(t, pn, func(w http.ResponseWriter, r *http.Request, n int) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		})
		// Accepts, then trickles its body a byte at a time: the sender stops
		// reading at its timeout, and a 2xx already received counts.
		trickle := newReceiver(t, pn, func(w http.ResponseWriter, r *http.Request, n int) {
			w.WriteHeader(200)
			for range 1000 {
				if _, err := w.Write([]byte{'.'}); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-release:
					return
				case <-r.Context().Done():
					return
				case <-time.After(20 * time.Millisecond):
				}
			}
		})
		huge := newReceiver(t, pn, func(w http.ResponseWriter, r *http.Request, n int) {
			w.WriteHeader(200)
			bw := bufio.NewWriter(w)
			chunk := make([]byte, 32<<10)
			for range 64 { // 2 MiB; the sender reads at most 64 KiB
				if _, err := bw.Write(chunk); err != nil {
					return
				}
			}
			bw.Flush()
		})

		d, stop := runDispatcher(t, pn, DispatcherConfig{Retry: fastRetry, DisableDeliveryEvents: true})
		ctx := context.Background()
		subs := map[string]*receiver{"ok": ok, "flaky": flaky, "limited": limited, "gone": gone, "rejected": rejected, "slow": slow, "reset": reset, "huge": huge, "trickle": trickle}
		for id, rc := range subs {
			require.NoError(t, d.Subscribe(ctx, Subscription{ID: id, URL: rc.srv.URL, EnabledEvents: []string{"shipments"}, Secrets: []string{dispatchSecret}}))
		}
		base := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		var events []Event
		for i := range 12 {
			events = append(events, shipmentEvent(fmt.Sprintf("evt-%02d", i), fmt.Sprintf("1Z%03d", i), StatusInTransit, base.Add(time.Duration(i)*time.Minute)))
		}
		res, err := d.Publish(ctx, events...)
		require.NoError(t, err)
		for _, r := range res {
			require.Equal(t, AppendNew, r.Outcome)
			require.Equal(t, len(subs), r.Deliveries)
		}
		waitSettled(t, d)
		stop()

		for _, e := range events {
			assert.Equal(t, 1, ok.count(e.ID), "healthy endpoint gets each event exactly once")
			assert.Equal(t, 3, flaky.count(e.ID), "flaky endpoint: two 500s then success")
			assert.Equal(t, 2, limited.count(e.ID), "429 then success")
			assert.Equal(t, 1, huge.count(e.ID), "huge body still counts as delivered once")
			assert.Equal(t, 1, trickle.count(e.ID), "a slow body after a 2xx counts as delivered once")
			assert.Equal(t, 1, rejected.count(e.ID), "400 is permanent: not retried")
		}
		assert.LessOrEqual(t, gone.total.Load(), int64(len(events)), "410 disables: at most one request per event already in flight")

		want := map[string]DeliveryState{"ok": DeliverySucceeded, "flaky": DeliverySucceeded, "limited": DeliverySucceeded, "huge": DeliverySucceeded, "trickle": DeliverySucceeded,
			"gone": DeliveryDead, "rejected": DeliveryDead, "slow": DeliveryDead, "reset": DeliveryDead}
		for id, state := range want {
			dels := deliveriesOf(t, d, id)
			require.Len(t, dels, len(events), "subscription %s: one delivery per event, none lost", id)
			for _, del := range dels {
				assert.Equal(t, state, del.State, "subscription %s delivery %s", id, del.ID)
				atts, err := d.Attempts(ctx, del.ID)
				require.NoError(t, err)
				assert.Equal(t, del.Attempts, len(atts), "every attempt recorded")
			}
		}
		// Timeouts and resets are retried to the end of the schedule.
		for _, del := range deliveriesOf(t, d, "slow") {
			assert.Equal(t, 4, del.Attempts, "slow endpoint: 4 attempts (1 + 3 retries); %s after %q", del.State, del.LastError)
		}
		for _, del := range deliveriesOf(t, d, "reset") {
			assert.Equal(t, 4, del.Attempts, "reset endpoint: 4 attempts; %s after %q", del.State, del.LastError)
		}
		subsNow, err := d.Store().ListSubscriptions(ctx)
		require.NoError(t, err)
		for _, s := range subsNow {
			if s.ID == "gone" {
				assert.True(t, s.Disabled, "410 disables the subscription")
				assert.Contains(t, s.DisabledReason, "410")
			} else {
				assert.False(t, s.Disabled, s.ID)
			}
		}
		st, err := d.Event(ctx, events[0].Key())
		require.NoError(t, err)
		assert.Equal(t, 0, st.PendingDeliveries)

		// Fix the rejecting endpoint and replay its dead letters: every event
		// arrives once more.
		fixed := newReceiver(t, pn, func(w http.ResponseWriter, r *http.Request, n int) { w.WriteHeader(200) })
		require.NoError(t, d.Subscribe(ctx, Subscription{ID: "rejected", URL: fixed.srv.URL, EnabledEvents: []string{"shipments"}}))
		d2, stop2 := runDispatcher(t, pn, DispatcherConfig{Store: d.Store(), Retry: fastRetry, DisableDeliveryEvents: true})
		n, err := d2.ReplayDeadLetters(ctx, "rejected")
		require.NoError(t, err)
		assert.Equal(t, len(events), n)
		waitSettled(t, d2)
		stop2()
		for _, e := range events {
			assert.Equal(t, 1, fixed.count(e.ID), "replayed dead letter delivered")
		}
		for _, del := range deliveriesOf(t, d2, "rejected") {
			assert.Equal(t, DeliverySucceeded, del.State)
			assert.Equal(t, 2, del.Attempts, "history kept across replay")
		}
	})
}

const dispatchSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func TestDispatchSignsRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := newPipeNet()
		var mu sync.Mutex
		var verifyErr []error
		rc := newReceiver(t, pn, func(w http.ResponseWriter, r *http.Request, n int) {})
		rc.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			verifyErr = append(verifyErr, Verify(dispatchSecret, r.Header, body, nil))
			mu.Unlock()
		})
		d, stop := runDispatcher(t, pn, DispatcherConfig{Retry: fastRetry, DisableDeliveryEvents: true})
		ctx := context.Background()
		require.NoError(t, d.Subscribe(ctx, Subscription{ID: "s", URL: rc.srv.URL, EnabledEvents: []string{"*"}, Secrets: []string{dispatchSecret}, Form: FormFlat}))
		_, err := d.Publish(ctx, shipmentEvent("e1", "T1", StatusDelivered, time.Now()))
		require.NoError(t, err)
		waitSettled(t, d)
		stop()
		require.Len(t, verifyErr, 1)
		assert.NoError(t, verifyErr[0])
	})
}

func TestDispatchOrderingLateEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := newPipeNet()
		var mu sync.Mutex
		got := map[string][]string{}
		d, stop := runDispatcher(t, pn, DispatcherConfig{DisableDeliveryEvents: true})
		for _, name := range []string{"status", "all"} {
			name := name
			d.Handle(name, func(ctx context.Context, e Event) error {
				mu.Lock()
				got[name] = append(got[name], e.ID)
				mu.Unlock()
				return nil
			})
		}
		ctx := context.Background()
		require.NoError(t, d.Subscribe(ctx, Subscription{ID: "status", Handler: "status", EnabledEvents: []string{"shipments"}}))
		require.NoError(t, d.Subscribe(ctx, Subscription{ID: "all", Handler: "all", EnabledEvents: []string{"shipments"}, IncludeLate: true}))
		t0 := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		res, err := d.Publish(ctx,
			shipmentEvent("a", "1Z1", StatusInTransit, t0),
			shipmentEvent("b", "1Z1", StatusDelivered, t0.Add(2*time.Hour)),
		)
		require.NoError(t, err)
		assert.Equal(t, AppendNew, res[1].Outcome)
		// Arrives after DELIVERED, but even though its scan is later, a
		// non-terminal status never replaces a terminal one.
		res, err = d.Publish(ctx, shipmentEvent("c", "1Z1", StatusInTransit, t0.Add(3*time.Hour)))
		require.NoError(t, err)
		assert.Equal(t, AppendLate, res[0].Outcome)
		assert.Equal(t, 1, res[0].Deliveries, "only the IncludeLate subscription gets the late event")
		waitSettled(t, d)
		stop()

		j, err := d.Journey(ctx, ShipmentKey{Carrier: "ups", TrackingNumber: "1Z1"})
		require.NoError(t, err)
		require.NotNil(t, j.Current)
		assert.Equal(t, StatusDelivered, j.Current.Status, "late IN_TRANSIT does not move the current status")
		require.Len(t, j.Steps, 3, "late events are kept in history")
		assert.True(t, j.Steps[2].Late)
		assert.True(t, j.Steps[1].Current)
		mu.Lock()
		defer mu.Unlock()
		assert.ElementsMatch(t, []string{"a", "b"}, got["status"])
		assert.ElementsMatch(t, []string{"a", "b", "c"}, got["all"])
	})
}

func TestPublishIdempotent(t *testing.T) {
	raw := []byte(`{"trackingNumber":"1Z999AA10123456784","localActivityDate":"20250314","localActivityTime":"091519","activityStatus":{"type":"I","code":"OT","description":"Out for Delivery"},"gmtActivityDate":"20250314","gmtActivityTime":"131519","gmtOffset":"-04.00"}`)
	d := NewDispatcher(DispatcherConfig{DisableDeliveryEvents: true})
	ctx := context.Background()
	require.NoError(t, d.Subscribe(ctx, Subscription{ID: "s", URL: "https://example.com/hook", EnabledEvents: []string{"*"}}))
	for round := range 2 {
		events, err := Normalize(FormatUPS, raw)
		require.NoError(t, err)
		res, err := d.Publish(ctx, events...)
		require.NoError(t, err)
		for _, r := range res {
			if round == 0 {
				assert.Equal(t, AppendNew, r.Outcome)
				assert.Equal(t, 1, r.Deliveries)
			} else {
				assert.Equal(t, AppendDuplicate, r.Outcome, "the same scan normalized again has the same id")
				assert.Equal(t, 0, r.Deliveries)
			}
		}
	}
	p, err := d.Deliveries(ctx, DeliveryFilter{})
	require.NoError(t, err)
	assert.Equal(t, 1, p.PageInfo.Count)
}

func TestPublishRejectsInvalidEvents(t *testing.T) {
	d := NewDispatcher(DispatcherConfig{})
	good := shipmentEvent("ok", "T", StatusDelivered, time.Now())
	bad := good
	bad.ID = "bad"
	bad.Status = "SHIPPED"
	_, err := d.Publish(context.Background(), good, bad)
	require.ErrorIs(t, err, ErrInvalidEvent)
	_, err = d.Event(context.Background(), EventKey{ID: "ok"})
	require.ErrorIs(t, err, ErrNotFound, "nothing is stored when one event is invalid")
}

// TestHandleSender: a sender registered under a handler name gets each
// attempt as the webhook sender does (the body in the subscription's
// form, the subscription with its secrets, the attempt number), and its
// errors go through the retry policy.
func TestHandleSender(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := newPipeNet()
		var mu sync.Mutex
		var got []Message
		var calls atomic.Int32
		d, stop := runDispatcher(t, pn, DispatcherConfig{DisableDeliveryEvents: true, Retry: fastRetry})
		d.HandleSender("fwd", SenderFunc(func(ctx context.Context, m *Message) (Response, error) {
			mu.Lock()
			c := *m
			c.Body = slices.Clone(m.Body)
			got = append(got, c)
			mu.Unlock()
			switch m.Event.ID {
			case "flaky":
				if calls.Add(1) == 1 {
					return Response{}, errors.New("broker unavailable")
				}
			case "refused":
				return Response{}, Permanent(errors.New("no such stream"))
			}
			return Response{Body: []byte("stored")}, nil
		}))
		ctx := context.Background()
		secret, err := GenerateSecret()
		require.NoError(t, err)
		require.NoError(t, d.Subscribe(ctx, Subscription{ID: "fwd", Handler: "fwd", EnabledEvents: []string{"shipments"},
			Form: FormCloudEvents, Secrets: []string{secret}}))
		at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		ok, flaky, refused := shipmentEvent("ok", "T1", StatusInTransit, at), shipmentEvent("flaky", "T2", StatusInTransit, at), shipmentEvent("refused", "T3", StatusInTransit, at)
		_, err = d.Publish(ctx, ok, flaky, refused)
		require.NoError(t, err)
		waitSettled(t, d)
		stop()

		mu.Lock()
		defer mu.Unlock()
		attempts := map[string][]int{}
		for _, m := range got {
			attempts[m.Event.ID] = append(attempts[m.Event.ID], m.Attempt)
			want, err := m.Event.MarshalCloudEvent()
			require.NoError(t, err)
			assert.Equal(t, string(want), string(m.Body), "the body is in the subscription's form")
			assert.Equal(t, []string{secret}, m.Subscription.Secrets)
			assert.False(t, m.Timestamp.IsZero())
		}
		assert.Equal(t, map[string][]int{"ok": {1}, "flaky": {1, 2}, "refused": {1}}, attempts)
		for id, want := range map[string]DeliveryState{"ok": DeliverySucceeded, "flaky": DeliverySucceeded, "refused": DeliveryDead} {
			p, err := d.Deliveries(ctx, DeliveryFilter{EventID: id})
			require.NoError(t, err)
			require.Len(t, p.Items, 1, id)
			assert.Equal(t, want, p.Items[0].State, id)
		}
		att, err := d.Attempts(ctx, DeliveryID(ok.Key(), "fwd"))
		require.NoError(t, err)
		require.Len(t, att, 1)
		assert.Equal(t, "stored", att[0].Response, "the sender's response is recorded")

		// Registering a handler under the name replaces the sender.
		d.Handle("fwd", func(context.Context, Event) error { return nil })
		h, _ := d.handlers.Load("fwd")
		_, isSender := h.(Sender)
		assert.False(t, isSender)
	})
}

func TestDeliveryEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := newPipeNet()
		var mu sync.Mutex
		var seen []Event
		d, stop := runDispatcher(t, pn, DispatcherConfig{Retry: RetryPolicy{MaxAttempts: 1}})
		d.Handle("ok", func(ctx context.Context, e Event) error { return nil })
		d.Handle("bad", func(ctx context.Context, e Event) error { return Permanent(errors.New("no")) })
		d.Handle("audit", func(ctx context.Context, e Event) error {
			mu.Lock()
			seen = append(seen, e)
			mu.Unlock()
			return nil
		})
		ctx := context.Background()
		require.NoError(t, d.Subscribe(ctx, Subscription{ID: "ok", Handler: "ok", EnabledEvents: []string{"shipments"}}))
		require.NoError(t, d.Subscribe(ctx, Subscription{ID: "bad", Handler: "bad", EnabledEvents: []string{"shipments"}}))
		// The audit subscription takes everything, its own delivery events
		// included: they must not trigger further delivery events.
		require.NoError(t, d.Subscribe(ctx, Subscription{ID: "audit", Handler: "audit", EnabledEvents: []string{"*"}}))
		_, err := d.Publish(ctx, shipmentEvent("e1", "T1", StatusDelivered, time.Now()))
		require.NoError(t, err)
		waitSettled(t, d)
		// The recorder publishes the delivery events of the last outcomes
		// after writing them; time moves only once it has.
		time.Sleep(time.Second)
		waitSettled(t, d)
		stop()
		mu.Lock()
		defer mu.Unlock()
		refs := map[string]int{}
		for _, e := range seen {
			refs[e.Ref]++
		}
		assert.Equal(t, 1, refs["shipments/delivered/SUCCESSFULLY_DELIVERED"])
		assert.Equal(t, 2, refs["webhooks/delivered"], "ok and audit deliveries of e1")
		assert.Equal(t, 1, refs["webhooks/failed"], "bad delivery of e1")
		assert.Len(t, seen, 4, "no delivery events about delivery events")
	})
}

func TestShutdownReleasesInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := newPipeNet()
		started := make(chan struct{}, 1)
		d, stop := runDispatcher(t, pn, DispatcherConfig{ShutdownGrace: 20 * time.Millisecond, DisableDeliveryEvents: true})
		d.Handle("block", func(ctx context.Context, e Event) error {
			started <- struct{}{}
			<-ctx.Done()
			return ctx.Err()
		})
		ctx := context.Background()
		require.NoError(t, d.Subscribe(ctx, Subscription{ID: "s", Handler: "block", EnabledEvents: []string{"*"}}))
		_, err := d.Publish(ctx, shipmentEvent("e1", "T1", StatusDelivered, time.Now()))
		require.NoError(t, err)
		<-started
		stop() // returns only after the attempt was cancelled and released
		p, err := d.Deliveries(ctx, DeliveryFilter{})
		require.NoError(t, err)
		require.Len(t, p.Items, 1)
		assert.Equal(t, DeliveryPending, p.Items[0].State, "released, not lost")
		assert.Equal(t, 0, p.Items[0].Attempts, "a cancelled attempt is not counted")

		// A new dispatcher on the same store delivers it.
		var delivered atomic.Int32
		d2, stop2 := runDispatcher(t, pn, DispatcherConfig{Store: d.Store(), DisableDeliveryEvents: true})
		d2.Handle("block", func(ctx context.Context, e Event) error { delivered.Add(1); return nil })
		waitSettled(t, d2)
		stop2()
		assert.Equal(t, int32(1), delivered.Load())
	})
}

func TestReplayDeliveryAndEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := newPipeNet()
		var mu sync.Mutex
		got := map[string]int{}
		d, stop := runDispatcher(t, pn, DispatcherConfig{DisableDeliveryEvents: true})
		for _, name := range []string{"a", "b"} {
			name := name
			d.Handle(name, func(ctx context.Context, e Event) error {
				mu.Lock()
				got[name+"/"+e.ID]++
				mu.Unlock()
				return nil
			})
		}
		ctx := context.Background()
		for _, id := range []string{"a", "b"} {
			require.NoError(t, d.Subscribe(ctx, Subscription{ID: id, Handler: id, EnabledEvents: []string{"shipments"}}))
		}
		at := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
		_, err := d.Publish(ctx, shipmentEvent("e1", "T1", StatusInTransit, at), shipmentEvent("e2", "T2", StatusInTransit, at))
		require.NoError(t, err)
		waitSettled(t, d)

		// One delivery: only that (event, subscription) pair is sent again.
		require.NoError(t, d.ReplayDelivery(ctx, DeliveryID(EventKey{ID: "e1"}, "a")))
		waitSettled(t, d)
		// One event: to every subscription it went to.
		n, err := d.ReplayEvent(ctx, EventKey{ID: "e2"})
		require.NoError(t, err)
		assert.Equal(t, 2, n)
		waitSettled(t, d)
		stop()

		mu.Lock()
		defer mu.Unlock()
		assert.Equal(t, map[string]int{"a/e1": 2, "b/e1": 1, "a/e2": 2, "b/e2": 2}, got)
		atts, err := d.Attempts(ctx, DeliveryID(EventKey{ID: "e1"}, "a"))
		require.NoError(t, err)
		assert.Len(t, atts, 2, "the replayed delivery keeps its history")

		require.ErrorIs(t, d.ReplayDelivery(ctx, "no-such-delivery"), ErrNotFound)
		_, err = d.ReplayEvent(ctx, EventKey{ID: "no-such-event"})
		require.ErrorIs(t, err, ErrNotFound)
	})
}

func TestEventsHistoryFiltersAndPages(t *testing.T) {
	d := NewDispatcher(DispatcherConfig{})
	ctx := context.Background()
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var events []Event
	for i := range 25 {
		st := StatusInTransit
		if i%5 == 4 {
			st = StatusDelivered
		}
		e := shipmentEvent(fmt.Sprintf("h-%02d", i), fmt.Sprintf("T%d", i), st, base.Add(time.Duration(i)*time.Hour))
		if i%2 == 0 {
			e.TenantID = "even"
		}
		events = append(events, e)
	}
	_, err := d.Publish(ctx, events...)
	require.NoError(t, err)

	p, err := d.Events(ctx, EventFilter{RefPattern: "shipments/delivered", Limit: 2})
	require.NoError(t, err)
	assert.Equal(t, 5, p.PageInfo.Count)
	require.Len(t, p.Items, 2)
	assert.Equal(t, "h-24", p.Items[0].Event.ID, "newest first")
	assert.True(t, p.PageInfo.HasNextPage)
	assert.False(t, p.PageInfo.HasPreviousPage)
	next, err := d.Events(ctx, EventFilter{RefPattern: "shipments/delivered", Limit: 2, After: p.PageInfo.EndCursor})
	require.NoError(t, err)
	assert.Equal(t, "h-14", next.Items[0].Event.ID)
	assert.True(t, next.PageInfo.HasPreviousPage)

	p, err = d.Events(ctx, EventFilter{TenantID: "even", OccurredAfter: base.Add(10 * time.Hour), OccurredBefore: base.Add(20 * time.Hour)})
	require.NoError(t, err)
	assert.Equal(t, 5, p.PageInfo.Count, "h-10, 12, 14, 16, 18")

	_, err = d.Events(ctx, EventFilter{RefPattern: "shipments//x"})
	require.ErrorIs(t, err, ErrInvalidPattern)
	_, err = d.Events(ctx, EventFilter{After: "not-a-cursor"})
	require.ErrorIs(t, err, ErrInvalidCursor)
}

func TestDeletedSubscriptionDeadLetters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		// Publish while nothing runs, delete the subscription, then start the
		// workers: the delivery must become a dead letter that says why, and
		// the other subscription's delivery must still go out.
		var delivered atomic.Int32
		d := NewDispatcher(DispatcherConfig{DisableDeliveryEvents: true, PollInterval: 5 * time.Millisecond})
		d.Handle("h", func(ctx context.Context, e Event) error { delivered.Add(1); return nil })
		ctx := context.Background()
		require.NoError(t, d.Subscribe(ctx, Subscription{ID: "kept", Handler: "h", EnabledEvents: []string{"*"}}))
		require.NoError(t, d.Subscribe(ctx, Subscription{ID: "gone", Handler: "h", EnabledEvents: []string{"*"}}))
		res, err := d.Publish(ctx, shipmentEvent("e1", "T1", StatusInTransit, time.Now()))
		require.NoError(t, err)
		require.Equal(t, 2, res[0].Deliveries)
		require.NoError(t, d.Unsubscribe(ctx, "gone"))

		runCtx, cancel := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- d.Run(runCtx) }()
		waitSettled(t, d)
		cancel()
		require.NoError(t, <-done)

		gone := deliveriesOf(t, d, "gone")
		require.Len(t, gone, 1)
		assert.Equal(t, DeliveryDead, gone[0].State)
		assert.Contains(t, gone[0].LastError, "no longer exists")
		kept := deliveriesOf(t, d, "kept")
		require.Len(t, kept, 1)
		assert.Equal(t, DeliverySucceeded, kept[0].State)
		assert.Equal(t, int32(1), delivered.Load())
	})
}

// The default sender keeps a connection per worker, so that workers
// sending to one host do not close and dial connections after each burst.
func TestDispatcherDefaultSenderSizedToWorkers(t *testing.T) {
	for workers, want := range map[int]int{0: DefaultMaxIdleConnsPerHost, 16: DefaultMaxIdleConnsPerHost, 200: 200} {
		d := NewDispatcher(DispatcherConfig{Workers: workers})
		s, ok := d.sender.(*HTTPSender)
		if !ok {
			t.Fatalf("default sender is %T, want *HTTPSender", d.sender)
		}
		if got := s.cfg.MaxIdleConnsPerHost; got != want {
			t.Errorf("Workers %d: MaxIdleConnsPerHost %d, want %d", workers, got, want)
		}
	}
}

// subsOutageStore fails ListSubscriptions while down is set.
type subsOutageStore struct {
	*MemoryStore
	down atomic.Bool
}

func (s *subsOutageStore) ListSubscriptions(ctx context.Context) ([]Subscription, error) {
	if s.down.Load() {
		return nil, errors.New("store unreachable")
	}
	return s.MemoryStore.ListSubscriptions(ctx)
}

// A process that publishes without running workers matches events against
// subscriptions loaded from the store, refreshed every
// SubscriptionRefresh; until they could be loaded once it refuses to
// store events that would otherwise never get their deliveries.
func TestPublishLoadsSubscriptions(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	store := &subsOutageStore{MemoryStore: NewMemoryStore(MemoryStoreConfig{Now: now})}
	admin := NewDispatcher(DispatcherConfig{Store: store, Now: now})
	publisher := NewDispatcher(DispatcherConfig{Store: store, Now: now, SubscriptionRefresh: time.Minute})
	sub := func(id string) Subscription {
		return Subscription{ID: id, URL: "https://example.com/" + id, EnabledEvents: []string{"shipments/*"}}
	}
	ev := func(id string) Event { return shipmentEvent(id, "T-"+id, StatusInTransit, clock) }

	store.down.Store(true)
	if _, err := publisher.Publish(ctx, ev("e1")); err == nil {
		t.Fatal("Publish stored an event without ever loading subscriptions")
	}
	if _, err := store.GetEvent(ctx, EventKey{ID: "e1"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the refused event was stored: %v", err)
	}
	store.down.Store(false)

	if err := admin.Subscribe(ctx, sub("a")); err != nil {
		t.Fatal(err)
	}
	res, err := publisher.Publish(ctx, ev("e1"))
	if err != nil || res[0].Deliveries != 1 {
		t.Fatalf("Publish after the store came back: %+v, %v; want 1 delivery", res, err)
	}

	// A subscription made elsewhere is seen once the copy is older than
	// SubscriptionRefresh, not before.
	if err := admin.Subscribe(ctx, sub("b")); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(30 * time.Second)
	if res, _ := publisher.Publish(ctx, ev("e2")); res[0].Deliveries != 1 {
		t.Errorf("e2: %d deliveries within the refresh interval, want 1 (the copy is fresh)", res[0].Deliveries)
	}
	clock = clock.Add(31 * time.Second)
	if res, _ := publisher.Publish(ctx, ev("e3")); res[0].Deliveries != 2 {
		t.Errorf("e3: %d deliveries after the refresh interval, want 2", res[0].Deliveries)
	}

	// A stale copy that cannot be refreshed is still used.
	clock = clock.Add(2 * time.Minute)
	store.down.Store(true)
	if res, err := publisher.Publish(ctx, ev("e4")); err != nil || res[0].Deliveries != 2 {
		t.Errorf("e4 during an outage: %+v, %v; want 2 deliveries from the previous copy", res, err)
	}
}

// noAdderStore hides MemoryStore's optional DeliveryAdder.
type noAdderStore struct{ Store }

func TestBackfill(t *testing.T) {
	ctx := context.Background()
	d := NewDispatcher(DispatcherConfig{DisableDeliveryEvents: true})
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	// Published before the subscription exists: no deliveries.
	var events []Event
	for i := range 5 {
		events = append(events, shipmentEvent(fmt.Sprintf("e%d", i), "T1", StatusInTransit, base.Add(time.Duration(i)*time.Hour)))
	}
	late := shipmentEvent("late", "T1", StatusInTransit, base.Add(-time.Hour)) // older than T1's state
	order, err := NewRecordEvent("orders/created", HostEvent{OccurredAt: base, Data: EventData{OrderID: "o1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Publish(ctx, append(events, late, order)...); err != nil {
		t.Fatal(err)
	}

	sub := Subscription{ID: "new", URL: "https://example.com/h", EnabledEvents: []string{"shipments/*"}}
	if err := d.Subscribe(ctx, sub); err != nil {
		t.Fatal(err)
	}
	n, err := d.Backfill(ctx, "new", EventFilter{OccurredAfter: base.Add(time.Hour)})
	if err != nil || n != 4 {
		t.Fatalf("Backfill = %d, %v; want the 4 shipment events from the second hour on", n, err)
	}
	page, err := d.Deliveries(ctx, DeliveryFilter{SubscriptionID: "new", Limit: MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range page.Items {
		got = append(got, x.EventID)
		if x.State != DeliveryPending || x.ID != DeliveryID(x.EventKey(), "new") {
			t.Errorf("delivery %+v: want pending with the deterministic id", x)
		}
	}
	slices.Sort(got)
	if want := []string{"e1", "e2", "e3", "e4"}; !slices.Equal(got, want) {
		t.Errorf("backfilled events %v, want %v (not the order event, not the late one)", got, want)
	}

	// Repeating adds nothing; a wider filter adds the rest; IncludeLate
	// takes the late event too.
	if n, err := d.Backfill(ctx, "new", EventFilter{OccurredAfter: base.Add(time.Hour)}); err != nil || n != 0 {
		t.Errorf("repeated Backfill = %d, %v; want 0", n, err)
	}
	sub.IncludeLate = true
	if err := d.Subscribe(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if n, err := d.Backfill(ctx, "new", EventFilter{}); err != nil || n != 2 {
		t.Errorf("Backfill of everything = %d, %v; want e0 and the late event", n, err)
	}

	if _, err := d.Backfill(ctx, "nope", EventFilter{}); !errors.Is(err, ErrNotFound) {
		t.Errorf("unknown subscription: %v", err)
	}
	plain := NewDispatcher(DispatcherConfig{Store: noAdderStore{NewMemoryStore(MemoryStoreConfig{})}})
	if err := plain.Subscribe(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if _, err := plain.Backfill(ctx, "new", EventFilter{}); !errors.Is(err, ErrNotSupported) {
		t.Errorf("store without DeliveryAdder: %v, want ErrNotSupported", err)
	}
}

func TestDispatcherConfigValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  DispatcherConfig
		want string // in the error; "" for a valid configuration
	}{
		{"zero", DispatcherConfig{}, ""},
		{"lease twice the timeout", DispatcherConfig{Lease: 2 * time.Second, AttemptTimeout: time.Second}, ""},
		{"lease twice the default timeout", DispatcherConfig{Lease: 2 * DefaultAttemptTimeout}, ""},
		{"default lease, long timeout", DispatcherConfig{AttemptTimeout: 10 * time.Minute}, ""},
		{"negative workers", DispatcherConfig{Workers: -1}, "Workers -1 is negative"},
		{"negative lease", DispatcherConfig{Lease: -time.Second}, "Lease -1s is negative"},
		{"negative timeout", DispatcherConfig{AttemptTimeout: -time.Second}, "AttemptTimeout -1s is negative"},
		{"negative poll", DispatcherConfig{PollInterval: -time.Second}, "PollInterval -1s is negative"},
		{"negative refresh", DispatcherConfig{SubscriptionRefresh: -time.Second}, "SubscriptionRefresh -1s is negative"},
		{"negative grace", DispatcherConfig{ShutdownGrace: -time.Second}, "ShutdownGrace -1s is negative"},
		{"negative streak", DispatcherConfig{DisableAfter: FailureStreak{Failures: -1}}, "DisableAfter.Failures -1 is negative"},
		{"negative streak span", DispatcherConfig{DisableAfter: FailureStreak{Duration: -time.Hour}}, "DisableAfter.Duration -1h0m0s is negative"},
		{"bad retry policy", DispatcherConfig{Retry: RetryPolicy{Multiplier: 0.5}}, "Retry: retry multiplier 0.5 is below 1"},
		{"negative retry attempts", DispatcherConfig{Retry: RetryPolicy{MaxAttempts: -1}}, "Retry: negative retry setting"},
		{"lease shorter than two attempts", DispatcherConfig{Lease: 3 * time.Second, AttemptTimeout: 2 * time.Second},
			"Lease 3s is shorter than twice the AttemptTimeout of 2s"},
		{"lease shorter than two default attempts", DispatcherConfig{Lease: 20 * time.Second},
			"Lease 20s is shorter than twice the AttemptTimeout of 15s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.cfg.Validate()
			if c.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), c.want)
			// Run refuses it without starting.
			d := NewDispatcher(c.cfg)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			assert.Equal(t, err, d.Run(ctx))
		})
	}
}

// TestDispatcherLeaseDefault: a zero Lease is the default, raised to cover
// two attempts when the AttemptTimeout is long; a set Lease is kept.
func TestDispatcherLeaseDefault(t *testing.T) {
	for _, c := range []struct {
		lease, timeout, want time.Duration
	}{
		{0, 0, DefaultLease},
		{0, 10 * time.Second, DefaultLease},
		{0, 10 * time.Minute, 20 * time.Minute},
		{5 * time.Minute, 10 * time.Second, 5 * time.Minute},
		{2 * time.Second, time.Second, 2 * time.Second},
	} {
		d := NewDispatcher(DispatcherConfig{Lease: c.lease, AttemptTimeout: c.timeout})
		assert.Equal(t, c.want, d.lease, "Lease %v, AttemptTimeout %v", c.lease, c.timeout)
	}
}

// TestPublishPoisonedBatch: a batch holding one event with a NUL byte is
// refused as a whole before anything is stored, with an error naming the
// event's index, so the caller can publish the valid events on their own.
func TestPublishPoisonedBatch(t *testing.T) {
	ctx := context.Background()
	d := NewDispatcher(DispatcherConfig{})
	require.NoError(t, d.Subscribe(ctx, Subscription{ID: "s", URL: "https://example.com/h", EnabledEvents: []string{"*"}}))
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := []Event{
		shipmentEvent("e0", "1Z0", StatusInTransit, at),
		shipmentEvent("e1", "1Z1\x00", StatusInTransit, at),
		shipmentEvent("e2", "1Z2", StatusInTransit, at),
	}
	res, err := d.Publish(ctx, batch...)
	t.Logf("Publish of a batch with a poisoned event: results %v, error %v", res, err)
	require.ErrorIs(t, err, ErrInvalidEvent)
	var ee *EventError
	require.ErrorAs(t, err, &ee)
	assert.Equal(t, 1, ee.Index)
	assert.Equal(t, "e1", ee.ID)
	assert.Contains(t, err.Error(), "event 1")
	assert.Nil(t, res)
	page, err := d.Events(ctx, EventFilter{})
	require.NoError(t, err)
	assert.Zero(t, page.PageInfo.Count, "nothing of the batch is stored")

	valid := slices.Delete(slices.Clone(batch), ee.Index, ee.Index+1)
	res, err = d.Publish(ctx, valid...)
	require.NoError(t, err)
	require.Len(t, res, 2)
	for _, r := range res {
		assert.Equal(t, AppendNew, r.Outcome)
		assert.Equal(t, 1, r.Deliveries)
	}
}
