package storetest

import (
	"errors"
	"time"

	"github.com/shipevents/shipevents"
)

// adderCases check DeliveryAdder, an optional capability, when the
// store has it.
var adderCases = []testCase{
	{"AddDeliveries", withSource("DeliveryAdder.AddDeliveries (optional): creates the stored event's deliveries that do not exist, pending, returns how many, ignores existing ids, and fails with ErrNotFound for an unknown event or an id stored under another tenant only"), testAddDeliveries},
}

func testAddDeliveries(e *env) {
	adder, ok := e.s.(shipevents.DeliveryAdder)
	if !ok {
		e.Logf("the store does not implement shipevents.DeliveryAdder; this optional rule does not apply")
		return
	}
	ev, ids := e.seed(base)
	first, second := nd(ev, newID("sub"), at(time.Second)), nd(ev, newID("sub"), at(2*time.Second))
	e.evOf[first.ID], e.evOf[second.ID] = ev.Key(), ev.Key()
	// The existing delivery is passed again: it must be left alone.
	existing := shipevents.NewDelivery{ID: ids[0], SubscriptionID: "someone-else", NextAttemptAt: at(time.Hour)}
	n, err := adder.AddDeliveries(e.ctx, ev.Key(), []shipevents.NewDelivery{first, existing, second})
	e.noErr(err, "AddDeliveries for a stored event")
	if n != 2 {
		e.errorf("AddDeliveries returns how many deliveries it created", "got %d, want 2", n)
	}
	if n, err := adder.AddDeliveries(e.ctx, ev.Key(), []shipevents.NewDelivery{first, second}); err != nil || n != 0 {
		e.errorf("AddDeliveries is idempotent: existing ids are left as they are", "adding again = %d, %v; want 0, nil", n, err)
	}
	if d := e.delivery(ids[0]); !d.NextAttemptAt.Equal(base) || d.SubscriptionID == "someone-else" {
		e.errorf("AddDeliveries leaves an existing delivery as it is", "delivery %s became %+v", ids[0], d)
	}
	for _, x := range []shipevents.NewDelivery{first, second} {
		d := e.delivery(x.ID)
		e.checkState("AddDeliveries creates deliveries pending with no attempts", d, shipevents.DeliveryPending, 0)
		if d.SubscriptionID != x.SubscriptionID || d.EventKey() != ev.Key() || !d.NextAttemptAt.Equal(x.NextAttemptAt) {
			e.errorf("AddDeliveries creates each delivery as given", "got %+v, want %+v of event %s", d, x, ev.ID)
		}
	}
	if got := e.getEvent(ev.Key()).PendingDeliveries; got != 3 {
		e.errorf("added deliveries count as the event's pending deliveries", "PendingDeliveries = %d, want 3", got)
	}
	e.claimOne(base, ids[0], "the seeded delivery is due first")
	c := e.claimOne(at(time.Second), first.ID, "an added delivery is claimed at its NextAttemptAt")
	e.sameEvent("an added delivery's claim carries its event", c.Event, ev)

	for _, k := range []shipevents.EventKey{
		e.key("no-such-event"),
		{TenantID: "other-" + e.tenant, ID: ev.ID}, // the id, under a tenant that has no such event
		{ID: ev.ID}, // the id, without a tenant
	} {
		missing := shipevents.NewDelivery{ID: shipevents.DeliveryID(k, "s"), SubscriptionID: "s", NextAttemptAt: base}
		if n, err := adder.AddDeliveries(e.ctx, k, []shipevents.NewDelivery{missing}); !errors.Is(err, shipevents.ErrNotFound) || n != 0 {
			e.errorf("AddDeliveries for an event not stored under that tenant fails with ErrNotFound and creates nothing", "AddDeliveries(%s) = %d, %v", k, n, err)
		}
		if p := e.listDeliveries(shipevents.DeliveryFilter{TenantID: k.TenantID, EventID: k.ID}); len(p.Items) != 0 {
			e.errorf("AddDeliveries for an event not stored under that tenant creates nothing", "listed %d deliveries of %s", len(p.Items), k)
		}
	}
	if got := e.getEvent(ev.Key()).PendingDeliveries; got != 3 {
		e.errorf("AddDeliveries under another tenant leaves the event alone", "PendingDeliveries = %d, want 3", got)
	}
}
