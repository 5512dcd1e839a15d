package storetest

import (
	"errors"
	"slices"
	"time"

	"github.com/shipevents/shipevents"
)

// deliveryLogCases check DeliveryLog: requeue, attempts and delivery pages.
var deliveryLogCases = []testCase{
	{"Requeue", withSource("DeliveryLog.RequeueDeliveries: makes deliveries pending again at `at` whatever their state, keeps history, skips unknown ids and returns the count"), testRequeue},
	{"RequeueRevokesLease", withSource("DeliveryLog.RequeueDeliveries: any lease held on a requeued delivery is revoked (its holder gets ErrLeaseLost)"), testRequeueRevokesLease},
	{"ListAttempts", withSource("DeliveryLog.ListAttempts: every recorded attempt, oldest first; an unknown delivery is an error wrapping ErrNotFound"), testListAttempts},
	{"ListDeliveriesPagination", withSource("DeliveryLog.ListDeliveries: pages are oldest first (by creation order); After continues to newer deliveries"), testListDeliveriesPagination},
	{"ListDeliveriesFilters", withSource("DeliveryFilter: each set field filters (EventID, SubscriptionID, State); zero fields do not"), testListDeliveriesFilters},
	{"ListDeliveriesNewestFirst", withSource("DeliveryFilter.NewestFirst: pages are newest first (by creation order); After continues to older deliveries"), testListDeliveriesNewestFirst},
	{"ListDeliveriesByID", withSource("DeliveryFilter.ID: selects the one delivery with that id, combined with the other fields"), testListDeliveriesByID},
}

func testRequeue(e *env) {
	_, ids := e.seed(base, base, base)
	cl := e.claim(base, 2)
	if len(cl) != 2 {
		e.fatalf("ClaimDeliveries leases up to req.Limit due deliveries", "claimed %d, want 2", len(cl))
	}
	deadRec := attemptRecord(cl[0], shipevents.OutcomeDead, time.Time{}, 400, "400 Bad Request")
	errs := e.record(deadRec, succeed(cl[1]))
	e.noErr(errors.Join(errs...), "RecordAttempts with held leases")
	deadID, doneID := cl[0].Delivery.ID, cl[1].Delivery.ID
	pendingID := ids[slices.IndexFunc(ids, func(id string) bool { return id != deadID && id != doneID })]

	at1h := at(time.Hour)
	n, err := e.s.RequeueDeliveries(e.ctx, []string{deadID, "unknown-" + newID("dlv"), doneID, pendingID}, at1h)
	e.noErr(err, "RequeueDeliveries")
	if n != 3 {
		e.errorf("RequeueDeliveries returns how many it requeued; unknown ids are skipped", "got %d, want 3", n)
	}
	for _, id := range []string{deadID, doneID, pendingID} {
		d := e.delivery(id)
		hist := e.attempts(id)
		e.checkState("RequeueDeliveries makes a delivery pending again whatever its state, attempt history kept", d, shipevents.DeliveryPending, len(hist))
		if !d.NextAttemptAt.Equal(at1h) {
			e.errorf("RequeueDeliveries makes the delivery due at `at`", "delivery %s: NextAttemptAt %s, want %s", id, d.NextAttemptAt, at1h)
		}
	}
	if hist := e.attempts(deadID); len(hist) != 1 {
		e.errorf("RequeueDeliveries keeps the attempt history", "dead delivery: ListAttempts has %d attempts after requeue, want 1", len(hist))
	} else {
		e.checkAttempt("RequeueDeliveries keeps the attempt history", hist[0], deadRec.Attempt)
	}
	if cl := e.claim(at1h.Add(-time.Second), 10); len(cl) != 0 {
		e.errorf("a requeued delivery is due at `at`, not before", "claimed %v one second early", claimIDs(cl))
	}
	if got := claimIDs(e.claim(at1h, 10)); !sameSet(got, []string{deadID, doneID, pendingID}) {
		e.errorf("requeued deliveries are claimable at `at`", "claimed %v, want all three", got)
	}
	if n, err := e.s.RequeueDeliveries(e.ctx, []string{"unknown-" + newID("dlv")}, at1h); err != nil || n != 0 {
		e.errorf("RequeueDeliveries skips unknown ids", "got %d, %v; want 0, nil", n, err)
	}
}

func testRequeueRevokesLease(e *env) {
	_, ids := e.seed(base)
	c := e.claimOne(base, ids[0], "ClaimDeliveries leases a due pending delivery")
	requeueAt := at(10 * time.Second) // before the lease would expire
	n, err := e.s.RequeueDeliveries(e.ctx, ids, requeueAt)
	e.noErr(err, "RequeueDeliveries")
	if n != 1 {
		e.errorf("RequeueDeliveries returns how many it requeued (in-flight ones included)", "got %d, want 1", n)
	}
	d := e.delivery(ids[0])
	e.checkState("RequeueDeliveries makes an in-flight delivery pending again", d, shipevents.DeliveryPending, 0)
	if errs := e.record(succeed(c)); !isLost(errs[0]) {
		e.errorf("RequeueDeliveries revokes any lease held: its holder gets ErrLeaseLost from RecordAttempts", "got %v", errs[0])
	}
	if errs := e.extend(at(time.Hour), c.Lease); !isLost(errs[0]) {
		e.errorf("RequeueDeliveries revokes any lease held: its holder gets ErrLeaseLost from ExtendLeases", "got %v", errs[0])
	}
	e.checkState("a record whose lease was lost changes nothing", e.delivery(ids[0]), shipevents.DeliveryPending, 0)
	c2 := e.claimOne(requeueAt, ids[0], "a requeued delivery is claimable at `at`, even while its revoked lease would still have held")
	if c2.Lease.Token == c.Lease.Token {
		e.errorf("a lease token changes on every claim and requeue", "the claim after requeue got the revoked token %q", c.Lease.Token)
	}
}

func testListAttempts(e *env) {
	_, ids := e.seed(base)
	as, err := e.s.ListAttempts(e.ctx, ids[0])
	if err != nil || len(as) != 0 {
		e.errorf("ListAttempts of a delivery without attempts returns none", "got %d attempts, %v", len(as), err)
	}
	_, err = e.s.ListAttempts(e.ctx, "unknown-"+newID("dlv"))
	if !errors.Is(err, shipevents.ErrNotFound) {
		e.errorf("ListAttempts of an unknown delivery is an error wrapping ErrNotFound", "got %v", err)
	}
}

func testListDeliveriesPagination(e *env) {
	sub := newID("sub")
	var ids []string
	for i := range 25 {
		ev := e.orderEvent(at(time.Duration(i) * time.Minute))
		d := nd(ev, sub, at(time.Duration(25-i)*time.Minute)) // NextAttemptAt falling: order is by creation
		e.appendOne(ev, d)
		ids = append(ids, d.ID)
	}
	f := shipevents.DeliveryFilter{SubscriptionID: sub, Limit: 10}
	want := [][]string{ids[0:10], ids[10:20], ids[20:25]}
	for i, w := range want {
		p := e.listDeliveries(f)
		if got := deliveryIDs(p.Items); !slices.Equal(got, w) {
			e.fatalf("ListDeliveries pages are oldest first (by creation order); After continues to newer ones", "page %d = %v, want %v", i+1, got, w)
		}
		if p.PageInfo.Count != 25 {
			e.errorf("PageInfo.Count is the number of all items matching the filter", "page %d: Count %d, want 25", i+1, p.PageInfo.Count)
		}
		if hasNext := i < 2; p.PageInfo.HasNextPage != hasNext {
			e.errorf("PageInfo.HasNextPage says whether items follow the page", "page %d: HasNextPage %v, want %v", i+1, p.PageInfo.HasNextPage, hasNext)
		}
		if hasPrev := i > 0; p.PageInfo.HasPreviousPage != hasPrev {
			e.errorf("PageInfo.HasPreviousPage says whether items precede the page", "page %d: HasPreviousPage %v, want %v", i+1, p.PageInfo.HasPreviousPage, hasPrev)
		}
		if p.PageInfo.EndCursor == "" {
			e.fatalf("a non-empty page has an EndCursor", "page %d: EndCursor is empty", i+1)
		}
		f.After = p.PageInfo.EndCursor
	}
}

func testListDeliveriesFilters(e *env) {
	sA, sB := newID("sub"), newID("sub")
	ev1, ev2 := e.orderEvent(base), e.orderEvent(base)
	e.appendOne(ev1, nd(ev1, sA, base), nd(ev1, sB, at(time.Hour)))
	e.appendOne(ev2, nd(ev2, sA, at(time.Hour)))
	d1A, d1B, d2A := shipevents.DeliveryID(ev1.Key(), sA), shipevents.DeliveryID(ev1.Key(), sB), shipevents.DeliveryID(ev2.Key(), sA)
	e.claimOne(base, d1A, "ClaimDeliveries leases due pending deliveries only")
	for _, c := range []struct {
		f    shipevents.DeliveryFilter
		want []string
	}{
		{shipevents.DeliveryFilter{}, []string{d1A, d1B, d2A}},
		{shipevents.DeliveryFilter{TenantID: ev1.TenantID, EventID: ev1.ID}, []string{d1A, d1B}},
		{shipevents.DeliveryFilter{SubscriptionID: sA}, []string{d1A, d2A}},
		{shipevents.DeliveryFilter{State: shipevents.DeliveryInFlight}, []string{d1A}},
		{shipevents.DeliveryFilter{State: shipevents.DeliveryPending}, []string{d1B, d2A}},
		{shipevents.DeliveryFilter{TenantID: ev1.TenantID, EventID: ev1.ID, SubscriptionID: sA}, []string{d1A}},
		{shipevents.DeliveryFilter{SubscriptionID: sA, State: shipevents.DeliveryPending}, []string{d2A}},
		{shipevents.DeliveryFilter{EventID: "unknown-" + newID("evt")}, nil},
	} {
		p := e.listDeliveries(c.f)
		if got := deliveryIDs(p.Items); !sameSet(got, c.want) || p.PageInfo.Count != len(c.want) {
			e.errorf("DeliveryFilter: each set field filters, zero fields do not; Count is all matching", "ListDeliveries(%+v) = %v (Count %d), want %v", c.f, got, p.PageInfo.Count, c.want)
		}
	}
}

func testListDeliveriesNewestFirst(e *env) {
	sub := newID("sub")
	var ids []string
	for i := range 12 {
		ev := e.orderEvent(at(time.Duration(i) * time.Minute))
		d := nd(ev, sub, at(time.Duration(12-i)*time.Minute))
		e.appendOne(ev, d)
		ids = append(ids, d.ID)
	}
	newest := reversed(ids)
	f := shipevents.DeliveryFilter{SubscriptionID: sub, NewestFirst: true, Limit: 5}
	for i, w := range [][]string{newest[0:5], newest[5:10], newest[10:12]} {
		p := e.listDeliveries(f)
		if got := deliveryIDs(p.Items); !slices.Equal(got, w) {
			e.fatalf("ListDeliveries with NewestFirst pages newest first; After continues to older ones", "page %d = %v, want %v", i+1, got, w)
		}
		if p.PageInfo.Count != 12 || p.PageInfo.HasNextPage != (i < 2) || p.PageInfo.HasPreviousPage != (i > 0) {
			e.errorf("PageInfo describes where a newest-first page sits", "page %d: Count %d, HasNextPage %v, HasPreviousPage %v; want 12, %v, %v",
				i+1, p.PageInfo.Count, p.PageInfo.HasNextPage, p.PageInfo.HasPreviousPage, i < 2, i > 0)
		}
		f.After = p.PageInfo.EndCursor
	}
}

func testListDeliveriesByID(e *env) {
	sA, sB := newID("sub"), newID("sub")
	ev := e.orderEvent(base)
	e.appendOne(ev, nd(ev, sA, base), nd(ev, sB, base))
	dA := shipevents.DeliveryID(ev.Key(), sA)
	for _, c := range []struct {
		f    shipevents.DeliveryFilter
		want []string
	}{
		{shipevents.DeliveryFilter{ID: dA}, []string{dA}},
		{shipevents.DeliveryFilter{ID: dA, SubscriptionID: sA, State: shipevents.DeliveryPending}, []string{dA}},
		{shipevents.DeliveryFilter{ID: dA, SubscriptionID: sB}, nil},
		{shipevents.DeliveryFilter{ID: dA, TenantID: "other-" + e.tenant}, nil},
		{shipevents.DeliveryFilter{ID: "unknown-" + newID("dlv")}, nil},
	} {
		p := e.listDeliveries(c.f)
		if got := deliveryIDs(p.Items); !slices.Equal(got, c.want) || p.PageInfo.Count != len(c.want) || p.PageInfo.HasNextPage || p.PageInfo.HasPreviousPage {
			e.errorf("DeliveryFilter.ID selects the delivery with that id when the other fields match too", "ListDeliveries(%+v) = %v (Count %d), want %v", c.f, got, p.PageInfo.Count, c.want)
		}
	}
}
