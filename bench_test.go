package shipevents

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// typedTargets returns, per format, a fresh value of the struct its parser
// decodes into: the "bare typed json.Unmarshal" baseline.
var typedTargets = map[string]func() any{
	FormatUPS:            func() any { return new(upsPayload) },
	FormatFedEx:          func() any { return new(fedexPayload) },
	FormatDHL:            func() any { return new(dhlPayload) },
	FormatUSPS:           func() any { return new(uspsPayload) },
	FormatDHLExpress:     func() any { return new(dhlExpressPayload) },
	FormatGLS:            func() any { return new(glsPayload) },
	FormatLaPoste:        func() any { return new([]laposteResponse) }, // its largest fixture is a multi-item array
	FormatHermes:         func() any { return new(hermesPayload) },
	FormatAmazonShipping: func() any { return new(amazonShippingPayload) },
	FormatParcelOne:      func() any { return new(parcelonePayload) },
	FormatSEKO:           func() any { return new([]sekoConsignment) }, // its largest fixture is a list
	FormatSpring:         func() any { return new(springPayload) },
	FormatEasyPost:       func() any { return new(easypostPayload) },
	FormatAfterShip:      func() any { return new(aftershipPayload) },
	FormatShippo:         func() any { return new(shippoPayload) },
	FormatKarrio:         func() any { return new(karrioPayload) },
	FormatShipEngine:     func() any { return new(shipenginePayload) },
	FormatFulfillment:    func() any { return new([]fulfillmentEvent) }, // its largest fixture is a batch
}

// largestFixture returns the biggest fixture of a format (the UPS one is
// the 2 KB, 10-activity benchmark payload).
func largestFixture(b testing.TB, format string) []byte {
	b.Helper()
	if format == FormatUPS {
		raw, err := os.ReadFile(filepath.Join("testdata", "ups", "track_2k.json"))
		if err != nil {
			b.Fatal(err)
		}
		return raw
	}
	var best []byte
	for _, p := range fixtures(b)[format] {
		raw, err := os.ReadFile(p)
		if err != nil {
			b.Fatal(err)
		}
		if len(raw) > len(best) {
			best = raw
		}
	}
	return best
}

// BenchmarkNormalize measures Normalize on each format against, in the
// same run, a generic decode of the same bytes into map[string]any and a
// bare decode into the parser's own typed struct (for the XML formats, see
// normalizeBaselines). Compare them with benchstat or the ratios in
// BENCHMARKS.md.
func BenchmarkNormalize(b *testing.B) {
	n := NewNormalizer(NormalizerConfig{})
	for _, format := range Formats() {
		raw := largestFixture(b, format)
		b.Run(format+"/normalize", func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := n.Normalize(format, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		generic, typed, own := normalizeBaselines(format)
		b.Run(format+"/unmarshal_map", func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if err := generic(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(format+"/unmarshal_typed", func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if err := typed(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(format+"/decode_typed", func(b *testing.B) {
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if err := own(raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// benchPatterns returns n realistic subscription patterns: mostly exact
// event refs and phase prefixes for many tenants' custom names, with some
// wildcards.
func benchPatterns(n int) []string {
	rng := rand.New(rand.NewPCG(7, 9))
	names := EventNames()
	phases := []string{"pre_transit", "in_transit", "in_delivery", "delivered", "delivery_failed", "returned", "cancelled", "exception"}
	out := make([]string, n)
	for i := range out {
		switch r := rng.IntN(100); {
		case r < 60: // an exact ref of a custom source: many distinct patterns
			out[i] = fmt.Sprintf("tenant%d/%s/%s", rng.IntN(n), phases[rng.IntN(len(phases))], names[rng.IntN(len(names))].Name)
		case r < 85:
			nm := names[rng.IntN(len(names))]
			out[i] = ShipmentRef(nm.Status.Phase(), nm.Name)
		case r < 95:
			out[i] = "shipments/" + phases[rng.IntN(len(phases))]
		default:
			out[i] = "shipments/*/" + names[rng.IntN(len(names))].Name
		}
	}
	return out
}

// BenchmarkRefIndex measures one match against 10,000 and 100,000
// patterns through the index, and a linear MatchRef scan over the same
// 10,000 patterns in the same run.
func BenchmarkRefIndex(b *testing.B) {
	ref := "shipments/delivered/SUCCESSFULLY_DELIVERED"
	for _, n := range []int{10_000, 100_000} {
		patterns := benchPatterns(n)
		ix := NewRefIndex[int]()
		for i, p := range patterns {
			if err := ix.Add(p, i); err != nil {
				b.Fatal(err)
			}
		}
		want := 0
		for _, p := range patterns {
			if MatchRef(p, ref) {
				want++
			}
		}
		b.Run(fmt.Sprintf("index/%d", n), func(b *testing.B) {
			dst := make([]int, 0, 4096)
			b.ReportAllocs()
			for b.Loop() {
				dst = ix.Match(ref, dst[:0])
			}
			if len(dst) != want {
				b.Fatalf("index matched %d, linear scan %d", len(dst), want)
			}
			b.ReportMetric(float64(want), "matches")
		})
		// A tenant's own ref matches a handful of patterns: the lookup's
		// cost without a long result to append.
		own := ""
		for _, p := range patterns {
			if strings.HasPrefix(p, "tenant") && !strings.Contains(p, "*") && strings.Count(p, "/") == 2 {
				own = p
				break
			}
		}
		b.Run(fmt.Sprintf("index-own-ref/%d", n), func(b *testing.B) {
			dst := make([]int, 0, 64)
			b.ReportAllocs()
			for b.Loop() {
				dst = ix.Match(own, dst[:0])
			}
			if len(dst) == 0 {
				b.Fatalf("%s matched nothing", own)
			}
			b.ReportMetric(float64(len(dst)), "matches")
		})
		if n == 10_000 {
			b.Run(fmt.Sprintf("linear/%d", n), func(b *testing.B) {
				dst := make([]int, 0, 4096)
				b.ReportAllocs()
				for b.Loop() {
					dst = dst[:0]
					for i, p := range patterns {
						if MatchRef(p, ref) {
							dst = append(dst, i)
						}
					}
				}
			})
		}
	}
}

// BenchmarkPublish publishes into a MemoryStore with 100 matching
// subscriptions: one op is one event (100 deliveries recorded).
func BenchmarkPublish(b *testing.B) {
	ctx := context.Background()
	d := NewDispatcher(DispatcherConfig{DisableDeliveryEvents: true})
	for i := range 100 {
		pattern := []string{"shipments", "shipments/in_transit", "*", "shipments/*/IN_TRANSIT"}[i%4]
		if err := d.Subscribe(ctx, Subscription{ID: fmt.Sprintf("sub-%03d", i), URL: "https://example.com/hook", EnabledEvents: []string{pattern}}); err != nil {
			b.Fatal(err)
		}
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		e := shipmentEvent(fmt.Sprintf("evt-%d", i), fmt.Sprintf("T%d", i%5000), StatusInTransit, base.Add(time.Duration(i)*time.Second))
		res, err := d.Publish(ctx, e)
		if err != nil || res[0].Deliveries != 100 {
			b.Fatalf("publish: %v %+v", err, res)
		}
	}
}

// BenchmarkDispatchLoopback measures end-to-end delivery with the
// MemoryStore to an httptest receiver on loopback: one op is one delivery
// (published, claimed, signed, POSTed, recorded). It reports deliveries
// per second and the p50/p99 latency from Publish to the receiver, and, in
// the same run, "http_only" POSTs the same body to the same receiver with
// the same client settings: the difference per op is the dispatcher's own
// overhead. "latency" measures Publish-to-receiver time with one event in
// flight at a time.
func BenchmarkDispatchLoopback(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(204)
	}))
	defer srv.Close()
	sender := NewHTTPSender(HTTPSenderConfig{Policy: e2ePolicy})
	body, _ := json.Marshal(shipmentEvent("x", "T", StatusInTransit, time.Now()))

	b.Run("dispatcher", func(b *testing.B) {
		defer reportCPU(b)()
		ctx := context.Background()
		d := NewDispatcher(DispatcherConfig{Sender: sender, DisableDeliveryEvents: true, Workers: 64})
		if err := d.Subscribe(ctx, Subscription{ID: "s", URL: srv.URL, EnabledEvents: []string{"*"}, Secrets: []string{dispatchSecret}}); err != nil {
			b.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- d.Run(runCtx) }()
		base := time.Now()
		b.ReportAllocs()
		start := time.Now()
		n := 0
		// Events are published in groups, as Normalize returns them (a
		// payload is several scans); the backlog is kept bounded so the
		// run measures a steady pipeline, not a growing queue.
		const group, backlog = 8, 1024
		pending := make([]Event, 0, group)
		for b.Loop() {
			n++
			id := "e-" + strconv.Itoa(n)
			pending = append(pending, shipmentEvent(id, "T"+id, StatusInTransit, base.Add(time.Duration(n))))
			if len(pending) == group {
				if _, err := d.Publish(ctx, pending...); err != nil {
					b.Fatal(err)
				}
				pending = pending[:0]
				for int(d.Stats().Succeeded) < n-backlog {
					time.Sleep(time.Millisecond)
				}
			}
		}
		if _, err := d.Publish(ctx, pending...); err != nil {
			b.Fatal(err)
		}
		for int(d.Stats().Succeeded) < n {
			time.Sleep(time.Millisecond)
		}
		elapsed := time.Since(start)
		stop()
		<-done
		b.ReportMetric(float64(n)/elapsed.Seconds(), "deliveries/s")
	})

	// latency publishes one event at a time and waits for the receiver to
	// see it: the time from Publish to the endpoint with nothing queued.
	b.Run("latency", func(b *testing.B) {
		ctx := context.Background()
		got := make(chan struct{}, 1)
		srv2 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.WriteHeader(204)
			got <- struct{}{}
		}))
		defer srv2.Close()
		d := NewDispatcher(DispatcherConfig{Sender: sender, DisableDeliveryEvents: true})
		if err := d.Subscribe(ctx, Subscription{ID: "s", URL: srv2.URL, EnabledEvents: []string{"*"}, Secrets: []string{dispatchSecret}}); err != nil {
			b.Fatal(err)
		}
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error)
		go func() { done <- d.Run(runCtx) }()
		var lats []time.Duration
		base := time.Now()
		n := 0
		b.ReportAllocs()
		for b.Loop() {
			n++
			start := time.Now()
			if _, err := d.Publish(ctx, shipmentEvent(fmt.Sprintf("l-%d", n), "L", StatusInTransit, base.Add(time.Duration(n)))); err != nil {
				b.Fatal(err)
			}
			<-got
			lats = append(lats, time.Since(start))
		}
		stop()
		<-done
		slices.Sort(lats)
		b.ReportMetric(float64(lats[len(lats)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lats[len(lats)*99/100].Microseconds()), "p99-µs")
	})

	b.Run("http_only", func(b *testing.B) {
		defer reportCPU(b)()
		sub := &Subscription{ID: "s", URL: srv.URL, Secrets: []string{dispatchSecret}}
		ev := shipmentEvent("x", "T", StatusInTransit, time.Now())
		var wg sync.WaitGroup
		work := make(chan struct{}, 64)
		for range 64 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range work {
					if _, err := sender.Send(context.Background(), &Message{Event: &ev, Subscription: sub, Body: body, Timestamp: time.Now()}); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		b.ReportAllocs()
		start := time.Now()
		n := 0
		for b.Loop() {
			n++
			work <- struct{}{}
		}
		close(work)
		wg.Wait()
		b.ReportMetric(float64(n)/time.Since(start).Seconds(), "deliveries/s")
	})
}

// BenchmarkNormalizeInterleaved runs Normalize, the map[string]any decode,
// the typed json.Unmarshal and the library's own typed decode (the part of
// Normalize that parses; for the XML formats, the baselines of
// normalizeBaselines) one after the other inside every iteration, and
// reports each one's ns/op and the ratios, and the ratio of the process CPU
// time of Normalize to that of the typed decode. On a shared, noisy machine,
// bursts of load then hit all four alike, which separate sub-benchmarks
// cannot promise.
func BenchmarkNormalizeInterleaved(b *testing.B) {
	n := NewNormalizer(NormalizerConfig{})
	for _, format := range Formats() {
		raw := largestFixture(b, format)
		generic, typed, own := normalizeBaselines(format)
		b.Run(format, func(b *testing.B) {
			var tn, tm, tt, td, cn, ct time.Duration
			for b.Loop() {
				c0 := processCPU()
				t0 := time.Now()
				if _, err := n.Normalize(format, raw); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				c1 := processCPU()
				t1b := time.Now()
				if err := generic(raw); err != nil {
					b.Fatal(err)
				}
				t2 := time.Now()
				c2 := processCPU()
				t2b := time.Now()
				if err := typed(raw); err != nil {
					b.Fatal(err)
				}
				t3 := time.Now()
				c3 := processCPU()
				t3b := time.Now()
				if err := own(raw); err != nil {
					b.Fatal(err)
				}
				t4 := time.Now()
				tn, tm, tt, td = tn+t1.Sub(t0), tm+t2.Sub(t1b), tt+t3.Sub(t2b), td+t4.Sub(t3b)
				cn, ct = cn+c1-c0, ct+c3-c2
			}
			iters := float64(b.N)
			b.ReportMetric(float64(tn.Nanoseconds())/iters, "normalize-ns")
			b.ReportMetric(float64(tm.Nanoseconds())/iters, "map-ns")
			b.ReportMetric(float64(tt.Nanoseconds())/iters, "typed-ns")
			b.ReportMetric(float64(tn)/float64(tm), "x-map")
			b.ReportMetric(float64(tn)/float64(tt), "x-typed")
			b.ReportMetric(float64(td.Nanoseconds())/iters, "decode-ns")
			b.ReportMetric(float64(tn)/float64(td), "x-decode")
			// Process CPU time of the Normalize and typed parts: time the
			// host gives other processes is not in it.
			b.ReportMetric(float64(cn)/float64(ct), "x-typed-cpu")
			b.ReportMetric(float64(len(raw)), "bytes")
		})
	}
}

// reportCPU reports the process CPU time (user and system) per op of a
// benchmark: on a shared machine, CPU time is much steadier than wall
// time, and 2 cores divided by it bounds the throughput the work allows.
// Use it as defer reportCPU(b)().
func reportCPU(b *testing.B) func() {
	start := processCPU()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64((processCPU()-start).Microseconds())/float64(b.N), "cpu-µs/op")
		}
	}
}

func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkEventDecode decodes a stored event (what a store does on every
// claim) with Event.UnmarshalJSON, called directly as pgstore does, and
// with json.Unmarshal of the same bytes into the same fields without the
// method (encoding/json unaided, still using EventData's own decoding).
func BenchmarkEventDecode(b *testing.B) {
	events, err := Normalize(FormatUPS, largestFixture(b, FormatUPS))
	if err != nil {
		b.Fatal(err)
	}
	body, err := json.Marshal(events[0])
	if err != nil {
		b.Fatal(err)
	}
	b.Run("UnmarshalJSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e Event
			if err := e.UnmarshalJSON(body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var e eventFields
			if err := json.Unmarshal(body, &e); err != nil {
				b.Fatal(err)
			}
		}
	})
}
