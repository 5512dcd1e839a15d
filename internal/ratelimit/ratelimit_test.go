package ratelimit

import (
	"container/heap"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestLimiterSpacesAndReserves(t *testing.T) {
	var l Limiter
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	type step struct {
		id       string
		at       time.Time
		ok       bool
		wantTurn time.Time
	}
	// 2 per second: a burst of 2, then one every 500 ms. Deferred
	// deliveries get successive slots, and are admitted when they come
	// back at theirs, ahead of newcomers.
	for i, s := range []step{
		{"a", ms(0), true, time.Time{}},
		{"b", ms(0), true, time.Time{}},
		{"c", ms(0), false, ms(500)},
		{"d", ms(0), false, ms(1000)},
		{"c", ms(400), false, ms(500)}, // back early: same slot
		{"c", ms(500), true, time.Time{}},
		{"e", ms(500), false, ms(1500)},
		{"d", ms(1000), true, time.Time{}},
		{"e", ms(1600), true, time.Time{}}, // late is fine
		{"f", ms(5000), true, time.Time{}}, // idle: the burst is back
		{"g", ms(5000), true, time.Time{}},
		{"h", ms(5000), false, ms(5500)},
	} {
		ok, turn := l.Admit(s.id, s.at, 2, time.Minute)
		if ok != s.ok || !turn.Equal(s.wantTurn) {
			t.Fatalf("step %d (%s at %v): admit = %v, %v; want %v, %v", i, s.id, s.at.Sub(t0), ok, turn.Sub(t0), s.ok, s.wantTurn.Sub(t0))
		}
	}
	if len(l.reserved) != 1 {
		t.Errorf("%d reservations left, want 1 (h)", len(l.reserved))
	}
}

// arrival is a delivery reaching the limiter at a time, new or coming back
// at the turn it was given.
type arrival struct {
	at time.Time
	id string
}

type arrivals []arrival

func (a arrivals) Len() int           { return len(a) }
func (a arrivals) Less(i, j int) bool { return a[i].at.Before(a[j].at) }
func (a arrivals) Swap(i, j int)      { a[i], a[j] = a[j], a[i] }
func (a *arrivals) Push(x any)        { *a = append(*a, x.(arrival)) }
func (a *arrivals) Pop() any {
	old := *a
	x := old[len(old)-1]
	*a = old[:len(old)-1]
	return x
}

// TestRateLimiterNeverExceedsRate simulates random bursts of deliveries,
// each deferred one coming back at its turn, and checks the admitted
// requests: every delivery is admitted once, no window of one second
// holds more than the rate plus the burst, and a backlog drains at the
// rate, not slower.
func TestLimiterNeverExceedsRate(t *testing.T) {
	for _, rate := range []float64{0.5, 1, 3, 10, 250} {
		t.Run(fmt.Sprint(rate), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(rate*1000), 7))
			var l Limiter
			var q arrivals
			const n = 600
			for i := range n {
				at := t0.Add(time.Duration(rng.IntN(int(float64(n)/rate*float64(time.Second)/4) + 1)))
				heap.Push(&q, arrival{at, fmt.Sprint(i)})
			}
			var admitted []time.Time
			seen := map[string]bool{}
			for q.Len() > 0 {
				a := heap.Pop(&q).(arrival)
				ok, turn := l.Admit(a.id, a.at, rate, time.Hour)
				if ok {
					if seen[a.id] {
						t.Fatalf("%s admitted twice", a.id)
					}
					seen[a.id] = true
					admitted = append(admitted, a.at)
					continue
				}
				if !turn.After(a.at) {
					t.Fatalf("%s deferred to %v, not after %v", a.id, turn, a.at)
				}
				heap.Push(&q, arrival{turn, a.id})
			}
			if len(admitted) != n {
				t.Fatalf("admitted %d of %d", len(admitted), n)
			}
			burst := max(1, int(rate))
			limit := int(rate) + burst
			if rate < 1 {
				limit = burst // one per 1/rate seconds: at most one in any second
			}
			slices.SortFunc(admitted, func(a, b time.Time) int { return a.Compare(b) })
			for i := range admitted {
				j := i
				for j < len(admitted) && admitted[j].Sub(admitted[i]) < time.Second {
					j++
				}
				if j-i > limit {
					t.Fatalf("%d requests within a second from %v, limit %d", j-i, admitted[i].Sub(t0), limit)
				}
			}
			// The arrivals came faster than the rate, so the backlog
			// drains at it: the last admission is about n/rate after
			// the first, less the burst.
			span := admitted[n-1].Sub(admitted[0])
			want := time.Duration(float64(n-burst) / rate * float64(time.Second))
			if span > want+time.Duration(float64(time.Second)/rate) {
				t.Errorf("backlog took %v, want about %v", span, want)
			}
		})
	}
}

func TestLimiterForgetsStaleReservations(t *testing.T) {
	var l Limiter
	for i := range 5 {
		l.Admit(fmt.Sprint(i), t0, 1, time.Minute)
	}
	if len(l.reserved) != 4 {
		t.Fatalf("%d reservations, want 4", len(l.reserved))
	}
	// Much later, the next deferral sweeps the reservations whose
	// deliveries never came back.
	later := t0.Add(time.Hour)
	l.Admit("x", later, 1, time.Minute)
	l.Admit("y", later, 1, time.Minute)
	if _, ok := l.reserved["y"]; !ok || len(l.reserved) != 1 {
		t.Errorf("reservations %v, want only y", l.reserved)
	}
}
