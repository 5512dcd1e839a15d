package natsjs_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/natsjs"
)

// benchWorkers is the dispatcher's worker count on both sides.
const benchWorkers = 32

// BenchmarkDispatch delivers the same events through two Dispatchers, each
// with a MemoryStore and benchWorkers workers, signing with one secret:
// one to JetStream (an in-process server with file storage, reached over
// loopback TCP, through a handler subscription), the other, the
// baseline, to an HTTP receiver on loopback with the HTTP sender. A
// delivery is published, claimed, encoded, signed, sent, acknowledged and
// recorded.
//
// In the same turns, "only" sends the same Messages to each destination
// from as many goroutines without a dispatcher, and "noop" runs a
// dispatcher whose sender accepts everything at once: the dispatcher's
// own cost per attempt, the same on both sides.
//
// One op is one event delivered on each side. The sides take turns by
// chunks of events, each chunk delivered completely before the other
// side gets it, so that bursts of load on a shared machine hit both
// alike; it reports each side's deliveries per second and CPU time per
// delivery, and their ratios.
func BenchmarkDispatch(b *testing.B) {
	s := runServer(b, b.TempDir(), 0)
	nc := connect(b, s.ClientURL())
	createStream(b, jetStream(b, nc), natsjs.StreamConfig("EVENTS", ""))
	pub := newPublisher(b, nc, natsjs.PublisherConfig{Stream: "EVENTS"})
	js := shipevents.NewDispatcher(shipevents.DispatcherConfig{DisableDeliveryEvents: true, Workers: benchWorkers})
	js.HandleSender("jetstream", pub)
	jsSide := startSide(b, js, shipevents.Subscription{ID: "s", Handler: "jetstream", EnabledEvents: []string{"*"}, Secrets: []string{testSecret}})

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	loopback := shipevents.AddressPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}
	sender := shipevents.NewHTTPSender(shipevents.HTTPSenderConfig{Policy: loopback, MaxIdleConnsPerHost: benchWorkers})
	hd := shipevents.NewDispatcher(shipevents.DispatcherConfig{DisableDeliveryEvents: true, Workers: benchWorkers, Sender: sender})
	httpSide := startSide(b, hd, shipevents.Subscription{ID: "s", URL: srv.URL, EnabledEvents: []string{"*"}, Secrets: []string{testSecret}})

	// The destinations alone, in the same turns: the same Messages sent
	// from as many goroutines, without the dispatcher.
	jsOnly := &side{send: pub, sub: &shipevents.Subscription{ID: "s", Handler: "jetstream", Secrets: []string{testSecret}}}
	httpOnly := &side{send: sender, sub: &shipevents.Subscription{ID: "s", URL: srv.URL, Secrets: []string{testSecret}}}
	// The dispatcher alone: the same subscription with a sender that
	// accepts everything at once.
	nd := shipevents.NewDispatcher(shipevents.DispatcherConfig{DisableDeliveryEvents: true, Workers: benchWorkers})
	nd.HandleSender("noop", shipevents.SenderFunc(func(context.Context, *shipevents.Message) (shipevents.Response, error) {
		return shipevents.Response{}, nil
	}))
	noop := startSide(b, nd, shipevents.Subscription{ID: "s", Handler: "noop", EnabledEvents: []string{"*"}, Secrets: []string{testSecret}})
	sides := []*side{jsSide, httpSide, jsOnly, httpOnly, noop}

	const chunk = 1000
	pending := make([]shipevents.Event, 0, chunk)
	n := 0
	b.ReportAllocs()
	for b.Loop() {
		n++
		pending = append(pending, shipmentEvent(b, n, "acme", "IN_TRANSIT"))
		if len(pending) == chunk {
			for _, s := range sides {
				s.deliver(b, pending)
			}
			pending = pending[:0]
		}
	}
	for _, s := range sides {
		s.deliver(b, pending)
	}
	b.StopTimer()
	report := func(js, http *side, name string) {
		jsRate, httpRate := js.rate(), http.rate()
		b.ReportMetric(jsRate, name+"js-deliveries/s")
		b.ReportMetric(httpRate, name+"http-deliveries/s")
		b.ReportMetric(jsRate/httpRate, name+"js/http-rate")
		b.ReportMetric(js.cpuPer(), name+"js-cpu-µs")
		b.ReportMetric(http.cpuPer(), name+"http-cpu-µs")
	}
	report(jsSide, httpSide, "")
	report(jsOnly, httpOnly, "only-")
	b.ReportMetric(noop.cpuPer(), "noop-cpu-µs")
}

func (s *side) rate() float64 { return float64(s.n) / s.wall.Seconds() }

func (s *side) cpuPer() float64 { return float64(s.cpu.Microseconds()) / float64(s.n) }

// side is one way of delivering of the benchmark and what its chunks
// took.
type side struct {
	d    *shipevents.Dispatcher
	send shipevents.Sender // without d: sent directly, from benchWorkers goroutines
	sub  *shipevents.Subscription
	n    int           // events delivered
	wall time.Duration // wall time of the chunks
	cpu  time.Duration // process CPU time of the chunks
}

func startSide(b *testing.B, d *shipevents.Dispatcher, sub shipevents.Subscription) *side {
	ctx := context.Background()
	if err := d.Subscribe(ctx, sub); err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- d.Run(runCtx) }()
	b.Cleanup(func() {
		stop()
		<-done
	})
	return &side{d: d}
}

// deliver publishes events in groups of 8 (as Normalize returns a
// payload's scans) and waits until all are delivered.
func (s *side) deliver(b *testing.B, events []shipevents.Event) {
	if len(events) == 0 {
		return
	}
	ctx := context.Background()
	cpu, start := processCPU(), time.Now()
	if s.d == nil {
		s.sendDirectly(b, events)
		s.wall += time.Since(start)
		s.cpu += processCPU() - cpu
		s.n += len(events)
		return
	}
	target := int64(s.n + len(events))
	for i := 0; i < len(events); i += 8 {
		if _, err := s.d.Publish(ctx, events[i:min(i+8, len(events))]...); err != nil {
			b.Fatal(err)
		}
	}
	for s.d.Stats().Succeeded < target {
		time.Sleep(200 * time.Microsecond)
	}
	s.wall += time.Since(start)
	s.cpu += processCPU() - cpu
	s.n += len(events)
	if st := s.d.Stats(); st.Attempts != st.Succeeded {
		b.Fatalf("failed attempts: %+v", st)
	}
}

// sendDirectly hands each event's Message to the sender, from
// benchWorkers goroutines, as the dispatcher's workers would, without
// the dispatcher.
func (s *side) sendDirectly(b *testing.B, events []shipevents.Event) {
	work := make(chan int)
	var wg sync.WaitGroup
	for range benchWorkers {
		wg.Go(func() {
			for i := range work {
				e := &events[i]
				body, err := json.Marshal(e)
				if err != nil {
					b.Error(err)
					return
				}
				m := &shipevents.Message{DeliveryID: e.ID, Attempt: 1, Event: e, Subscription: s.sub, Body: body, Timestamp: time.Now()}
				if _, err := s.send.Send(context.Background(), m); err != nil {
					b.Error(err)
				}
			}
		})
	}
	for i := range events {
		work <- i
	}
	close(work)
	wg.Wait()
}

// processCPU is the process's user and system CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
