package storetest

import (
	"slices"
	"time"

	"github.com/shipevents/shipevents"
)

// historyCases check the history filters beyond the shipment's identity
// (event group, status, metadata, test mode, transaction id), offset
// paging and the bounded count.
var historyCases = []testCase{
	{"ListEventsEventGroups", withSource("EventFilter.EventGroups: an event matches when its event_group is one of EventGroups"), testListEventsEventGroups},
	{"ListEventsStatuses", withSource("EventFilter.Statuses: an event matches when its status is one of Statuses"), testListEventsStatuses},
	{"ListEventsMetadata", withSource("EventFilter.Metadata: an event matches when its metadata holds every key with the value given"), testListEventsMetadata},
	{"ListEventsTestMode", withSource("EventFilter.TestMode: TestModeOnly keeps test events, TestModeLive the others, TestModeAny both"), testListEventsTestMode},
	{"ListEventsTransactionID", withSource("EventFilter.TransactionID: an event matches when its transaction id equals TransactionID"), testListEventsTransactionID},
	{"ListEventsOffset", withSource("EventFilter.Offset: skips that many matches from the newest (or from After) toward older ones, and with Before alone from Before toward newer ones"), testListEventsOffset},
	{"ListEventsCountBound", withSource("PageInfo.Count: exact up to MaxExactCount (CountEstimated false); past it exact or an estimate above MaxExactCount with CountEstimated set"), testListEventsCountBound},
}

// historyFixture appends six events, in this order:
//
//	0: IN_TRANSIT (group in_transit), metadata {shop: a, channel: web}, transaction x1
//	1: DELIVERED (group delivered), metadata {shop: a}, test mode
//	2: FAILED_DELIVERY (group delivery_failed), metadata {shop: b}, transaction x1
//	3: order.created (group order_created, no status), test mode, transaction x2
//	4: DELIVERED (group delivered), metadata {shop: "a "}
//	5: IN_TRANSIT (group in_transit), test mode
type historyFixture struct {
	ev     [6]shipevents.Event
	x1, x2 string
}

func (e *env) historyFixture() historyFixture {
	e.Helper()
	var x historyFixture
	x.x1, x.x2 = newID("txn"), newID("txn")
	trk := newID("trk")
	x.ev[0] = e.shipmentEvent(shipevents.StatusInTransit, trk, at(time.Hour))
	x.ev[0].Metadata = map[string]string{"shop": "a", "channel": "web"}
	x.ev[0].TransactionID = x.x1
	x.ev[1] = e.shipmentEvent(shipevents.StatusDelivered, trk, at(2*time.Hour))
	x.ev[1].Metadata = map[string]string{"shop": "a"}
	x.ev[1].TestMode = true
	x.ev[2] = e.shipmentEvent(shipevents.StatusFailedDelivery, newID("trk"), at(3*time.Hour))
	x.ev[2].Metadata = map[string]string{"shop": "b"}
	x.ev[2].TransactionID = x.x1
	x.ev[3] = e.orderEvent(at(4 * time.Hour))
	x.ev[3].TestMode = true
	x.ev[3].TransactionID = x.x2
	x.ev[4] = e.shipmentEvent(shipevents.StatusDelivered, newID("trk"), at(5*time.Hour))
	x.ev[4].Metadata = map[string]string{"shop": "a "}
	x.ev[5] = e.shipmentEvent(shipevents.StatusInTransit, newID("trk"), at(6*time.Hour))
	x.ev[5].TestMode = true
	for _, ev := range x.ev {
		e.appendOne(ev)
	}
	return x
}

// expectSome checks that f lists exactly the events of evs (in append
// order) with the given indexes, newest first, with an exact Count.
func (e *env) expectSome(rule string, evs []shipevents.Event, f shipevents.EventFilter, idx ...int) {
	e.Helper()
	var want []string
	for i := len(evs) - 1; i >= 0; i-- {
		if slices.Contains(idx, i) {
			want = append(want, evs[i].ID)
		}
	}
	p := e.listEvents(f)
	if got := eventIDs(p.Items); !slices.Equal(got, want) {
		e.errorf(rule, "ListEvents(%s) = %v, want events %v newest first: %v", describe(f), got, idx, want)
	}
	if p.PageInfo.Count != len(want) || p.PageInfo.CountEstimated {
		e.errorf("PageInfo.Count is the number of all items matching the filter, exact below MaxExactCount", "ListEvents(%s): Count %d (estimated %v), want %d",
			describe(f), p.PageInfo.Count, p.PageInfo.CountEstimated, len(want))
	}
}

func testListEventsEventGroups(e *env) {
	x := e.historyFixture()
	const rule = "EventFilter.EventGroups: an event matches when its event_group is one of EventGroups"
	groupOf := func(i int) string { return x.ev[i].EventGroup }
	e.expectSome(rule, x.ev[:], shipevents.EventFilter{EventGroups: []string{groupOf(1)}}, 1, 4)
	e.expectSome(rule, x.ev[:], shipevents.EventFilter{EventGroups: []string{groupOf(0), groupOf(3)}}, 0, 3, 5)
	e.expectSome(rule, x.ev[:], shipevents.EventFilter{EventGroups: []string{"no_such_group"}})
	e.expectSome("EventFilter: set fields combine (every one must match)", x.ev[:],
		shipevents.EventFilter{EventGroups: []string{groupOf(0)}, TestMode: shipevents.TestModeLive}, 0)
}

func testListEventsStatuses(e *env) {
	x := e.historyFixture()
	const rule = "EventFilter.Statuses: an event matches when its status is one of Statuses"
	e.expectSome(rule, x.ev[:], shipevents.EventFilter{Statuses: []shipevents.Status{shipevents.StatusDelivered}}, 1, 4)
	e.expectSome(rule, x.ev[:], shipevents.EventFilter{Statuses: []shipevents.Status{shipevents.StatusInTransit, shipevents.StatusFailedDelivery}}, 0, 2, 5)
	e.expectSome(rule+" (an event without a status matches none)", x.ev[:], shipevents.EventFilter{Statuses: []shipevents.Status{shipevents.StatusUnknown}})
}

func testListEventsMetadata(e *env) {
	x := e.historyFixture()
	const rule = "EventFilter.Metadata: an event matches when its metadata holds every key with the value given"
	e.expectSome(rule, x.ev[:], shipevents.EventFilter{Metadata: map[string]string{"shop": "a"}}, 0, 1)
	e.expectSome(rule, x.ev[:], shipevents.EventFilter{Metadata: map[string]string{"shop": "a", "channel": "web"}}, 0)
	e.expectSome(rule, x.ev[:], shipevents.EventFilter{Metadata: map[string]string{"shop": "b"}}, 2)
	e.expectSome(rule+" (values compare whole and exactly)", x.ev[:], shipevents.EventFilter{Metadata: map[string]string{"shop": "a "}}, 4)
	e.expectSome(rule, x.ev[:], shipevents.EventFilter{Metadata: map[string]string{"channel": "web", "shop": "b"}})
	e.expectSome(rule, x.ev[:], shipevents.EventFilter{Metadata: map[string]string{"nope": "a"}})
}

func testListEventsTestMode(e *env) {
	x := e.historyFixture()
	e.expectSome("EventFilter.TestMode: TestModeOnly keeps test events", x.ev[:], shipevents.EventFilter{TestMode: shipevents.TestModeOnly}, 1, 3, 5)
	e.expectSome("EventFilter.TestMode: TestModeLive keeps the events not in test mode", x.ev[:], shipevents.EventFilter{TestMode: shipevents.TestModeLive}, 0, 2, 4)
	e.expectSome("EventFilter.TestMode: TestModeAny keeps both", x.ev[:], shipevents.EventFilter{TestMode: shipevents.TestModeAny}, 0, 1, 2, 3, 4, 5)
}

func testListEventsTransactionID(e *env) {
	x := e.historyFixture()
	const rule = "EventFilter.TransactionID: an event matches when its transaction id equals TransactionID"
	e.expectSome(rule, x.ev[:], shipevents.EventFilter{TransactionID: x.x1}, 0, 2)
	e.expectSome(rule, x.ev[:], shipevents.EventFilter{TransactionID: x.x2}, 3)
	e.expectSome(rule, x.ev[:], shipevents.EventFilter{TransactionID: newID("txn")})
	e.expectSome("EventFilter: set fields combine (every one must match)", x.ev[:],
		shipevents.EventFilter{TransactionID: x.x1, Statuses: []shipevents.Status{shipevents.StatusFailedDelivery}}, 2)
}

func testListEventsOffset(e *env) {
	ids := reversed(e.appendN(25)) // newest first
	p := e.listEvents(shipevents.EventFilter{Limit: 10, Offset: 10})
	e.checkPage("Offset 10 (page 2 by number)", p, ids[10:20], 25, true, true)
	p = e.listEvents(shipevents.EventFilter{Limit: 10, Offset: 20})
	e.checkPage("Offset 20 (the last page by number)", p, ids[20:25], 25, false, true)
	p = e.listEvents(shipevents.EventFilter{Limit: 10, Offset: 25})
	e.checkPage("Offset 25 (past the last match)", p, nil, 25, false, true)
	p = e.listEvents(shipevents.EventFilter{Limit: 10, Offset: -3})
	e.checkPage("Offset -3 (counts as zero)", p, ids[0:10], 25, true, false)

	first := e.listEvents(shipevents.EventFilter{Limit: 5})
	p = e.listEvents(shipevents.EventFilter{Limit: 5, Offset: 5, After: first.PageInfo.EndCursor})
	e.checkPage("Offset 5 After page 1's EndCursor", p, ids[10:15], 25, true, true)

	last := e.listEvents(shipevents.EventFilter{Limit: 5, Offset: 20})
	p = e.listEvents(shipevents.EventFilter{Limit: 5, Offset: 5, Before: last.PageInfo.StartCursor})
	e.checkPage("Offset 5 Before the last page's StartCursor (toward newer events)", p, ids[10:15], 25, true, true)
	p = e.listEvents(shipevents.EventFilter{Limit: 5, Offset: 18, Before: last.PageInfo.StartCursor})
	e.checkPage("Offset 18 Before the last page's StartCursor (the newest two remain)", p, ids[0:2], 25, true, false)
	p = e.listEvents(shipevents.EventFilter{Limit: 5, Offset: 30, Before: last.PageInfo.StartCursor})
	e.checkPage("Offset 30 Before the last page's StartCursor (nothing that new)", p, nil, 25, true, false)
}

func testListEventsCountBound(e *env) {
	n := shipevents.MaxExactCount + 1
	recs := make([]shipevents.AppendRecord, n)
	for i := range recs {
		recs[i] = shipevents.AppendRecord{Event: e.orderEvent(at(time.Duration(i) * time.Second))}
	}
	recs[0].Event.Carrier = "rare" // the oldest
	e.appendRecords(recs...)

	p := e.listEvents(shipevents.EventFilter{Limit: 5})
	if !countKept(p.PageInfo, n) {
		e.errorf("PageInfo.Count is exact when CountEstimated is false, and an estimate is more than MaxExactCount", "%d matches: Count %d (estimated %v)",
			n, p.PageInfo.Count, p.PageInfo.CountEstimated)
	}
	if len(p.Items) != 5 || !p.PageInfo.HasNextPage || p.PageInfo.HasPreviousPage {
		e.errorf("past MaxExactCount matches, pages are what they are below it", "first page: %d items, HasNextPage %v, HasPreviousPage %v; want 5, true, false",
			len(p.Items), p.PageInfo.HasNextPage, p.PageInfo.HasPreviousPage)
	}
	exact := e.listEvents(shipevents.EventFilter{Types: []string{shipevents.TypeOrderCreated}, Carrier: "rare"})
	if exact.PageInfo.Count != 1 || exact.PageInfo.CountEstimated || len(exact.Items) != 1 || exact.Items[0].Event.ID != recs[0].Event.ID {
		e.errorf("PageInfo.Count is exact up to MaxExactCount, with CountEstimated false", "a filter matching the oldest event only: Count %d, estimated %v, %d items",
			exact.PageInfo.Count, exact.PageInfo.CountEstimated, len(exact.Items))
	}
}
