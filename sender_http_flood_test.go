package shipevents

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// floodServer answers every request on its own connection with a status
// and one header line of headerBytes bytes, written from one shared buffer
// (so the server's own memory does not grow with the connections). It
// reports how many requests it answered.
func floodServer(t testing.TB, status, headerBytes int) (url string, answered func() int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	head := []byte(fmt.Sprintf("HTTP/1.1 %d Flood\r\nContent-Length: 0\r\nX-Flood: ", status))
	line := []byte(strings.Repeat("f", headerBytes))
	var mu sync.Mutex
	n := 0
	var conns []net.Conn
	var wg sync.WaitGroup
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close() // the client may keep them idle for long
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					_, _ = io.Copy(io.Discard, req.Body)
					mu.Lock()
					n++
					mu.Unlock()
					if _, err := c.Write(head); err != nil {
						return
					}
					if _, err := c.Write(line); err != nil {
						return
					}
					if _, err := c.Write([]byte("\r\n\r\n")); err != nil {
						return
					}
				}
			}()
		}
	}()
	return "http://" + ln.Addr().String() + "/hook", func() int { mu.Lock(); defer mu.Unlock(); return n }
}

// TestHTTPSenderBoundsResponseHeaders: response headers beyond
// MaxResponseHeaderBytes (default 64 KiB) fail the attempt (a transport
// failure, retried) instead of being read into memory, as Go's 10 MiB
// default would let an endpoint do.
func TestHTTPSenderBoundsResponseHeaders(t *testing.T) {
	url, _ := floodServer(t, 503, 1<<20)
	s := newTestSender(t, HTTPSenderConfig{})
	resp, err := s.Send(context.Background(), testMessage(url))
	if err == nil {
		t.Fatalf("a 1 MiB header was accepted")
	}
	var he *HTTPError
	if errors.As(err, &he) || errors.Is(err, ErrPermanent) {
		t.Errorf("err = %v, want a transient transport failure", err)
	}
	if resp.StatusCode != 0 {
		t.Errorf("status %d read from a response whose headers were refused", resp.StatusCode)
	}
	if !strings.Contains(err.Error(), strconv.Itoa(DefaultMaxResponseHeaderBytes)) {
		t.Errorf("err = %v does not say the limit", err)
	}
	small, _ := floodServer(t, 503, 8<<10)
	if _, err := s.Send(context.Background(), testMessage(small)); !errors.As(err, &he) || he.StatusCode != 503 {
		t.Errorf("an 8 KiB header: %v, want the endpoint's 503", err)
	}
	tight := newTestSender(t, HTTPSenderConfig{MaxResponseHeaderBytes: 4 << 10})
	if _, err := tight.Send(context.Background(), testMessage(small)); err == nil || errors.As(err, &he) {
		t.Errorf("an 8 KiB header under a 4 KiB limit: %v", err)
	}
}

// peakHeap samples the heap's object bytes (live and not yet swept) every
// millisecond until stop is called, which returns the peak.
func peakHeap() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	var peak uint64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for {
			peak = max(peak, read())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-finished
		return max(peak, read())
	}
}

// headerFlood runs a dispatcher with default workers against an endpoint
// answering every attempt with a 503 and headerBytes of headers, through
// an HTTP sender whose MaxResponseHeaderBytes is headerLimit (0 for the
// default), until events attempts are made. It returns the peak heap above
// the heap before the run, and the attempts made.
func headerFlood(tb testing.TB, events, headerBytes int, headerLimit int64) (peak uint64, attempts int64) {
	url, _ := floodServer(tb, 503, headerBytes)
	d := NewDispatcher(DispatcherConfig{
		Sender: NewHTTPSender(HTTPSenderConfig{Policy: e2ePolicy, MaxIdleConnsPerHost: DefaultWorkers,
			MaxResponseHeaderBytes: headerLimit}),
		DisableDeliveryEvents: true,
		PollInterval:          5 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Every worker on the flooding endpoint at once, the worst case (its
	// default share would be a quarter of them).
	if err := d.Subscribe(ctx, Subscription{ID: "flood", URL: url, EnabledEvents: []string{"*"},
		Retry: &RetryPolicy{MaxAttempts: 1}, MaxInFlight: DefaultWorkers}); err != nil {
		tb.Fatal(err)
	}
	batch := make([]Event, events)
	for i := range batch {
		batch[i] = shipmentEvent(fmt.Sprintf("flood-%d", i), fmt.Sprintf("T%d", i), StatusInTransit, time.Now())
	}
	runtime.GC()
	base := peakHeap()()
	stop := peakHeap()
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	if _, err := d.Publish(ctx, batch...); err != nil {
		tb.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute) // a bound on a hang, not a speed requirement
	for d.Stats().Attempts < int64(events) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	peak = stop()
	cancel()
	if err := <-done; err != nil {
		tb.Fatal(err)
	}
	return peak - min(base, peak), d.Stats().Attempts
}

// TestHeaderFloodHeap: with default workers, an endpoint answering every
// attempt with 8 MiB of headers costs the process little heap: each
// response is cut at MaxResponseHeaderBytes. (With Go's 10 MiB default,
// the whole header of every concurrent response was held: about 400 MB;
// BenchmarkHeaderFlood measures both.)
//
//	go test -run TestHeaderFloodHeap -v .
func TestHeaderFloodHeap(t *testing.T) {
	const events, headerBytes, bound = 96, 8 << 20, 64 << 20
	peak, attempts := headerFlood(t, events, headerBytes, 0)
	t.Logf("header flood: %d attempts answered with %d MiB of headers, %d workers: peak heap %.1f MB above the base (bound %d MB)",
		attempts, headerBytes>>20, DefaultWorkers, float64(peak)/1e6, bound>>20)
	if attempts < events {
		t.Fatalf("only %d of %d attempts made", attempts, events)
	}
	if peak > bound {
		t.Errorf("peak heap %.1f MB above the base, want under %d MB", float64(peak)/1e6, bound>>20)
	}
}

// BenchmarkHeaderFlood reports the peak heap of a header flood (96
// attempts answered with 8 MiB of headers each, 32 workers) with the
// sender's default header bound and, as the baseline, with Go's own
// default of 10 MiB.
//
//	go test -run XXX -bench HeaderFlood -benchtime 3x .
func BenchmarkHeaderFlood(b *testing.B) {
	for _, c := range []struct {
		name  string
		limit int64
	}{{"bounded", 0}, {"go-default-10MiB", 10 << 20}} {
		b.Run(c.name, func(b *testing.B) {
			var worst uint64
			for b.Loop() {
				peak, _ := headerFlood(b, 96, 8<<20, c.limit)
				worst = max(worst, peak)
			}
			b.ReportMetric(float64(worst)/1e6, "peak-MB")
		})
	}
}
