package shipevents

import (
	"fmt"
	"sync"
	"time"
)

// FailureStreak says when a subscription whose endpoint keeps failing is
// deactivated (see [DispatcherConfig.DisableAfter]): after at least
// Failures consecutive failed attempts spanning at least Duration, from
// the start of the first to the end of the latest. A zero field sets no
// bound; the zero FailureStreak never deactivates. A successful attempt
// ends the streak.
//
// Requiring both keeps a short outage under heavy traffic (many failures
// in minutes) and a trickle of failures over days (a long span, few
// attempts) from disabling an endpoint that is merely having a bad day:
// for example {Failures: 100, Duration: 72 * time.Hour}.
type FailureStreak struct {
	Failures int
	Duration time.Duration
}

func (f FailureStreak) enabled() bool { return f.Failures > 0 || f.Duration > 0 }

// failureStreaks tracks, per subscription, the failed attempts since its
// last success.
type failureStreaks struct {
	mu sync.Mutex
	m  map[string]*failureStreak
}

type failureStreak struct {
	failures int
	since    time.Time
}

// succeeded ends subID's streak, if it has one.
func (s *failureStreaks) succeeded(subID string, limit FailureStreak) {
	if !limit.enabled() {
		return // nothing is tracked: keep the lock off the hot path
	}
	s.mu.Lock()
	delete(s.m, subID)
	s.mu.Unlock()
}

// failed counts a failed attempt that ran from start to end; when the
// streak reaches limit it ends it and returns why the subscription is to
// be deactivated, and otherwise "".
func (s *failureStreaks) failed(subID string, start, end time.Time, limit FailureStreak) string {
	if !limit.enabled() {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.m[subID]
	if st == nil {
		if s.m == nil {
			s.m = make(map[string]*failureStreak)
		}
		st = &failureStreak{since: start}
		s.m[subID] = st
	}
	st.failures++
	span := end.Sub(st.since)
	if st.failures < limit.Failures || span < limit.Duration {
		return ""
	}
	delete(s.m, subID)
	return fmt.Sprintf("%d consecutive failed attempts over %s", st.failures, span.Round(time.Second))
}
