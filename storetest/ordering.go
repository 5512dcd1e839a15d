package storetest

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/shipevents/shipevents"
)

// orderingCases check the ordering rule and the shipment state it keeps.
var orderingCases = []testCase{
	{"LateAfterTerminal", withSource("EventStore.AppendEvents: a terminal status is never replaced by a non-terminal one; such an event is AppendLate"), testLateAfterTerminal},
	{"LateEarlierOccurredAt", withSource("EventStore.AppendEvents: an event with an earlier occurred_at does not supersede the shipment's state and is AppendLate"), testLateEarlier},
	{"SameInstant", withSource("EventStore.AppendEvents: at the same instant a terminal status wins, and the same kind of status keeps the current one (Supersedes)"), testSameInstant},
	{"OnlyIfCurrentDropped", withSource("EventStore.AppendEvents: deliveries with OnlyIfCurrent are not created for a late event; the others are"), testOnlyIfCurrentDropped},
	{"NoShipmentKeyAlwaysNew", withSource("EventStore.AppendEvents: events without a shipment key are always AppendNew"), testNoShipmentKeyAlwaysNew},
	{"ShipmentKeyIsTenantCarrierTracking", withSource("ShipmentKey: tenant, carrier and tracking number together name a shipment; the ordering rule applies per shipment"), testShipmentKey},
	{"OrderingAgreesWithUpdateShipment", withSource("EventStore.AppendEvents: outcomes, late marks and shipment states are those UpdateShipment gives, record by record, within one call and across calls"), testOrderingAgreesWithUpdateShipment},
	{"ShipmentStateNotFound", withSource("ShipmentStore.ShipmentState: an unknown shipment is an error wrapping ErrNotFound"), testShipmentStateNotFound},
}

func testLateAfterTerminal(e *env) {
	trk := newID("trk")
	t1 := e.shipmentEvent(shipevents.StatusInTransit, trk, at(time.Hour))
	t2 := e.shipmentEvent(shipevents.StatusDelivered, trk, at(2*time.Hour))
	t3 := e.shipmentEvent(shipevents.StatusInTransit, trk, at(3*time.Hour))
	if r := e.appendOne(t1); r.Outcome != shipevents.AppendNew {
		e.errorf("the first event of a shipment is AppendNew", "IN_TRANSIT at t1: got %v, want new", r.Outcome)
	}
	if r := e.appendOne(t2); r.Outcome != shipevents.AppendNew {
		e.errorf("a later event supersedes the shipment's state (AppendNew)", "DELIVERED at t2 > t1: got %v, want new", r.Outcome)
	}
	if r := e.appendOne(t3); r.Outcome != shipevents.AppendLate {
		e.errorf("a terminal status is never replaced by a non-terminal one (AppendLate)", "IN_TRANSIT at t3 > t2 after DELIVERED: got %v, want late", r.Outcome)
	}
	st := e.shipmentState(t1.Shipment())
	if st.Status != shipevents.StatusDelivered || st.EventID != t2.ID || !st.OccurredAt.Equal(t2.OccurredAt) || st.EventName != t2.EventName {
		e.errorf("a late event does not move the shipment's state", "ShipmentState = %s %s (event %s at %s), want DELIVERED %s (event %s at %s)",
			st.Status, st.EventName, st.EventID, st.OccurredAt, t2.EventName, t2.ID, t2.OccurredAt)
	}
	if st.Key != t1.Shipment() {
		e.errorf("ShipmentState.Key is the shipment's key", "got %+v, want %+v", st.Key, t1.Shipment())
	}
	for _, c := range []struct {
		ev   shipevents.Event
		late bool
	}{{t1, false}, {t2, false}, {t3, true}} {
		if got := e.getEvent(c.ev.Key()).Late; got != c.late {
			e.errorf("StoredEvent.Late marks exactly the events that did not supersede their shipment's state", "event %s (%s): Late = %v, want %v", c.ev.ID, c.ev.Status, got, c.late)
		}
	}
	p := e.listEvents(shipevents.EventFilter{Limit: 10})
	if len(p.Items) != 3 {
		e.fatalf("a late event is stored", "ListEvents has %d items, want 3", len(p.Items))
	}
	if !p.Items[0].Late || p.Items[1].Late || p.Items[2].Late {
		e.errorf("StoredEvent.Late marks exactly the events that did not supersede their shipment's state", "ListEvents Late flags = %v, %v, %v; want true, false, false", p.Items[0].Late, p.Items[1].Late, p.Items[2].Late)
	}
}

func testLateEarlier(e *env) {
	trk := newID("trk")
	cur := e.shipmentEvent(shipevents.StatusOutForDelivery, trk, at(2*time.Hour))
	early := e.shipmentEvent(shipevents.StatusInTransit, trk, at(time.Hour))
	e.appendOne(cur)
	if r := e.appendOne(early); r.Outcome != shipevents.AppendLate {
		e.errorf("an event with an earlier occurred_at than the shipment's state is AppendLate", "IN_TRANSIT at t1 after OUT_FOR_DELIVERY at t2 > t1: got %v, want late", r.Outcome)
	}
	if st := e.shipmentState(cur.Shipment()); st.EventID != cur.ID || st.Status != shipevents.StatusOutForDelivery {
		e.errorf("a late event does not move the shipment's state", "ShipmentState = %s (event %s), want OUT_FOR_DELIVERY (event %s)", st.Status, st.EventID, cur.ID)
	}
	later := e.shipmentEvent(shipevents.StatusFailedDelivery, trk, at(3*time.Hour))
	if r := e.appendOne(later); r.Outcome != shipevents.AppendNew {
		e.errorf("an event with a later occurred_at supersedes a non-terminal state (AppendNew)", "FAILED_DELIVERY at t3 after OUT_FOR_DELIVERY at t2: got %v, want new", r.Outcome)
	}
	if st := e.shipmentState(cur.Shipment()); st.EventID != later.ID {
		e.errorf("AppendNew moves the shipment's state to the event", "ShipmentState.EventID = %s, want %s", st.EventID, later.ID)
	}
}

func testSameInstant(e *env) {
	trk := newID("trk")
	first := e.shipmentEvent(shipevents.StatusInTransit, trk, at(time.Hour))
	replay := e.shipmentEvent(shipevents.StatusInTransit, trk, at(time.Hour))
	e.appendOne(first)
	if r := e.appendOne(replay); r.Outcome != shipevents.AppendLate {
		e.errorf("at the same instant, a status of the same kind keeps the current one (AppendLate)", "second IN_TRANSIT at the same occurred_at: got %v, want late", r.Outcome)
	}
	term := e.shipmentEvent(shipevents.StatusDelivered, trk, at(time.Hour))
	if r := e.appendOne(term); r.Outcome != shipevents.AppendNew {
		e.errorf("at the same instant, a terminal status wins over a non-terminal one (AppendNew)", "DELIVERED at the same occurred_at as IN_TRANSIT: got %v, want new", r.Outcome)
	}
	term2 := e.shipmentEvent(shipevents.StatusReturned, trk, at(time.Hour))
	if r := e.appendOne(term2); r.Outcome != shipevents.AppendLate {
		e.errorf("at the same instant, a status of the same kind keeps the current one (AppendLate)", "RETURNED at the same occurred_at as DELIVERED: got %v, want late", r.Outcome)
	}
	if st := e.shipmentState(first.Shipment()); st.EventID != term.ID {
		e.errorf("the shipment's state is the last event that superseded it", "ShipmentState.EventID = %s (%s), want %s (DELIVERED)", st.EventID, st.Status, term.ID)
	}
}

func testOnlyIfCurrentDropped(e *env) {
	trk := newID("trk")
	s1, s2 := newID("sub"), newID("sub")
	cur := e.shipmentEvent(shipevents.StatusDelivered, trk, at(2*time.Hour))
	if r := e.appendOne(cur, ndCurrent(cur, s1, base), nd(cur, s2, base)); r.Outcome != shipevents.AppendNew || r.Deliveries != 2 {
		e.errorf("deliveries with OnlyIfCurrent are created for an event that supersedes the state", "got %v with %d deliveries, want new with 2", r.Outcome, r.Deliveries)
	}
	late := e.shipmentEvent(shipevents.StatusInTransit, trk, at(3*time.Hour))
	r := e.appendOne(late, ndCurrent(late, s1, base), nd(late, s2, base))
	if r.Outcome != shipevents.AppendLate {
		e.errorf("a terminal status is never replaced by a non-terminal one (AppendLate)", "got %v, want late", r.Outcome)
	}
	if r.Deliveries != 1 {
		e.errorf("for a late event, deliveries with OnlyIfCurrent are dropped and the others created", "AppendResult.Deliveries = %d, want 1", r.Deliveries)
	}
	p := e.listDeliveries(shipevents.DeliveryFilter{TenantID: late.TenantID, EventID: late.ID})
	if got, want := deliveryIDs(p.Items), []string{shipevents.DeliveryID(late.Key(), s2)}; !slices.Equal(got, want) {
		e.errorf("for a late event, deliveries with OnlyIfCurrent are dropped and the others created", "deliveries of the late event = %v, want %v (the one without OnlyIfCurrent)", got, want)
	}
	if got := e.getEvent(late.Key()).PendingDeliveries; got != 1 {
		e.errorf("StoredEvent.PendingDeliveries counts the event's deliveries not yet succeeded or dead", "late event: got %d, want 1", got)
	}
	if cl := e.claim(base, 10); len(cl) != 3 {
		e.errorf("a dropped OnlyIfCurrent delivery is never claimed", "claimed %d deliveries, want 3 (2 of the current event, 1 of the late one)", len(cl))
	}
}

func testNoShipmentKeyAlwaysNew(e *env) {
	for i, d := range []time.Duration{3 * time.Hour, time.Hour, 2 * time.Hour} {
		ev := e.orderEvent(at(d))
		if r := e.appendOne(ev, ndCurrent(ev, newID("sub"), base)); r.Outcome != shipevents.AppendNew || r.Deliveries != 1 {
			e.errorf("events without a shipment key are always AppendNew", "order event %d (occurred_at falling): got %v with %d deliveries, want new with 1", i, r.Outcome, r.Deliveries)
		}
	}
	// Shipment events without a tracking number have no shipment key either.
	del := e.shipmentEvent(shipevents.StatusDelivered, "", at(2*time.Hour))
	it := e.shipmentEvent(shipevents.StatusInTransit, "", at(time.Hour))
	e.appendOne(del)
	if r := e.appendOne(it); r.Outcome != shipevents.AppendNew {
		e.errorf("events without a shipment key (no tracking number) are always AppendNew", "IN_TRANSIT without tracking number after DELIVERED without one: got %v, want new", r.Outcome)
	}
	for _, se := range e.listEvents(shipevents.EventFilter{}).Items {
		if se.Late {
			e.errorf("events without a shipment key are never late", "event %s is marked late", se.Event.ID)
		}
	}
}

func testShipmentKey(e *env) {
	trk := newID("trk")
	ups := e.shipmentEvent(shipevents.StatusDelivered, trk, at(2*time.Hour))
	fedex := e.shipmentEvent(shipevents.StatusInTransit, trk, at(time.Hour))
	fedex.Carrier = "fedex"
	other := e.shipmentEvent(shipevents.StatusInTransit, trk, at(time.Hour))
	other.TenantID = "other-" + e.tenant
	e.appendOne(ups)
	if r := e.appendOne(fedex); r.Outcome != shipevents.AppendNew {
		e.errorf("the shipment key includes the carrier: a recycled tracking number of another carrier is another shipment", "got %v, want new", r.Outcome)
	}
	if r := e.appendOne(other); r.Outcome != shipevents.AppendNew {
		e.errorf("the shipment key includes the tenant: another tenant's tracking number is another shipment", "got %v, want new", r.Outcome)
	}
	for _, ev := range []shipevents.Event{ups, fedex, other} {
		if st := e.shipmentState(ev.Shipment()); st.EventID != ev.ID || st.Key != ev.Shipment() {
			e.errorf("ShipmentState is kept per shipment key", "ShipmentState(%s) = event %s key %+v, want event %s", ev.Shipment(), st.EventID, st.Key, ev.ID)
		}
	}
}

func testShipmentStateNotFound(e *env) {
	e.appendOne(e.orderEvent(base))
	_, err := e.s.ShipmentState(e.ctx, shipevents.ShipmentKey{TenantID: e.tenant, Carrier: carrier, TrackingNumber: newID("trk")})
	if !errors.Is(err, shipevents.ErrNotFound) {
		e.errorf("ShipmentState of an unknown shipment is an error wrapping ErrNotFound", "got %v", err)
	}
}

// testOrderingAgreesWithUpdateShipment appends a shuffled history of a few
// shipments (ties in occurred_at, terminal statuses, events without a
// status, repeated ids), first one record per call and then in batches,
// and checks every outcome and the final states against UpdateShipment
// applied to a model of the states.
func testOrderingAgreesWithUpdateShipment(e *env) {
	rng := rand.New(rand.NewPCG(1, 2)) // the same history on every run
	statuses := []shipevents.Status{shipevents.StatusPickedUp, shipevents.StatusInTransit, shipevents.StatusOnHold,
		shipevents.StatusOutForDelivery, shipevents.StatusFailedDelivery, shipevents.StatusDelivered,
		shipevents.StatusReturned, shipevents.StatusCancelled}
	tracking := []string{newID("trk"), newID("trk"), newID("trk")}
	var events []shipevents.Event
	for i := range 60 {
		occurred := at(time.Duration(rng.IntN(8)) * time.Hour) // few instants: many ties
		trk := tracking[rng.IntN(len(tracking))]
		var ev shipevents.Event
		switch {
		case i > 0 && rng.IntN(10) == 0: // a carrier re-sending an event
			ev = events[rng.IntN(len(events))]
		case rng.IntN(10) == 0: // about the shipment, but no status
			ev = e.orderEvent(occurred)
			ev.Carrier, ev.TrackingNumber = carrier, trk
		default:
			ev = e.shipmentEvent(statuses[rng.IntN(len(statuses))], trk, occurred)
		}
		events = append(events, ev)
	}

	type known struct {
		state  shipevents.ShipmentState
		exists bool
	}
	model := map[shipevents.ShipmentKey]known{}
	seen := map[string]bool{}
	late := map[string]bool{}
	want := func(ev *shipevents.Event) shipevents.AppendOutcome {
		if seen[ev.ID] {
			return shipevents.AppendDuplicate
		}
		seen[ev.ID] = true
		key, ok := ev.StatusKey()
		if !ok {
			return shipevents.AppendNew
		}
		k := model[key]
		u := shipevents.UpdateShipment(k.state, k.exists, ev, time.Time{})
		if u.Changed {
			model[key] = known{u.State, true}
		}
		late[ev.ID] = u.Late
		return u.Outcome()
	}
	check := func(ev *shipevents.Event, got shipevents.AppendOutcome, how string) {
		e.Helper()
		if w := want(ev); got != w {
			e.errorf("AppendEvents gives the outcome UpdateShipment gives", "%s: event %s (%s at %s) got %v, want %v",
				how, ev.ID, ev.Status, ev.OccurredAt.Sub(base), got, w)
		}
	}
	half := len(events) / 2
	for i := range events[:half] {
		check(&events[i], e.appendOne(events[i]).Outcome, "one record per call")
	}
	for start := half; start < len(events); start += 7 {
		batch := events[start:min(start+7, len(events))]
		recs := make([]shipevents.AppendRecord, len(batch))
		for i := range batch {
			recs[i] = shipevents.AppendRecord{Event: batch[i]}
		}
		for i, r := range e.appendRecords(recs...) {
			check(&batch[i], r.Outcome, "in a batch")
		}
	}
	for id, l := range late {
		if got := e.getEvent(e.key(id)).Late; got != l {
			e.errorf("StoredEvent.Late marks the events UpdateShipment finds late", "event %s: Late = %v, want %v", id, got, l)
		}
	}
	for key, k := range model {
		got := e.shipmentState(key)
		if d := diffFields("", reflect.ValueOf(got), reflect.ValueOf(k.state), "UpdatedAt"); len(d) > 0 {
			e.errorf("the shipment's state is the one UpdateShipment gives", "%s:\n\t\t%s", key, strings.Join(d, "\n\t\t"))
		}
	}
}
