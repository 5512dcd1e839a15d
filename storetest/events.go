package storetest

import (
	"errors"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shipevents/shipevents"
)

// appendCases check AppendEvents: outcomes, idempotency, the outbox.
var appendCases = []testCase{
	{"AppendNew", withSource("EventStore.AppendEvents: the first append of an event id stores it with its deliveries and reports AppendNew"), testAppendNew},
	{"AppendDuplicate", withSource("EventStore.AppendEvents: a record whose event id is already stored writes nothing and reports AppendDuplicate"), testAppendDuplicate},
	{"AppendDuplicateInBatch", withSource("EventStore.AppendEvents: records are stored in order, so a repeated id later in the same call is a duplicate"), testAppendDuplicateInBatch},
	{"AppendTenantIdentity", withSource("Store: an event's identity is its key, (TenantID, ID): the same id under two tenants, or with and without a tenant, is two events, each with its own deliveries, read, listed and claimed by the pair; within one tenant the id stays idempotent"), testAppendTenantIdentity},
	{"AppendConcurrentDuplicates", withSource("EventStore.AppendEvents: idempotency holds when the same event is appended concurrently"), testAppendConcurrentDuplicates},
	{"AppendBatchResults", withSource("EventStore.AppendEvents: the results are in the order of records"), testAppendBatchResults},
	{"Outbox", withSource("EventStore.AppendEvents: an event is stored together with its deliveries (the outbox rule)"), testOutbox},
	{"SeqIncreases", withSource("StoredEvent.Seq is the store's append order, increasing"), testSeqIncreases},
	{"EventRoundTrip", withSource("EventStore: a stored event reads back exactly as appended"), testEventRoundTrip},
}

func testAppendNew(e *env) {
	ev := e.shipmentEvent(shipevents.StatusInTransit, newID("trk"), at(time.Hour))
	d := nd(ev, newID("sub"), at(0))
	r := e.appendOne(ev, d)
	if r.TenantID != ev.TenantID || r.EventID != ev.ID {
		e.errorf("AppendResult.TenantID and EventID are the record's event key", "got %q/%q, want %s", r.TenantID, r.EventID, ev.Key())
	}
	if r.Outcome != shipevents.AppendNew {
		e.errorf("the first append of an event id reports AppendNew", "got %v, want new", r.Outcome)
	}
	if r.Deliveries != 1 {
		e.errorf("AppendResult.Deliveries counts the deliveries created", "got %d, want 1", r.Deliveries)
	}
	got := e.getEvent(ev.Key())
	if got.Late {
		e.errorf("an event that supersedes its shipment's state is not marked late", "StoredEvent.Late = true")
	}
	if got.StoredAt.IsZero() {
		e.errorf("a stored event has StoredAt set", "StoredEvent.StoredAt is zero")
	}
	if got.PendingDeliveries != 1 {
		e.errorf("StoredEvent.PendingDeliveries counts the event's deliveries not yet succeeded or dead", "got %d, want 1", got.PendingDeliveries)
	}
	st := e.shipmentState(ev.Shipment())
	want := shipevents.ShipmentState{Key: ev.Shipment(), Status: ev.Status, EventName: ev.EventName, EventID: ev.ID, OccurredAt: ev.OccurredAt}
	if d := diffFields("", reflect.ValueOf(st), reflect.ValueOf(want), "UpdatedAt"); len(d) > 0 {
		e.errorf("AppendNew moves the shipment's state to the event", "ShipmentState differs:\n\t\t%s", strings.Join(d, "\n\t\t"))
	}
}

func testAppendDuplicate(e *env) {
	ev := e.shipmentEvent(shipevents.StatusInTransit, newID("trk"), at(time.Hour))
	sub1, sub2 := newID("sub"), newID("sub")
	e.appendOne(ev, nd(ev, sub1, at(0)))

	dup := ev.Clone()
	dup.Metadata = map[string]string{"changed": "yes"}
	dup.OccurredAt = at(2 * time.Hour) // would supersede, were it new
	r := e.appendOne(dup, nd(ev, sub1, at(0)), nd(ev, sub2, at(0)))
	if r.Outcome != shipevents.AppendDuplicate {
		e.errorf("a second append of an event id reports AppendDuplicate", "got %v, want duplicate", r.Outcome)
	}
	if r.TenantID != ev.TenantID || r.EventID != ev.ID {
		e.errorf("AppendResult.TenantID and EventID are the record's event key", "got %q/%q, want %s", r.TenantID, r.EventID, ev.Key())
	}
	if r.Deliveries != 0 {
		e.errorf("a duplicate append must not create deliveries", "AppendResult.Deliveries = %d, want 0", r.Deliveries)
	}
	ds := e.listDeliveries(shipevents.DeliveryFilter{TenantID: ev.TenantID, EventID: ev.ID})
	if len(ds.Items) != 1 {
		e.errorf("a duplicate append must not create deliveries", "got %d deliveries, want 1", len(ds.Items))
	}
	e.sameEvent("a duplicate append writes nothing: the stored event must stay as first appended", e.getEvent(ev.Key()).Event, ev)
	if p := e.listEvents(shipevents.EventFilter{}); p.PageInfo.Count != 1 || len(p.Items) != 1 {
		e.errorf("a duplicate append must not store a second event", "ListEvents has %d items, Count %d; want 1", len(p.Items), p.PageInfo.Count)
	}
	if st := e.shipmentState(ev.Shipment()); !st.OccurredAt.Equal(ev.OccurredAt) {
		e.errorf("a duplicate append must not move the shipment's state", "ShipmentState.OccurredAt = %s, want %s", st.OccurredAt, ev.OccurredAt)
	}
}

func testAppendDuplicateInBatch(e *env) {
	ev := e.orderEvent(base)
	sub1, sub2 := newID("sub"), newID("sub")
	res := e.appendRecords(
		shipevents.AppendRecord{Event: ev, Deliveries: []shipevents.NewDelivery{nd(ev, sub1, base)}},
		shipevents.AppendRecord{Event: ev, Deliveries: []shipevents.NewDelivery{nd(ev, sub2, base)}},
	)
	if res[0].Outcome != shipevents.AppendNew || res[1].Outcome != shipevents.AppendDuplicate {
		e.errorf("the same event id twice in one call is new, then duplicate", "got outcomes %v, %v; want new, duplicate", res[0].Outcome, res[1].Outcome)
	}
	if ds := e.listDeliveries(shipevents.DeliveryFilter{TenantID: ev.TenantID, EventID: ev.ID}); len(ds.Items) != 1 || ds.Items[0].SubscriptionID != sub1 {
		e.errorf("a duplicate append must not create deliveries", "got deliveries %v, want only the one to %s", deliveryIDs(ds.Items), sub1)
	}
}

func testAppendConcurrentDuplicates(e *env) {
	ev := e.orderEvent(base)
	sub := newID("sub")
	e.evOf[shipevents.DeliveryID(ev.Key(), sub)] = ev.Key()
	const n = 8
	outcomes := make([]shipevents.AppendOutcome, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			rec := shipevents.AppendRecord{Event: ev.Clone(), Deliveries: []shipevents.NewDelivery{nd(ev, sub, base)}}
			res, err := e.s.AppendEvents(e.ctx, []shipevents.AppendRecord{rec})
			errs[i] = err
			if err == nil && len(res) == 1 {
				outcomes[i] = res[0].Outcome
			}
		})
	}
	wg.Wait()
	e.noErr(errors.Join(errs...), "AppendEvents (concurrent)")
	var news, dups int
	for _, o := range outcomes {
		switch o {
		case shipevents.AppendNew:
			news++
		case shipevents.AppendDuplicate:
			dups++
		}
	}
	if news != 1 || dups != n-1 {
		e.errorf("exactly one of concurrent appends of one event id is new, the rest duplicates", "got %d new and %d duplicate of %d", news, dups, n)
	}
	if ds := e.listDeliveries(shipevents.DeliveryFilter{TenantID: ev.TenantID, EventID: ev.ID}); len(ds.Items) != 1 {
		e.errorf("a duplicate append must not create deliveries", "got %d deliveries after %d concurrent appends, want 1", len(ds.Items), n)
	}
	if p := e.listEvents(shipevents.EventFilter{}); p.PageInfo.Count != 1 {
		e.errorf("a duplicate append must not store a second event", "ListEvents Count = %d, want 1", p.PageInfo.Count)
	}
}

func testAppendBatchResults(e *env) {
	trk := newID("trk")
	old := e.orderEvent(base)
	e.appendOne(old)
	a := e.orderEvent(at(time.Hour))
	b := e.shipmentEvent(shipevents.StatusInTransit, trk, at(time.Hour))
	c := e.shipmentEvent(shipevents.StatusDelivered, trk, at(2*time.Hour))
	d := e.shipmentEvent(shipevents.StatusInTransit, trk, at(3*time.Hour))
	s1, s2 := newID("sub"), newID("sub")
	res := e.appendRecords(
		shipevents.AppendRecord{Event: a, Deliveries: []shipevents.NewDelivery{nd(a, s1, base)}},
		shipevents.AppendRecord{Event: b, Deliveries: []shipevents.NewDelivery{nd(b, s1, base), nd(b, s2, base)}},
		shipevents.AppendRecord{Event: old, Deliveries: []shipevents.NewDelivery{nd(old, s1, base)}},
		shipevents.AppendRecord{Event: c},
		shipevents.AppendRecord{Event: d, Deliveries: []shipevents.NewDelivery{ndCurrent(d, s1, base), nd(d, s2, base)}},
	)
	want := []shipevents.AppendResult{
		{TenantID: e.tenant, EventID: a.ID, Outcome: shipevents.AppendNew, Deliveries: 1},
		{TenantID: e.tenant, EventID: b.ID, Outcome: shipevents.AppendNew, Deliveries: 2},
		{TenantID: e.tenant, EventID: old.ID, Outcome: shipevents.AppendDuplicate, Deliveries: 0},
		{TenantID: e.tenant, EventID: c.ID, Outcome: shipevents.AppendNew, Deliveries: 0},
		{TenantID: e.tenant, EventID: d.ID, Outcome: shipevents.AppendLate, Deliveries: 1},
	}
	for i := range want {
		if res[i] != want[i] {
			e.errorf("the results are in the order of records, each saying what happened to its record", "result %d = %+v, want %+v", i, res[i], want[i])
		}
	}
}

func testOutbox(e *env) {
	ev := e.orderEvent(base)
	s1, s2 := newID("sub"), newID("sub")
	want := []shipevents.NewDelivery{nd(ev, s1, at(time.Minute)), nd(ev, s2, at(2*time.Minute))}
	e.appendOne(ev, want...)
	p := e.listDeliveries(shipevents.DeliveryFilter{TenantID: ev.TenantID, EventID: ev.ID})
	if len(p.Items) != 2 || p.PageInfo.Count != 2 {
		e.fatalf("an event is stored together with its deliveries (the outbox rule)", "ListDeliveries{EventID} has %d items, Count %d; want 2", len(p.Items), p.PageInfo.Count)
	}
	for _, w := range want {
		i := slices.IndexFunc(p.Items, func(d shipevents.Delivery) bool { return d.ID == w.ID })
		if i < 0 {
			e.errorf("a delivery is stored with the id given in NewDelivery.ID", "delivery %s not listed; got %v", w.ID, deliveryIDs(p.Items))
			continue
		}
		d := p.Items[i]
		rule := "a new delivery is pending at its NextAttemptAt, for its event and subscription, with no attempts"
		if d.EventKey() != ev.Key() || d.SubscriptionID != w.SubscriptionID {
			e.errorf(rule, "delivery %s: TenantID %q, EventID %q, SubscriptionID %q; want %q, %q, %q", d.ID, d.TenantID, d.EventID, d.SubscriptionID, ev.TenantID, ev.ID, w.SubscriptionID)
		}
		if !d.NextAttemptAt.Equal(w.NextAttemptAt) {
			e.errorf(rule, "delivery %s: NextAttemptAt %s, want %s", d.ID, d.NextAttemptAt, w.NextAttemptAt)
		}
		e.checkState(rule, d, shipevents.DeliveryPending, 0)
		if d.CreatedAt.IsZero() {
			e.errorf("a stored delivery has CreatedAt set", "delivery %s: CreatedAt is zero", d.ID)
		}
		if _, err := e.s.GetEvent(e.ctx, d.EventKey()); err != nil {
			e.errorf("never a delivery without its event (the outbox rule)", "GetEvent(%s) of delivery %s: %v", d.EventKey(), d.ID, err)
		}
	}
	if got := e.getEvent(ev.Key()).PendingDeliveries; got != 2 {
		e.errorf("StoredEvent.PendingDeliveries counts the event's deliveries not yet succeeded or dead", "GetEvent: got %d, want 2", got)
	}
	if l := e.listEvents(shipevents.EventFilter{}); len(l.Items) != 1 || l.Items[0].PendingDeliveries != 2 {
		e.errorf("StoredEvent.PendingDeliveries counts the event's deliveries not yet succeeded or dead", "ListEvents: got %d items, want 1 with PendingDeliveries 2", len(l.Items))
	}
	bare := e.orderEvent(base)
	if r := e.appendOne(bare); r.Outcome != shipevents.AppendNew || r.Deliveries != 0 {
		e.errorf("an event without deliveries is stored with none", "got %+v", r)
	}
	if got := e.getEvent(bare.Key()).PendingDeliveries; got != 0 {
		e.errorf("StoredEvent.PendingDeliveries counts the event's deliveries not yet succeeded or dead", "event without deliveries: got %d, want 0", got)
	}
}

func testSeqIncreases(e *env) {
	var ids []string
	var last int64
	for i := range 5 {
		ev := e.orderEvent(at(time.Duration(5-i) * time.Hour)) // occurred_at decreasing: order is by append
		e.appendOne(ev)
		ids = append(ids, ev.ID)
		se := e.getEvent(ev.Key())
		if i > 0 && se.Seq <= last {
			e.errorf("StoredEvent.Seq is the store's append order, increasing", "event %d has Seq %d after Seq %d", i, se.Seq, last)
		}
		last = se.Seq
	}
	p := e.listEvents(shipevents.EventFilter{Limit: 10})
	if got, want := eventIDs(p.Items), reversed(ids); !slices.Equal(got, want) {
		e.errorf("ListEvents is newest first (by append order)", "got %v, want %v", got, want)
	}
	for i := 1; i < len(p.Items); i++ {
		if p.Items[i].Seq >= p.Items[i-1].Seq {
			e.errorf("ListEvents is newest first (by append order)", "item %d has Seq %d after Seq %d", i, p.Items[i].Seq, p.Items[i-1].Seq)
		}
	}
}

func testEventRoundTrip(e *env) {
	id, trk := newID("evt"), newID("trk")
	ev := e.fullEvent(id, trk)
	sub := newID("sub")
	e.appendOne(ev, nd(ev, sub, base))
	want := e.fullEvent(id, trk)
	e.sameEvent("GetEvent returns the event exactly as appended", e.getEvent(e.key(id)).Event, want)
	p := e.listEvents(shipevents.EventFilter{})
	if len(p.Items) != 1 {
		e.fatalf("ListEvents lists every stored event", "got %d items, want 1", len(p.Items))
	}
	e.sameEvent("ListEvents returns the event exactly as appended", p.Items[0].Event, want)
	cl := e.claim(base, 10)
	if len(cl) != 1 {
		e.fatalf("ClaimDeliveries leases due pending deliveries", "got %d claims, want 1", len(cl))
	}
	e.sameEvent("ClaimDeliveries returns each delivery's event exactly as appended", cl[0].Event, want)
}

func testAppendTenantIdentity(e *env) {
	id, trk := newID("evt"), newID("trk")
	own, shared := newID("sub"), newID("sub")
	// One scan as three tenants publish it: the case's tenant, another
	// one, and none. Metadata tells the copies apart when read back.
	copies := make([]shipevents.Event, 3)
	for i, tenant := range []string{e.tenant, "other-" + e.tenant, ""} {
		ev := e.shipmentEvent(shipevents.StatusInTransit, trk, at(time.Hour))
		ev.ID, ev.TenantID = id, tenant
		ev.Metadata = map[string]string{"copy": strconv.Itoa(i)}
		copies[i] = ev
	}
	a, b, c := copies[0], copies[1], copies[2]
	recs := []shipevents.AppendRecord{
		{Event: a, Deliveries: []shipevents.NewDelivery{nd(a, own, base), nd(a, shared, base)}},
		{Event: b, Deliveries: []shipevents.NewDelivery{nd(b, shared, base)}},
		{Event: c, Deliveries: []shipevents.NewDelivery{nd(c, shared, base)}},
	}
	pending := map[shipevents.EventKey]int{a.Key(): 2, b.Key(): 1, c.Key(): 1}
	res := e.appendRecords(recs...)
	for i, r := range res {
		k := recs[i].Event.Key()
		if r.Outcome != shipevents.AppendNew || r.Deliveries != pending[k] || r.TenantID != k.TenantID || r.EventID != k.ID {
			e.errorf("the same id under another tenant (or none) is another event, stored with its own deliveries", "record %d (%s): %+v, want new with %d deliveries", i, k, r, pending[k])
		}
	}

	// Within each tenant the id stays idempotent, in a later call and
	// twice in one call.
	again := e.appendRecords(
		shipevents.AppendRecord{Event: b, Deliveries: []shipevents.NewDelivery{nd(b, own, base)}},
		shipevents.AppendRecord{Event: a, Deliveries: []shipevents.NewDelivery{nd(a, newID("sub"), base)}},
		shipevents.AppendRecord{Event: c},
		shipevents.AppendRecord{Event: b},
	)
	for i, r := range again {
		if r.Outcome != shipevents.AppendDuplicate || r.Deliveries != 0 {
			e.errorf("within one tenant an event id stays idempotent: the key already stored is a duplicate", "record %d again: %+v, want duplicate with no deliveries", i, r)
		}
	}
	if p := e.listEvents(shipevents.EventFilter{}); p.PageInfo.Count != 3 {
		e.errorf("one stored event per key", "ListEvents Count = %d, want 3", p.PageInfo.Count)
	}

	for _, ev := range copies {
		k := ev.Key()
		se := e.getEvent(k)
		e.sameEvent("GetEvent returns the event stored under the key, not another tenant's event with the same id", se.Event, ev)
		if se.PendingDeliveries != pending[k] {
			e.errorf("StoredEvent.PendingDeliveries counts the deliveries of the event with that key", "event %s: %d, want %d", k, se.PendingDeliveries, pending[k])
		}
		ds := e.listDeliveries(shipevents.DeliveryFilter{TenantID: k.TenantID, EventID: k.ID})
		if len(ds.Items) != pending[k] || ds.PageInfo.Count != pending[k] {
			e.errorf("DeliveryFilter: TenantID and EventID together name one event", "ListDeliveries of %s: %v, want %d deliveries", k, deliveryIDs(ds.Items), pending[k])
		}
		for _, d := range ds.Items {
			if d.EventKey() != k || d.ID != shipevents.DeliveryID(k, d.SubscriptionID) {
				e.errorf("a delivery names its event by tenant and id", "delivery %s listed for %s names %s", d.ID, k, d.EventKey())
			}
		}
		st := e.shipmentState(ev.Shipment())
		if st.EventID != id || st.Key.TenantID != k.TenantID {
			e.errorf("ShipmentState is kept per shipment key, tenant included", "ShipmentState(%s) = %+v", ev.Shipment(), st)
		}
	}
	if _, err := e.s.GetEvent(e.ctx, shipevents.EventKey{TenantID: "third-" + e.tenant, ID: id}); !errors.Is(err, shipevents.ErrNotFound) {
		e.errorf("GetEvent of an id stored under other tenants only is an error wrapping ErrNotFound", "got %v", err)
	}
	if got := deliveryIDs(e.listDeliveries(shipevents.DeliveryFilter{TenantID: b.TenantID}).Items); !sameSet(got, []string{recs[1].Deliveries[0].ID}) {
		e.errorf("DeliveryFilter: TenantID alone selects the deliveries of that tenant's events", "got %v, want %s", got, recs[1].Deliveries[0].ID)
	}
	if got := deliveryIDs(e.listDeliveries(shipevents.DeliveryFilter{EventID: id}).Items); !sameSet(got, []string{recs[2].Deliveries[0].ID}) {
		e.errorf("DeliveryFilter: EventID without TenantID names the event without a tenant", "got %v, want %s", got, recs[2].Deliveries[0].ID)
	}

	// Each claim carries the copy its delivery names.
	byKey := map[shipevents.EventKey]shipevents.Event{a.Key(): a, b.Key(): b, c.Key(): c}
	cl := e.claim(base, 10)
	if len(cl) != 4 {
		e.fatalf("ClaimDeliveries leases due pending deliveries", "got %d claims, want 4", len(cl))
	}
	var ownClaim shipevents.Claim
	for _, x := range cl {
		k := x.Delivery.EventKey()
		want, ok := byKey[k]
		if !ok {
			e.errorf("a claimed delivery names its event by tenant and id", "delivery %s names %s", x.Delivery.ID, k)
			continue
		}
		e.sameEvent("ClaimDeliveries returns the event the delivery's TenantID and EventID name", x.Event, want)
		if x.Delivery.SubscriptionID == own {
			ownClaim = x
		}
	}
	errs := e.record(succeed(ownClaim))
	e.noErr(errs[0], "RecordAttempts with a held lease")
	for k, want := range map[shipevents.EventKey]int{a.Key(): 1, b.Key(): 1, c.Key(): 1} {
		if got := e.getEvent(k).PendingDeliveries; got != want {
			e.errorf("a delivery's outcome counts against its own event only", "event %s: PendingDeliveries %d, want %d", k, got, want)
		}
	}
}
