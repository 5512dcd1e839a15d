package storetest

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/shipevents/shipevents"
)

// eventListCases check GetEvent and ListEvents: filters and pages.
var eventListCases = []testCase{
	{"GetEventNotFound", withSource("EventStore.GetEvent: an unknown id is an error wrapping ErrNotFound"), testGetEventNotFound},
	{"ListEventsTypes", withSource("EventFilter.Types: an event matches when its type is one of Types"), testListEventsTypes},
	{"ListEventsRefPattern", withSource("EventFilter.RefPattern: an event matches when its ref matches the pattern as MatchRef"), testListEventsRefPattern},
	{"ListEventsTenantID", withSource("EventFilter.TenantID: an event matches when its tenant equals TenantID"), testListEventsTenantID},
	{"ListEventsCarrier", withSource("EventFilter.Carrier: an event matches when its carrier equals Carrier"), testListEventsCarrier},
	{"ListEventsTrackingNumber", withSource("EventFilter.TrackingNumber: an event matches when its tracking number equals TrackingNumber"), testListEventsTrackingNumber},
	{"ListEventsCorrelationID", withSource("EventFilter.CorrelationID: an event matches when its correlation id equals CorrelationID"), testListEventsCorrelationID},
	{"ListEventsOccurredRange", withSource("EventFilter.OccurredAfter is inclusive, OccurredBefore exclusive"), testListEventsOccurredRange},
	{"ListEventsFiltersCombine", withSource("EventFilter: set fields combine (every one must match)"), testListEventsFiltersCombine},
	{"ListEventsPagination", withSource("EventStore.ListEvents: pages are newest first; After continues to older events; PageInfo describes where the page sits"), testListEventsPagination},
	{"ListEventsPageBack", withSource("EventFilter.Before goes back to newer events: passing a page's StartCursor returns the previous page"), testListEventsPageBack},
	{"ListEventsCursorStable", withSource("EventFilter.After: a cursor continues after its event even when events were appended since"), testListEventsCursorStable},
	{"InvalidCursor", withSource("ErrInvalidCursor: a pagination cursor this store did not issue is an error wrapping ErrInvalidCursor"), testInvalidCursor},
	{"PageLimit", withSource("EventFilter.Limit: default 50 (DefaultPageSize), at most 1000 (MaxPageSize), as PageLimit"), testPageLimit},
}

func testGetEventNotFound(e *env) {
	e.appendOne(e.orderEvent(base))
	_, err := e.s.GetEvent(e.ctx, e.key("unknown-"+newID("evt")))
	if !errors.Is(err, shipevents.ErrNotFound) {
		e.errorf("GetEvent of an unknown id is an error wrapping ErrNotFound", "got %v", err)
	}
}

// filterFixture appends five events, in this order:
//
//	0: tracking.updated IN_TRANSIT, tenant T, ups, trk A, corr c1, +1h
//	1: tracking.updated DELIVERED, tenant T, ups, trk A, +2h
//	2: shipment.status_changed DELIVERED, tenant T, fedex, trk B, corr c1, +3h
//	3: order.created, tenant T, corr c2, +4h
//	4: tracking.updated FAILED_DELIVERY, tenant T2, dhl, trk C, +5h
type filterFixture struct {
	ev                     [5]shipevents.Event
	t2, trkA, trkC, c1, c2 string
}

func (e *env) filterFixture() filterFixture {
	e.Helper()
	var x filterFixture
	x.trkA, x.trkC = newID("trk"), newID("trk")
	x.c1, x.c2, x.t2 = newID("corr"), newID("corr"), "other-"+e.tenant
	x.ev[0] = e.shipmentEvent(shipevents.StatusInTransit, x.trkA, at(time.Hour))
	x.ev[0].CorrelationID = x.c1
	x.ev[1] = e.shipmentEvent(shipevents.StatusDelivered, x.trkA, at(2*time.Hour))
	x.ev[2] = e.shipmentEvent(shipevents.StatusDelivered, newID("trk"), at(3*time.Hour))
	x.ev[2].Type = shipevents.TypeShipmentStatus
	x.ev[2].Carrier = "fedex"
	x.ev[2].CorrelationID = x.c1
	x.ev[3] = e.orderEvent(at(4 * time.Hour))
	x.ev[3].CorrelationID = x.c2
	x.ev[4] = e.shipmentEvent(shipevents.StatusFailedDelivery, x.trkC, at(5*time.Hour))
	x.ev[4].Carrier = "dhl"
	x.ev[4].TenantID = x.t2
	for _, ev := range x.ev {
		e.appendOne(ev)
	}
	return x
}

// expect checks that f lists exactly the fixture events with the given
// indexes, newest first, with the right Count.
func (e *env) expect(rule string, x filterFixture, f shipevents.EventFilter, idx ...int) {
	e.Helper()
	var want []string
	for i := len(x.ev) - 1; i >= 0; i-- {
		if slices.Contains(idx, i) {
			want = append(want, x.ev[i].ID)
		}
	}
	p := e.listEvents(f)
	if got := eventIDs(p.Items); !slices.Equal(got, want) {
		e.errorf(rule, "ListEvents(%s) = %v, want events %v newest first: %v", describe(f), got, idx, want)
	}
	if p.PageInfo.Count != len(want) {
		e.errorf("PageInfo.Count is the number of all items matching the filter", "ListEvents(%s): Count %d, want %d", describe(f), p.PageInfo.Count, len(want))
	}
}

// describe prints the set fields of an event filter.
func describe(f shipevents.EventFilter) string {
	var parts []string
	v := reflect.ValueOf(f)
	for i := range v.NumField() {
		if fv := v.Field(i); !fv.IsZero() {
			parts = append(parts, fmt.Sprintf("%s: %v", v.Type().Field(i).Name, fv.Interface()))
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

func testListEventsTypes(e *env) {
	x := e.filterFixture()
	const rule = "EventFilter.Types: an event matches when its type is one of Types"
	e.expect(rule, x, shipevents.EventFilter{Types: []string{shipevents.TypeTrackingUpdated}}, 0, 1, 4)
	e.expect(rule, x, shipevents.EventFilter{Types: []string{shipevents.TypeShipmentStatus, shipevents.TypeOrderCreated}}, 2, 3)
	e.expect(rule, x, shipevents.EventFilter{Types: []string{"claim.created"}})
	e.expect("a zero EventFilter lists every event", x, shipevents.EventFilter{}, 0, 1, 2, 3, 4)
}

func testListEventsRefPattern(e *env) {
	x := e.filterFixture()
	const rule = "EventFilter.RefPattern: an event matches when its ref matches the pattern as MatchRef"
	e.expect(rule, x, shipevents.EventFilter{RefPattern: "shipments/delivered"}, 1, 2)
	e.expect(rule, x, shipevents.EventFilter{RefPattern: "shipments/*/SUCCESSFULLY_DELIVERED"}, 1, 2)
	e.expect(rule, x, shipevents.EventFilter{RefPattern: "shipments/*/DELIVERY_ATTEMPT_FAILED"}, 4)
	e.expect(rule, x, shipevents.EventFilter{RefPattern: "shipments/in_transit/IN_TRANSIT"}, 0)
	e.expect(rule, x, shipevents.EventFilter{RefPattern: "shipments"}, 0, 1, 2, 4)
	e.expect(rule, x, shipevents.EventFilter{RefPattern: "orders"}, 3)
	e.expect(rule, x, shipevents.EventFilter{RefPattern: "*"}, 0, 1, 2, 3, 4)
	e.expect(rule+" (segments are whole)", x, shipevents.EventFilter{RefPattern: "shipments/deliv"})
}

func testListEventsTenantID(e *env) {
	x := e.filterFixture()
	const rule = "EventFilter.TenantID: an event matches when its tenant equals TenantID"
	e.expect(rule, x, shipevents.EventFilter{TenantID: e.tenant}, 0, 1, 2, 3)
	e.expect(rule, x, shipevents.EventFilter{TenantID: x.t2}, 4)
	e.expect(rule, x, shipevents.EventFilter{TenantID: "nobody-" + e.tenant})
}

func testListEventsCarrier(e *env) {
	x := e.filterFixture()
	const rule = "EventFilter.Carrier: an event matches when its carrier equals Carrier"
	e.expect(rule, x, shipevents.EventFilter{Carrier: carrier}, 0, 1)
	e.expect(rule, x, shipevents.EventFilter{Carrier: "fedex"}, 2)
	e.expect(rule, x, shipevents.EventFilter{Carrier: "usps"})
}

func testListEventsTrackingNumber(e *env) {
	x := e.filterFixture()
	const rule = "EventFilter.TrackingNumber: an event matches when its tracking number equals TrackingNumber"
	e.expect(rule, x, shipevents.EventFilter{TrackingNumber: x.trkA}, 0, 1)
	e.expect(rule, x, shipevents.EventFilter{TrackingNumber: x.trkC}, 4)
	e.expect(rule, x, shipevents.EventFilter{TrackingNumber: newID("trk")})
}

func testListEventsCorrelationID(e *env) {
	x := e.filterFixture()
	const rule = "EventFilter.CorrelationID: an event matches when its correlation id equals CorrelationID"
	e.expect(rule, x, shipevents.EventFilter{CorrelationID: x.c1}, 0, 2)
	e.expect(rule, x, shipevents.EventFilter{CorrelationID: x.c2}, 3)
	e.expect(rule, x, shipevents.EventFilter{CorrelationID: newID("corr")})
}

func testListEventsOccurredRange(e *env) {
	x := e.filterFixture()
	e.expect("EventFilter.OccurredAfter is inclusive", x, shipevents.EventFilter{OccurredAfter: at(2 * time.Hour)}, 1, 2, 3, 4)
	e.expect("EventFilter.OccurredBefore is exclusive", x, shipevents.EventFilter{OccurredBefore: at(3 * time.Hour)}, 0, 1)
	e.expect("EventFilter.OccurredAfter (inclusive) and OccurredBefore (exclusive) bound a range", x,
		shipevents.EventFilter{OccurredAfter: at(2 * time.Hour), OccurredBefore: at(4 * time.Hour)}, 1, 2)
	// The same instant in another zone is the same instant.
	cet := time.FixedZone("CET", 3600)
	e.expect("EventFilter.OccurredAfter compares instants, whatever the zone", x, shipevents.EventFilter{OccurredAfter: at(4 * time.Hour).In(cet)}, 3, 4)
}

func testListEventsFiltersCombine(e *env) {
	x := e.filterFixture()
	const rule = "EventFilter: set fields combine (every one must match)"
	e.expect(rule, x, shipevents.EventFilter{TenantID: e.tenant, RefPattern: "shipments/delivered", Carrier: carrier}, 1)
	e.expect(rule, x, shipevents.EventFilter{CorrelationID: x.c1, Types: []string{shipevents.TypeTrackingUpdated}}, 0)
	e.expect(rule, x, shipevents.EventFilter{TrackingNumber: x.trkA, OccurredAfter: at(90 * time.Minute)}, 1)
	e.expect(rule, x, shipevents.EventFilter{TenantID: x.t2, Carrier: carrier})
}

// appendN appends n order events one call each and returns their ids in
// append order.
func (e *env) appendN(n int) []string {
	e.Helper()
	ids := make([]string, n)
	for i := range n {
		ev := e.orderEvent(at(time.Duration(i) * time.Minute))
		e.appendOne(ev)
		ids[i] = ev.ID
	}
	return ids
}

// checkPage compares a page of events with want (ids, newest first) and
// its PageInfo with count, hasNext and hasPrev.
func (e *env) checkPage(label string, p shipevents.Page[shipevents.StoredEvent], want []string, count int, hasNext, hasPrev bool) {
	e.Helper()
	if got := eventIDs(p.Items); !slices.Equal(got, want) {
		e.fatalf("ListEvents pages are newest first; After continues to older events, Before goes back to newer ones", "%s = %v, want %v", label, got, want)
	}
	pi := p.PageInfo
	if pi.Count != count {
		e.errorf("PageInfo.Count is the number of all items matching the filter, on every page", "%s: Count %d, want %d", label, pi.Count, count)
	}
	if pi.HasNextPage != hasNext {
		e.errorf("PageInfo.HasNextPage says whether older events follow the page", "%s: HasNextPage %v, want %v", label, pi.HasNextPage, hasNext)
	}
	if pi.HasPreviousPage != hasPrev {
		e.errorf("PageInfo.HasPreviousPage says whether newer events precede the page", "%s: HasPreviousPage %v, want %v", label, pi.HasPreviousPage, hasPrev)
	}
	if len(p.Items) > 0 && (pi.StartCursor == "" || pi.EndCursor == "") {
		e.fatalf("a non-empty page has a StartCursor and an EndCursor", "%s: StartCursor %q, EndCursor %q", label, pi.StartCursor, pi.EndCursor)
	}
}

func testListEventsPagination(e *env) {
	ids := reversed(e.appendN(25)) // newest first
	f := shipevents.EventFilter{Limit: 10}
	p1 := e.listEvents(f)
	e.checkPage("page 1", p1, ids[0:10], 25, true, false)
	f.After = p1.PageInfo.EndCursor
	p2 := e.listEvents(f)
	e.checkPage("page 2 (After page 1's EndCursor)", p2, ids[10:20], 25, true, true)
	f.After = p2.PageInfo.EndCursor
	p3 := e.listEvents(f)
	e.checkPage("page 3 (After page 2's EndCursor)", p3, ids[20:25], 25, false, true)
}

func testListEventsPageBack(e *env) {
	ids := reversed(e.appendN(25))
	p1 := e.listEvents(shipevents.EventFilter{Limit: 10})
	p2 := e.listEvents(shipevents.EventFilter{Limit: 10, After: p1.PageInfo.EndCursor})
	p3 := e.listEvents(shipevents.EventFilter{Limit: 10, After: p2.PageInfo.EndCursor})
	e.checkPage("page 3", p3, ids[20:25], 25, false, true)
	back2 := e.listEvents(shipevents.EventFilter{Limit: 10, Before: p3.PageInfo.StartCursor})
	e.checkPage("Before page 3's StartCursor (page 2)", back2, ids[10:20], 25, true, true)
	back1 := e.listEvents(shipevents.EventFilter{Limit: 10, Before: back2.PageInfo.StartCursor})
	e.checkPage("Before page 2's StartCursor (page 1)", back1, ids[0:10], 25, true, false)
	back0 := e.listEvents(shipevents.EventFilter{Limit: 10, Before: back1.PageInfo.StartCursor})
	if len(back0.Items) != 0 || back0.PageInfo.HasPreviousPage {
		e.errorf("Before the newest event there is nothing", "got %v, HasPreviousPage %v; want no items, false", eventIDs(back0.Items), back0.PageInfo.HasPreviousPage)
	}
}

func testListEventsCursorStable(e *env) {
	ids := reversed(e.appendN(15))
	p1 := e.listEvents(shipevents.EventFilter{Limit: 5})
	e.checkPage("page 1", p1, ids[0:5], 15, true, false)
	newer := reversed(e.appendN(3))
	p2 := e.listEvents(shipevents.EventFilter{Limit: 5, After: p1.PageInfo.EndCursor})
	e.checkPage("page 2 after 3 more appends", p2, ids[5:10], 18, true, true)
	back := e.listEvents(shipevents.EventFilter{Limit: 5, Before: p2.PageInfo.StartCursor})
	e.checkPage("Before page 2's StartCursor after 3 more appends", back, ids[0:5], 18, true, true)
	top := e.listEvents(shipevents.EventFilter{Limit: 5, Before: back.PageInfo.StartCursor})
	e.checkPage("Before that page's StartCursor (the new events)", top, newer, 18, true, false)
}

func testInvalidCursor(e *env) {
	e.appendN(3)
	e.seed(base)
	const bad = "%%not a cursor%%"
	if _, err := e.s.ListEvents(e.ctx, shipevents.EventFilter{After: bad}); !errors.Is(err, shipevents.ErrInvalidCursor) {
		e.errorf("ListEvents with an After cursor the store did not issue is an error wrapping ErrInvalidCursor", "got %v", err)
	}
	if _, err := e.s.ListEvents(e.ctx, shipevents.EventFilter{Before: bad}); !errors.Is(err, shipevents.ErrInvalidCursor) {
		e.errorf("ListEvents with a Before cursor the store did not issue is an error wrapping ErrInvalidCursor", "got %v", err)
	}
	if _, err := e.s.ListDeliveries(e.ctx, shipevents.DeliveryFilter{After: bad}); !errors.Is(err, shipevents.ErrInvalidCursor) {
		e.errorf("ListDeliveries with an After cursor the store did not issue is an error wrapping ErrInvalidCursor", "got %v", err)
	}
}

func testPageLimit(e *env) {
	n := shipevents.DefaultPageSize + 1
	if !e.short {
		n = shipevents.MaxPageSize + 1
	}
	recs := make([]shipevents.AppendRecord, n)
	for i := range recs {
		recs[i] = shipevents.AppendRecord{Event: e.orderEvent(at(time.Duration(i) * time.Second))}
	}
	e.appendRecords(recs...)
	for _, limit := range []int{0, -1} {
		p := e.listEvents(shipevents.EventFilter{Limit: limit})
		if len(p.Items) != shipevents.DefaultPageSize || !p.PageInfo.HasNextPage || !countKept(p.PageInfo, n) {
			e.errorf("EventFilter.Limit ≤ 0 means DefaultPageSize (PageLimit)", "Limit %d over %d events: %d items, HasNextPage %v, Count %d (estimated %v); want %d, true, %d",
				limit, n, len(p.Items), p.PageInfo.HasNextPage, p.PageInfo.Count, p.PageInfo.CountEstimated, shipevents.DefaultPageSize, n)
		}
	}
	if e.short {
		return // MaxPageSize needs more than 1000 events
	}
	p := e.listEvents(shipevents.EventFilter{Limit: shipevents.MaxPageSize + 500})
	if len(p.Items) != shipevents.MaxPageSize || !p.PageInfo.HasNextPage {
		e.errorf("EventFilter.Limit is at most MaxPageSize (PageLimit)", "Limit %d over %d events: %d items, HasNextPage %v; want %d, true",
			shipevents.MaxPageSize+500, n, len(p.Items), p.PageInfo.HasNextPage, shipevents.MaxPageSize)
	}
}

// countKept reports whether pi counts n matches as PageInfo says a store
// may: exactly, or, past MaxExactCount, as an estimate above it.
func countKept(pi shipevents.PageInfo, n int) bool {
	if pi.CountEstimated {
		return n > shipevents.MaxExactCount && pi.Count > shipevents.MaxExactCount
	}
	return pi.Count == n
}
