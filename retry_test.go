package shipevents

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestRetryDecide(t *testing.T) {
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	now := created.Add(time.Minute)
	p := RetryPolicy{NoJitter: true}
	tests := []struct {
		name     string
		err      error
		attempts int
		retry    bool
		disable  bool
		minDelay time.Duration
		maxDelay time.Duration
	}{
		{"500 retried", &HTTPError{StatusCode: 500}, 1, true, false, 5 * time.Second, 5 * time.Second},
		{"502 retried", &HTTPError{StatusCode: 502}, 2, true, false, 15 * time.Second, 15 * time.Second},
		{"408 retried", &HTTPError{StatusCode: 408}, 1, true, false, 5 * time.Second, 5 * time.Second},
		{"409 retried", &HTTPError{StatusCode: 409}, 1, true, false, 5 * time.Second, 5 * time.Second},
		{"425 retried", &HTTPError{StatusCode: 425}, 1, true, false, 5 * time.Second, 5 * time.Second},
		{"302 retried", &HTTPError{StatusCode: 302}, 1, true, false, 5 * time.Second, 5 * time.Second},
		{"429 honours Retry-After", &HTTPError{StatusCode: 429, RetryAfter: 90 * time.Second}, 1, true, false, 90 * time.Second, 90 * time.Second},
		{"503 honours Retry-After", &HTTPError{StatusCode: 503, RetryAfter: 30 * time.Second}, 1, true, false, 30 * time.Second, 30 * time.Second},
		{"Retry-After never shortens the schedule", &HTTPError{StatusCode: 429, RetryAfter: time.Second}, 3, true, false, 45 * time.Second, 45 * time.Second},
		{"Retry-After clamped", &HTTPError{StatusCode: 429, RetryAfter: 48 * time.Hour}, 1, true, false, time.Hour, time.Hour},
		{"500 ignores Retry-After", &HTTPError{StatusCode: 500, RetryAfter: time.Hour}, 1, true, false, 5 * time.Second, 5 * time.Second},
		{"400 permanent", &HTTPError{StatusCode: 400}, 1, false, false, 0, 0},
		{"401 permanent", &HTTPError{StatusCode: 401}, 1, false, false, 0, 0},
		{"404 permanent", &HTTPError{StatusCode: 404}, 1, false, false, 0, 0},
		{"410 disables", &HTTPError{StatusCode: 410}, 1, false, true, 0, 0},
		{"Permanent wrapper", Permanent(errors.New("bad payload")), 1, false, false, 0, 0},
		{"wrapped Permanent", fmt.Errorf("handler: %w", Permanent(errors.New("no"))), 1, false, false, 0, 0},
		{"timeout retried", context.DeadlineExceeded, 1, true, false, 5 * time.Second, 5 * time.Second},
		{"connection refused retried", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, 1, true, false, 5 * time.Second, 5 * time.Second},
		{"reset retried", io.ErrUnexpectedEOF, 1, true, false, 5 * time.Second, 5 * time.Second},
		{"attempts exhausted", &HTTPError{StatusCode: 500}, DefaultMaxAttempts, false, false, 0, 0},
	}
	for _, tt := range tests {
		d := p.Decide(tt.err, tt.attempts, created, now)
		if d.Retry != tt.retry || d.DisableSubscription != tt.disable {
			t.Errorf("%s: Decide = %+v, want retry %v disable %v", tt.name, d, tt.retry, tt.disable)
			continue
		}
		if d.Retry {
			if delay := d.At.Sub(now); delay < tt.minDelay || delay > tt.maxDelay {
				t.Errorf("%s: next attempt in %v, want %v..%v", tt.name, delay, tt.minDelay, tt.maxDelay)
			}
		} else if d.Reason == "" {
			t.Errorf("%s: no reason for giving up", tt.name)
		}
	}
	// Max age: a retry that would land after created+MaxAge gives up.
	aged := RetryPolicy{NoJitter: true, MaxAge: time.Hour}
	if d := aged.Decide(&HTTPError{StatusCode: 500}, 2, created, created.Add(59*time.Minute+50*time.Second)); d.Retry {
		t.Errorf("retry past max age: %+v", d)
	}
	// A custom schedule sets the number of attempts.
	sched := RetryPolicy{Schedule: []time.Duration{time.Minute, time.Hour}, NoJitter: true}
	if d := sched.Decide(&HTTPError{StatusCode: 500}, 2, created, now); !d.Retry || d.At.Sub(now) != time.Hour {
		t.Errorf("schedule step 2: %+v", d)
	}
	if d := sched.Decide(&HTTPError{StatusCode: 500}, 3, created, now); d.Retry {
		t.Errorf("schedule exhausted but retried: %+v", d)
	}
}

// TestRetryTimingSynctest runs a dispatcher in a synctest bubble, where
// time is virtual: the endpoint answers 429 with Retry-After 30 s, then 500
// twice, then succeeds. The attempts must be spaced exactly by Retry-After
// and then by the schedule, with no real waiting.
func TestRetryTimingSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var times []time.Time
		sender := SenderFunc(func(ctx context.Context, m *Message) (Response, error) {
			mu.Lock()
			defer mu.Unlock()
			times = append(times, time.Now())
			switch len(times) {
			case 1:
				return Response{StatusCode: 429}, &HTTPError{StatusCode: 429, RetryAfter: 30 * time.Second}
			case 2, 3:
				return Response{StatusCode: 500}, &HTTPError{StatusCode: 500}
			}
			return Response{StatusCode: 200}, nil
		})
		d := NewDispatcher(DispatcherConfig{
			Sender: sender, DisableDeliveryEvents: true, PollInterval: time.Second, Workers: 2,
			Retry: RetryPolicy{Schedule: []time.Duration{10 * time.Second, 20 * time.Second, 40 * time.Second}, NoJitter: true},
		})
		runVirtually(t, d, 5*time.Minute, Subscription{ID: "s", URL: "https://example.com/h", EnabledEvents: []string{"*"}},
			shipmentEvent("e1", "T1", StatusInTransit, time.Now()))
		mu.Lock()
		defer mu.Unlock()
		if len(times) != 4 {
			t.Fatalf("%d attempts, want 4", len(times))
		}
		gaps := []time.Duration{times[1].Sub(times[0]), times[2].Sub(times[1]), times[3].Sub(times[2])}
		// Retry-After 30 s beats the 10 s first step; then 20 s, then 40 s.
		// A due retry is picked up by the next poll (1 s), hence the bound.
		wants := []time.Duration{30 * time.Second, 20 * time.Second, 40 * time.Second}
		for i, w := range wants {
			if gaps[i] < w || gaps[i] > w+time.Second {
				t.Errorf("gap %d = %v, want %v (+ at most one poll interval)", i+1, gaps[i], w)
			}
		}
		atts, err := d.Attempts(context.Background(), DeliveryID(EventKey{ID: "e1"}, "s"))
		if err != nil {
			t.Fatal(err)
		}
		if len(atts) != 4 || atts[0].StatusCode != 429 || atts[3].StatusCode != 200 || atts[3].Error != "" {
			t.Errorf("attempt records: %+v", atts)
		}
	})
}
