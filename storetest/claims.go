package storetest

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/shipevents/shipevents"
)

// claimCases check ClaimDeliveries, leases and fencing.
var claimCases = []testCase{
	{"ClaimDue", withSource("DeliveryQueue.ClaimDeliveries: leases pending deliveries whose NextAttemptAt is at or before req.Now, with a fresh token, LeaseExpiresAt = Now + Lease and the event"), testClaimDue},
	{"ClaimLimit", withSource("DeliveryQueue.ClaimDeliveries: leases up to req.Limit deliveries"), testClaimLimit},
	{"ClaimOrder", withSource("DeliveryQueue.ClaimDeliveries: deliveries are claimed in NextAttemptAt order"), testClaimOrder},
	{"ClaimOrderWithExpiredLeases", withSource("DeliveryQueue.ClaimDeliveries: expired in-flight deliveries are claimed with the pending ones in NextAttemptAt order"), testClaimOrderExpired},
	{"LeaseExcludesClaimers", withSource("DeliveryQueue.ClaimDeliveries: while a lease holds, no other call claims the delivery"), testLeaseExcludes},
	{"ConcurrentClaimers", withSource("DeliveryQueue.ClaimDeliveries: concurrent claimers never claim the same delivery while its lease holds"), testConcurrentClaimers},
	{"LeaseExpiry", withSource("DeliveryQueue.ClaimDeliveries: an in-flight delivery whose lease expired before req.Now is claimed again, with a new token"), testLeaseExpiry},
	{"Fencing", withSource("DeliveryQueue.RecordAttempts: a record whose lease was lost (expired and claimed again) changes nothing and gets ErrLeaseLost"), testFencing},
	{"FencingPerRecord", withSource("DeliveryQueue.RecordAttempts: errors are per record, aligned with records; the held leases are recorded"), testFencingPerRecord},
	{"ExpiredLeaseNotReclaimed", withSource("ErrLeaseLost / Lease: fencing is by token; a lease that expired but was not claimed again may still record"), testExpiredLeaseNotReclaimed},
	{"OutcomeEndsLease", withSource("DeliveryQueue.RecordAttempts: recording an outcome ends the lease; the same lease cannot record twice"), testOutcomeEndsLease},
	{"ExtendLeases", withSource("DeliveryQueue.ExtendLeases: moves a held lease's expiry to until; leases no longer held are reported with ErrLeaseLost"), testExtendLeases},
	{"ClaimSubscriptionMax", withSource("DeliveryQueue.ClaimDeliveries: a claim never returns more deliveries of a subscription than ClaimRequest.Max allows it (SubscriptionMax, else MaxPerSubscription)"), testClaimSubscriptionMax},
	{"ClaimTakesTurns", withSource("DeliveryQueue.ClaimDeliveries: across subscriptions the claim takes from each in turn, subscriptions ordered by their oldest due delivery, oldest first within each; claims are returned in the order taken"), testClaimTakesTurns},
	{"ClaimPastFullSubscription", withSource("DeliveryQueue.ClaimDeliveries: a backlog at the head of the queue of a subscription the request allows nothing does not hold back the others"), testClaimPastFullSubscription},
	{"ClaimTurnsWithExpiredLeases", withSource("DeliveryQueue.ClaimDeliveries: an expired in-flight delivery takes its NextAttemptAt place in its subscription's turn, and counts against its bound"), testClaimTurnsExpired},
}

// queue appends one order event per time in next, each with one delivery
// to sub due at that time, in that order, and returns the delivery ids.
func (e *env) queue(sub string, next ...time.Time) []string {
	e.Helper()
	ids := make([]string, len(next))
	for i, t := range next {
		ev := e.orderEvent(base)
		d := nd(ev, sub, t)
		if r := e.appendOne(ev, d); r.Outcome != shipevents.AppendNew || r.Deliveries != 1 {
			e.fatalf("AppendEvents stores a new event with all its deliveries", "got outcome %v with %d deliveries, want new with 1", r.Outcome, r.Deliveries)
		}
		ids[i] = d.ID
	}
	return ids
}

// claimReq claims with req (Owner and Lease filled in when unset).
func (e *env) claimReq(req shipevents.ClaimRequest) []shipevents.Claim {
	e.Helper()
	if req.Lease == 0 {
		req.Lease = lease
	}
	if req.Owner == "" {
		req.Owner = "storetest"
	}
	cl, err := e.s.ClaimDeliveries(e.ctx, req)
	e.noErr(err, "ClaimDeliveries")
	if len(cl) > req.Limit {
		e.errorf("ClaimDeliveries leases up to req.Limit deliveries", "got %d claims with Limit %d", len(cl), req.Limit)
	}
	return cl
}

// perSub counts claims by subscription.
func perSub(cl []shipevents.Claim) map[string]int {
	n := map[string]int{}
	for _, c := range cl {
		n[c.Delivery.SubscriptionID]++
	}
	return n
}

func repeatAt(n int, t time.Time) []time.Time { return slices.Repeat([]time.Time{t}, n) }

func testClaimSubscriptionMax(e *env) {
	a, b, c, d := newID("sub-a"), newID("sub-b"), newID("sub-c"), newID("sub-d")
	for _, sub := range []string{a, b, c, d} {
		e.queue(sub, repeatAt(4, base)...)
	}
	cl := e.claimReq(shipevents.ClaimRequest{Now: base, Limit: 16, MaxPerSubscription: 2, SubscriptionMax: map[string]int{b: 1, c: 0, d: -1}})
	got := perSub(cl)
	want := map[string]int{a: 2, b: 1}
	if !maps.Equal(got, want) {
		e.errorf("a claim returns at most SubscriptionMax[id] deliveries of a listed subscription (none for zero or less), and at most MaxPerSubscription of the others",
			"MaxPerSubscription 2, SubscriptionMax {b: 1, c: 0, d: -1}, four due each: claimed %v, want %v", got, want)
	}
	// Listed subscriptions are bounded even when MaxPerSubscription is
	// zero; the others only by Limit.
	cl = e.claimReq(shipevents.ClaimRequest{Now: base, Limit: 16, SubscriptionMax: map[string]int{a: 1, c: 3}})
	got = perSub(cl)
	want = map[string]int{a: 1, b: 3, c: 3, d: 4}
	if !maps.Equal(got, want) {
		e.errorf("SubscriptionMax bounds the subscriptions it lists even when MaxPerSubscription is zero; the others are bounded by Limit alone",
			"SubscriptionMax {a: 1, c: 3}, due: a 2, b 3, c 4, d 4: claimed %v, want %v", got, want)
	}
	cl = e.claimReq(shipevents.ClaimRequest{Now: base, Limit: 16})
	if got, want := perSub(cl), map[string]int{a: 1, c: 1}; !maps.Equal(got, want) {
		e.errorf("successive claims lease every due delivery once", "last claim got %v, want %v", got, want)
	}
}

func testClaimTakesTurns(e *env) {
	// a's backlog is the oldest work; b's two are due at one instant (so
	// in creation order); c's one is the newest.
	a := e.queue(newID("sub-a"), at(0), at(time.Second), at(2*time.Second), at(3*time.Second), at(4*time.Second))
	b := e.queue(newID("sub-b"), at(10*time.Second), at(10*time.Second))
	c := e.queue(newID("sub-c"), at(20*time.Second))
	now := at(time.Minute)
	if got, want := claimIDs(e.claimReq(shipevents.ClaimRequest{Now: now, Limit: 5})), []string{a[0], b[0], c[0], a[1], b[1]}; !slices.Equal(got, want) {
		e.errorf("a claim takes from each subscription in turn: the oldest due delivery of each (subscriptions ordered by it), then the next of each, oldest first within each, returned in the order taken",
			"Limit 5 claimed %v, want %v (a1 b1 c1 a2 b2; a is due at +0..+4s, b twice at +10s, c at +20s)", got, want)
	}
	if got, want := claimIDs(e.claimReq(shipevents.ClaimRequest{Now: now, Limit: 2})), a[2:4]; !slices.Equal(got, want) {
		e.errorf("within a subscription, deliveries are claimed in NextAttemptAt order", "Limit 2 claimed %v, want %v", got, want)
	}
	// The bound of each subscription ends its turns, not the claim.
	subD := newID("sub-d")
	d := e.queue(subD, repeatAt(3, at(30*time.Second))...)
	f := e.queue(newID("sub-f"), repeatAt(3, at(40*time.Second))...)
	req := shipevents.ClaimRequest{Now: now, Limit: 10, SubscriptionMax: map[string]int{subD: 1}}
	want := []string{a[4], d[0], f[0], f[1], f[2]}
	if got := claimIDs(e.claimReq(req)); !slices.Equal(got, want) {
		e.errorf("a subscription whose bound is reached leaves the turns; the others go on taking theirs",
			"Limit 10, d bounded to 1: claimed %v, want %v", got, want)
	}
}

func testClaimPastFullSubscription(e *env) {
	full := newID("sub-full")
	backlog := e.queue(full, repeatAt(50, base)...)
	other := e.queue(newID("sub-other"), at(time.Second), at(2*time.Second))
	now := at(time.Minute)
	if got := claimIDs(e.claimReq(shipevents.ClaimRequest{Now: now, Limit: 1, SubscriptionMax: map[string]int{full: 0}})); !slices.Equal(got, other[:1]) {
		e.errorf("a subscription the request allows nothing is passed over, however much of its work is due first",
			"Limit 1 with 50 deliveries of a subscription allowed none due first: claimed %v, want %v", got, other[:1])
	}
	got := claimIDs(e.claimReq(shipevents.ClaimRequest{Now: now, Limit: 10, MaxPerSubscription: 1}))
	if want := []string{backlog[0], other[1]}; !slices.Equal(got, want) {
		e.errorf("a backlog of one subscription at the head of the queue does not hold back the others",
			"Limit 10, MaxPerSubscription 1: claimed %v, want %v", got, want)
	}
}

func testClaimTurnsExpired(e *env) {
	sub := newID("sub-a")
	a := e.queue(sub, at(0), at(10*time.Second), at(20*time.Second))
	b := e.queue(newID("sub-b"), at(5*time.Second))
	first := e.claimReq(shipevents.ClaimRequest{Now: at(0), Limit: 1})
	if got := claimIDs(first); !slices.Equal(got, a[:1]) {
		e.fatalf("ClaimDeliveries leases due pending deliveries only", "claim at +0 got %v, want %v", got, a[:1])
	}
	// At +1m a[0]'s lease (to +30s) has expired: it is a's oldest due
	// delivery again, ahead of b's, and it counts against a's bound of 2.
	got := claimIDs(e.claimReq(shipevents.ClaimRequest{Now: at(time.Minute), Limit: 10, SubscriptionMax: map[string]int{sub: 2}}))
	if want := []string{a[0], b[0], a[1]}; !slices.Equal(got, want) {
		e.errorf("an expired in-flight delivery is claimed in its NextAttemptAt place in its subscription's turn, and counts against the subscription's bound",
			"claim at +1m with a bounded to 2 got %v, want %v", got, want)
	}
}

func testClaimDue(e *env) {
	ev, ids := e.seed(at(0), at(time.Minute), at(time.Hour))
	now := at(time.Minute)
	cl := e.claim(now, 10)
	if got := claimIDs(cl); !sameSet(got, ids[:2]) {
		e.fatalf("ClaimDeliveries leases pending deliveries whose NextAttemptAt is at or before req.Now, and no others", "claimed %v, want %v (due at now-1m and at now; not the one due at now+59m)", got, ids[:2])
	}
	tokens := map[string]bool{}
	for _, c := range cl {
		if c.Lease.DeliveryID != c.Delivery.ID {
			e.errorf("a claim's lease is for its delivery", "Lease.DeliveryID = %q, Delivery.ID = %q", c.Lease.DeliveryID, c.Delivery.ID)
		}
		if c.Lease.Token == "" || tokens[c.Lease.Token] {
			e.errorf("each claimed delivery gets a fresh lease token", "delivery %s: token %q is empty or repeated", c.Delivery.ID, c.Lease.Token)
		}
		tokens[c.Lease.Token] = true
		if want := now.Add(lease); !c.Lease.ExpiresAt.Equal(want) || !c.Delivery.LeaseExpiresAt.Equal(want) {
			e.errorf("a claimed delivery's LeaseExpiresAt is req.Now + req.Lease", "delivery %s: Lease.ExpiresAt %s, Delivery.LeaseExpiresAt %s; want %s", c.Delivery.ID, c.Lease.ExpiresAt, c.Delivery.LeaseExpiresAt, want)
		}
		if c.Delivery.State != shipevents.DeliveryInFlight || c.Delivery.Attempts != 0 {
			e.errorf("a claimed delivery is in flight, with its attempts so far", "delivery %s: State %q Attempts %d, want in_flight, 0", c.Delivery.ID, c.Delivery.State, c.Delivery.Attempts)
		}
		if c.Delivery.EventKey() != ev.Key() || c.Event.Key() != ev.Key() {
			e.errorf("the event of each delivery is returned with it", "delivery %s: Delivery names event %s, Event is %s; want %s", c.Delivery.ID, c.Delivery.EventKey(), c.Event.Key(), ev.Key())
		}
		e.sameEvent("the event of each delivery is returned with it", c.Event, ev)
		d := e.delivery(c.Delivery.ID)
		e.checkState("a claimed delivery is listed in flight", d, shipevents.DeliveryInFlight, 0)
		if !d.LeaseExpiresAt.Equal(now.Add(lease)) {
			e.errorf("a claimed delivery's LeaseExpiresAt is req.Now + req.Lease", "listed delivery %s: LeaseExpiresAt %s, want %s", d.ID, d.LeaseExpiresAt, now.Add(lease))
		}
	}
	e.checkState("a delivery not yet due stays pending", e.delivery(ids[2]), shipevents.DeliveryPending, 0)
	if cl := claimIDs(e.claim(at(time.Hour), 10)); !slices.Contains(cl, ids[2]) {
		e.errorf("a pending delivery is claimed once its NextAttemptAt is reached", "claim at +1h got %v, want it to include %s", cl, ids[2])
	}
}

func testClaimLimit(e *env) {
	_, ids := e.seed(base, base, base, base, base)
	var got []string
	for i, want := range []int{3, 2, 0} {
		cl := e.claim(base, 3)
		if len(cl) != want {
			e.errorf("ClaimDeliveries leases up to req.Limit due deliveries", "claim %d with Limit 3 and %d due got %d, want %d", i, 5-len(got), len(cl), want)
		}
		got = append(got, claimIDs(cl)...)
	}
	if !sameSet(got, ids) {
		e.errorf("successive claims lease every due delivery once", "claimed %v, want %v", got, ids)
	}
}

func testClaimOrder(e *env) {
	// Created in an order other than NextAttemptAt order.
	_, ids := e.seed(at(3*time.Minute), at(time.Minute), at(4*time.Minute), at(2*time.Minute))
	now := at(10 * time.Minute)
	if got, want := claimIDs(e.claim(now, 2)), []string{ids[1], ids[3]}; !sameSet(got, want) {
		e.errorf("deliveries are claimed in NextAttemptAt order: a limited claim takes the earliest due", "Limit 2 claimed %v, want %v (due at +1m and +2m)", got, want)
	}
	if got, want := claimIDs(e.claim(now, 1)), []string{ids[0]}; !slices.Equal(got, want) {
		e.errorf("deliveries are claimed in NextAttemptAt order: a limited claim takes the earliest due", "Limit 1 claimed %v, want %v (due at +3m)", got, want)
	}
	if got, want := claimIDs(e.claim(now, 5)), []string{ids[2]}; !slices.Equal(got, want) {
		e.errorf("deliveries are claimed in NextAttemptAt order", "last claim got %v, want %v", got, want)
	}
}

func testClaimOrderExpired(e *env) {
	_, ids := e.seed(base, at(20*time.Second))
	first := e.claim(base, 1) // ids[0], lease until +30s
	if got := claimIDs(first); !slices.Equal(got, ids[:1]) {
		e.fatalf("ClaimDeliveries leases due pending deliveries only", "claim at +0 got %v, want %v", got, ids[:1])
	}
	// At +60s both are claimable: ids[0] (NextAttemptAt +0, lease expired
	// at +30s) and ids[1] (pending, NextAttemptAt +20s). NextAttemptAt
	// order puts ids[0] first, though its lease expired after ids[1] fell due.
	if got := claimIDs(e.claim(at(time.Minute), 1)); !slices.Equal(got, ids[:1]) {
		e.errorf("deliveries are claimed in NextAttemptAt order, expired in-flight ones included (not in order of lease expiry)",
			"Limit 1 at +60s claimed %v, want %v (NextAttemptAt +0, lease expired +30s) before %s (NextAttemptAt +20s)", got, ids[0], ids[1])
	}
}

func testLeaseExcludes(e *env) {
	_, ids := e.seed(base)
	e.claimOne(base, ids[0], "ClaimDeliveries leases a due pending delivery")
	for _, now := range []time.Time{base, at(lease / 2), at(lease - time.Second)} {
		if cl := e.claim(now, 10); len(cl) != 0 {
			e.errorf("while a lease holds, no other call claims the delivery", "claim at lease start + %s got %v, want none", now.Sub(base), claimIDs(cl))
		}
	}
}

func testConcurrentClaimers(e *env) {
	const events, perEvent, workers = 20, 10, 8
	var all []string
	for range events {
		_, ids := e.seed(slices.Repeat([]time.Time{base}, perEvent)...)
		all = append(all, ids...)
	}
	var (
		mu      sync.Mutex
		claimed = map[string]int{}
		tokens  = map[string]bool{}
		dupTok  int
		total   int
		errs    []error
		wg      sync.WaitGroup
	)
	for w := range workers {
		wg.Go(func() {
			// A store that claims leased deliveries again would keep this
			// loop going: stop once twice the deliveries were handed out.
			for range 2 * len(all) {
				cl, err := e.s.ClaimDeliveries(e.ctx, shipevents.ClaimRequest{Now: base, Lease: time.Minute, Limit: 7, Owner: fmt.Sprintf("worker-%d", w)})
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				for _, c := range cl {
					claimed[c.Delivery.ID]++
					total++
					if tokens[c.Lease.Token] {
						dupTok++
					}
					tokens[c.Lease.Token] = true
				}
				stop := err != nil || len(cl) == 0 || total > 2*len(all)
				mu.Unlock()
				if stop {
					return
				}
			}
		})
	}
	wg.Wait()
	e.noErr(errors.Join(errs...), "ClaimDeliveries (concurrent)")
	var twice []string
	for id, n := range claimed {
		if n > 1 {
			twice = append(twice, fmt.Sprintf("%s ×%d", id, n))
		}
	}
	if len(twice) > 0 {
		slices.Sort(twice)
		e.errorf("while a lease holds, no other call claims the delivery", "%d deliveries claimed more than once by %d concurrent claimers: %v", len(twice), workers, twice)
	}
	if len(claimed) != len(all) {
		e.errorf("concurrent claimers lease every due delivery", "claimed %d distinct deliveries, want %d", len(claimed), len(all))
	}
	if dupTok > 0 {
		e.errorf("each claimed delivery gets a fresh lease token", "%d tokens were handed out twice", dupTok)
	}
	if cl := e.claim(base, 10); len(cl) != 0 {
		e.errorf("while a lease holds, no other call claims the delivery", "a claim after the race got %d deliveries, want none", len(cl))
	}
}

func testLeaseExpiry(e *env) {
	_, ids := e.seed(base)
	c1 := e.claimOne(base, ids[0], "ClaimDeliveries leases a due pending delivery")
	later := c1.Lease.ExpiresAt.Add(time.Second)
	c2 := e.claimOne(later, ids[0], "an in-flight delivery whose lease expired before req.Now is claimed again")
	if c2.Lease.Token == c1.Lease.Token {
		e.errorf("a delivery claimed again gets a new lease token", "both claims got token %q", c1.Lease.Token)
	}
	if want := later.Add(lease); !c2.Lease.ExpiresAt.Equal(want) {
		e.errorf("a claimed delivery's LeaseExpiresAt is req.Now + req.Lease", "second claim: Lease.ExpiresAt %s, want %s", c2.Lease.ExpiresAt, want)
	}
	if c2.Delivery.Attempts != 0 {
		e.errorf("claiming does not count an attempt", "Attempts = %d after two claims, want 0", c2.Delivery.Attempts)
	}
	if cl := e.claim(later.Add(lease-time.Second), 10); len(cl) != 0 {
		e.errorf("while a lease holds, no other call claims the delivery", "the second lease was claimed over: got %v", claimIDs(cl))
	}
}

func testFencing(e *env) {
	_, ids := e.seed(base)
	c1 := e.claimOne(base, ids[0], "ClaimDeliveries leases a due pending delivery")
	c2 := e.claimOne(c1.Lease.ExpiresAt.Add(time.Second), ids[0], "an in-flight delivery whose lease expired before req.Now is claimed again")

	errs := e.record(succeed(c1))
	if !isLost(errs[0]) {
		e.errorf("recording with a lease that was claimed again gets an error wrapping ErrLeaseLost (errors.Is)", "got %v", errs[0])
	}
	d := e.delivery(ids[0])
	e.checkState("a record whose lease was lost changes nothing", d, shipevents.DeliveryInFlight, 0)
	if !d.LeaseExpiresAt.Equal(c2.Lease.ExpiresAt) {
		e.errorf("a record whose lease was lost changes nothing", "LeaseExpiresAt = %s, want the new lease's %s", d.LeaseExpiresAt, c2.Lease.ExpiresAt)
	}
	if as := e.attempts(ids[0]); len(as) != 0 {
		e.errorf("a record whose lease was lost changes nothing: its attempt is discarded", "ListAttempts has %d attempts, want 0", len(as))
	}
	forged := c2
	forged.Lease.Token = "forged-" + c2.Lease.Token
	if errs := e.record(succeed(forged)); !isLost(errs[0]) {
		e.errorf("recording with a token the store did not issue gets an error wrapping ErrLeaseLost", "got %v", errs[0])
	}

	if errs := e.record(succeed(c2)); errs[0] != nil {
		e.errorf("recording with the current lease succeeds", "got %v", errs[0])
	}
	e.checkState("OutcomeSucceeded moves the delivery to succeeded and counts the attempt", e.delivery(ids[0]), shipevents.DeliverySucceeded, 1)
}

func testFencingPerRecord(e *env) {
	_, ids := e.seed(base, at(2*time.Minute))
	a := e.claimFor(base, time.Hour, 10)
	if len(a) != 1 || a[0].Delivery.ID != ids[0] {
		e.fatalf("ClaimDeliveries leases due pending deliveries only", "claimed %v, want [%s]", claimIDs(a), ids[0])
	}
	b1 := e.claimOne(at(2*time.Minute), ids[1], "a pending delivery is claimed once its NextAttemptAt is reached")
	e.claimOne(b1.Lease.ExpiresAt.Add(time.Second), ids[1], "an in-flight delivery whose lease expired before req.Now is claimed again")

	errs := e.record(succeed(a[0]), succeed(b1))
	if errs[0] != nil {
		e.errorf("errors are per record: a held lease records even when another record's lease was lost", "first record: got %v, want nil", errs[0])
	}
	if !isLost(errs[1]) {
		e.errorf("errors are per record, aligned with records: a lost lease gets ErrLeaseLost", "second record: got %v", errs[1])
	}
	e.checkState("the record whose lease was held is applied", e.delivery(ids[0]), shipevents.DeliverySucceeded, 1)
	e.checkState("a record whose lease was lost changes nothing", e.delivery(ids[1]), shipevents.DeliveryInFlight, 0)
}

func testExpiredLeaseNotReclaimed(e *env) {
	_, ids := e.seed(base)
	c := e.claimOne(base, ids[0], "ClaimDeliveries leases a due pending delivery")
	// Time passes beyond the lease; nobody claims the delivery again. The
	// lease is lost only when the delivery is claimed again or requeued
	// (ErrLeaseLost), so the token still fences in.
	if errs := e.record(succeed(c)); errs[0] != nil {
		e.errorf("a lease is lost when the delivery is claimed again or requeued, not by the passing of time alone (fencing is by token; the store must not judge expiry by its own clock)", "RecordAttempts got %v, want nil", errs[0])
	}
	e.checkState("OutcomeSucceeded moves the delivery to succeeded and counts the attempt", e.delivery(ids[0]), shipevents.DeliverySucceeded, 1)
}

func testOutcomeEndsLease(e *env) {
	_, ids := e.seed(base)
	c := e.claimOne(base, ids[0], "ClaimDeliveries leases a due pending delivery")
	if errs := e.record(succeed(c)); errs[0] != nil {
		e.fatalf("recording with the current lease succeeds", "got %v", errs[0])
	}
	again := attemptRecord(c, shipevents.OutcomeRetry, at(time.Minute), 500, "500 Internal Server Error")
	again.Attempt.Number = 2
	if errs := e.record(again); !isLost(errs[0]) {
		e.errorf("recording an outcome ends the lease: the same lease recording again gets ErrLeaseLost", "got %v", errs[0])
	}
	e.checkState("a record whose lease was lost changes nothing", e.delivery(ids[0]), shipevents.DeliverySucceeded, 1)
	if as := e.attempts(ids[0]); len(as) != 1 {
		e.errorf("a record whose lease was lost changes nothing: its attempt is discarded", "ListAttempts has %d attempts, want 1", len(as))
	}
}

func testExtendLeases(e *env) {
	_, ids := e.seed(base, base)
	cl := e.claim(base, 10)
	if len(cl) != 2 {
		e.fatalf("ClaimDeliveries leases due pending deliveries", "claimed %v, want both of %v", claimIDs(cl), ids)
	}
	keep, drop := cl[0], cl[1]
	until := at(2 * time.Minute)
	if errs := e.extend(until, keep.Lease); errs[0] != nil {
		e.errorf("ExtendLeases extends a held lease", "got %v, want nil", errs[0])
	}
	if d := e.delivery(keep.Delivery.ID); !d.LeaseExpiresAt.Equal(until) || d.State != shipevents.DeliveryInFlight {
		e.errorf("ExtendLeases moves the expiry of a held lease to until", "listed delivery: State %s, LeaseExpiresAt %s; want in_flight, %s", d.State, d.LeaseExpiresAt, until)
	}
	// At the old expiry (+1m) the extended lease still holds; the other one
	// expired and is claimed again.
	reclaimed := e.claim(at(time.Minute), 10)
	if got := claimIDs(reclaimed); !slices.Equal(got, []string{drop.Delivery.ID}) {
		e.errorf("an extended lease is not claimable after its old expiry; an expired one is", "claim after the old expiry got %v, want only %s", got, drop.Delivery.ID)
	}
	errs := e.extend(at(3*time.Minute), keep.Lease, drop.Lease)
	if errs[0] != nil {
		e.errorf("ExtendLeases extends a held lease, including one it extended before", "got %v, want nil", errs[0])
	}
	if !isLost(errs[1]) {
		e.errorf("ExtendLeases reports a lease no longer held with an error wrapping ErrLeaseLost, aligned with leases", "lease of a delivery claimed again: got %v", errs[1])
	}
	if cl := e.claim(at(2*time.Minute+time.Second), 10); slices.Contains(claimIDs(cl), keep.Delivery.ID) {
		e.errorf("a lease extended to until holds until then", "delivery extended to +3m was claimed at +2m1s")
	}
	if errs := e.record(succeed(keep)); errs[0] != nil {
		e.errorf("an extended lease keeps its token and can record", "got %v", errs[0])
	}
	if errs := e.record(succeed(drop)); !isLost(errs[0]) {
		e.errorf("recording with a lease that was claimed again gets ErrLeaseLost", "got %v", errs[0])
	}
}
