package shipevents

import (
	"sync"
	"time"
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

// maxReservations bounds the deferred deliveries a limiter remembers; past
// it a deferred delivery is re-checked when it comes back.
const maxReservations = 1 << 16

// rateLimiter spaces the requests to one subscription with the generic
// cell rate algorithm: next is when the next request would conform with
// no burst left, and a request conforms when it is at most the burst
// allowance ahead of next.
type rateLimiter struct {
	next      time.Time
	reserved  map[string]time.Time // delivery id -> slot it was deferred to
	lastSweep time.Time
}

// admit decides whether delivery id may be attempted now at perSecond
// requests per second (bursts of up to a second's worth). When it may
// not, it returns the time its slot comes, reserved for it.
func (l *rateLimiter) admit(id string, now time.Time, perSecond float64, forget time.Duration) (bool, time.Time) {
	if slot, ok := l.reserved[id]; ok {
		if now.Before(slot) { // back early: keep its place
			return false, slot
		}
		delete(l.reserved, id)
		return true, time.Time{}
	}
	interval := time.Duration(float64(time.Second) / perSecond)
	burst := max(1, int(perSecond))
	allowance := time.Duration(burst-1) * interval

	base := l.next
	if base.Before(now) {
		base = now
	}
	l.next = base.Add(interval)
	slot := base.Add(-allowance)
	if !slot.After(now) {
		return true, time.Time{}
	}
	l.sweep(now, forget)
	if len(l.reserved) < maxReservations {
		if l.reserved == nil {
			l.reserved = make(map[string]time.Time)
		}
		l.reserved[id] = slot
	}
	return false, slot
}

// sweep forgets reservations whose slot passed more than forget ago: their
// deliveries went to another instance, or were deleted.
func (l *rateLimiter) sweep(now time.Time, forget time.Duration) {
	if len(l.reserved) == 0 || now.Sub(l.lastSweep) < forget {
		return
	}
	l.lastSweep = now
	cutoff := now.Add(-forget)
	for id, slot := range l.reserved {
		if slot.Before(cutoff) {
			delete(l.reserved, id)
		}
	}
}

// rateLimits holds a Dispatcher's limiters by subscription id.
type rateLimits struct {
	mu sync.Mutex
	m  map[string]*rateLimiter
}

// admit applies sub's limit to delivery id; see rateLimiter.admit.
func (r *rateLimits) admit(sub *Subscription, id string, now time.Time, forget time.Duration) (bool, time.Time) {
	if !(sub.MaxPerSecond > 0) {
		return true, time.Time{}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.m[sub.ID]
	if l == nil {
		if r.m == nil {
			r.m = make(map[string]*rateLimiter)
		}
		l = &rateLimiter{}
		r.m[sub.ID] = l
	}
	return l.admit(id, now, sub.MaxPerSecond, forget)
}
