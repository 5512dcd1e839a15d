package shipevents

import (
	"sync"
	"time"

	"github.com/shipevents/shipevents/internal/ratelimit"
)

// Per-subscription rate limits ([Subscription.MaxPerSecond]).
//
// A delivery over its subscription's limit is not attempted: the
// dispatcher releases it to the store with NextAttemptAt set to the slot
// the limiter reserved for it (no attempt counted). When the same
// dispatcher claims it again at that slot, the reservation admits it at
// once, so a backlog is spread over time in one pass instead of being
// claimed and released again on every poll.
//
// The limit is enforced by each Dispatcher on its own: with several
// instances sharing a store, an endpoint may receive up to that many times
// the rate. A reservation made by one instance and claimed by another is
// simply lost, which only ever slows the endpoint's deliveries down.

// rateLimits holds a Dispatcher's limiters by subscription id.
type rateLimits struct {
	mu sync.Mutex
	m  map[string]*ratelimit.Limiter
}

// admit applies sub's limit to delivery id; see [ratelimit.Limiter.Admit].
func (r *rateLimits) admit(sub *Subscription, id string, now time.Time, forget time.Duration) (bool, time.Time) {
	if !(sub.MaxPerSecond > 0) {
		return true, time.Time{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.m[sub.ID]
	if l == nil {
		if r.m == nil {
			r.m = make(map[string]*ratelimit.Limiter)
		}
		l = &ratelimit.Limiter{}
		r.m[sub.ID] = l
	}
	return l.Admit(id, now, sub.MaxPerSecond, forget)
}
