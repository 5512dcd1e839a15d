// Package ratelimit spaces the requests to one destination with the
// generic cell rate algorithm, remembering the slot it gave each request
// it turned away so that the request is admitted when it comes back then.
package ratelimit

import "time"

// maxReservations bounds the deferred requests a Limiter remembers; past
// it a deferred request is re-checked when it comes back.
const maxReservations = 1 << 16

// Limiter spaces the requests to one destination: next is when the next
// request would conform with no burst left, and a request conforms when
// it is at most the burst allowance ahead of next. The zero value is
// ready; a Limiter is not safe for concurrent use.
type Limiter struct {
	next      time.Time
	reserved  map[string]time.Time // request id -> slot it was deferred to
	lastSweep time.Time
}

// Admit decides whether request id may go now at perSecond requests per
// second (bursts of up to a second's worth). When it may not, it returns
// the time its slot comes, reserved for it. Reservations whose slot passed
// more than forget ago are dropped (swept at most once per forget).
func (l *Limiter) Admit(id string, now time.Time, perSecond float64, forget time.Duration) (bool, time.Time) {
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
// requests went elsewhere, or were dropped.
func (l *Limiter) sweep(now time.Time, forget time.Duration) {
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
