package storetest

import (
	"context"
	"errors"
	"time"

	"github.com/shipevents/shipevents"
)

// storeCases check the rules of the whole Store: no aliasing and
// context cancellation.
var storeCases = []testCase{
	{"NoAliasingEvents", withSource("Store: events passed in are not retained and events returned do not alias the store's state"), testNoAliasingEvents},
	{"NoAliasingSubscriptions", withSource("Store: subscriptions passed in are not retained and subscriptions returned do not alias the store's state"), testNoAliasingSubscriptions},
	{"NoAliasingDeliveries", withSource("Store: deliveries and attempts returned do not alias the store's state"), testNoAliasingDeliveries},
	{"CancelledContext", withSource("Store: every method honours ctx cancellation"), testCancelledContext},
}

// mutateEvent changes every map, slice and pointer target of ev in place.
func mutateEvent(ev *shipevents.Event) {
	if ev.Metadata != nil {
		ev.Metadata["order"] = "mutated"
		ev.Metadata["added"] = "mutated"
	}
	if ev.Context != nil {
		ev.Context["source_ip"] = "mutated"
		if m, ok := ev.Context["nested"].(map[string]any); ok {
			m["k"] = "mutated"
			if l, ok := m["list"].([]any); ok && len(l) > 0 {
				l[0] = "mutated"
			}
		}
	}
	if ev.Data.Extra != nil {
		ev.Data.Extra["fragile"] = "mutated"
		if l, ok := ev.Data.Extra["tags"].([]any); ok && len(l) > 0 {
			l[0] = "mutated"
		}
		if m, ok := ev.Data.Extra["dims"].(map[string]any); ok {
			m["unit"] = "mutated"
		}
	}
	if ev.CarrierStatus != nil {
		ev.CarrierStatus.Code = "mutated"
	}
	if ev.Data.Location != nil {
		ev.Data.Location.City = "mutated"
	}
	if ev.Data.EstimatedDelivery != nil {
		*ev.Data.EstimatedDelivery = ev.Data.EstimatedDelivery.Add(time.Hour)
	}
}

func testNoAliasingEvents(e *env) {
	id, trk := newID("evt"), newID("trk")
	ev := e.fullEvent(id, trk)
	rec := []shipevents.AppendRecord{{Event: ev, Deliveries: []shipevents.NewDelivery{nd(ev, newID("sub"), base)}}}
	e.evOf[rec[0].Deliveries[0].ID] = e.key(id)
	_, err := e.s.AppendEvents(e.ctx, rec)
	e.noErr(err, "AppendEvents")
	want := e.fullEvent(id, trk)

	mutateEvent(&ev)
	mutateEvent(&rec[0].Event)
	rec[0].Deliveries[0].SubscriptionID = "mutated"
	e.sameEvent("values passed in belong to the caller and must not be retained (the appended event was changed after AppendEvents)", e.getEvent(e.key(id)).Event, want)

	got := e.getEvent(e.key(id))
	mutateEvent(&got.Event)
	e.sameEvent("values returned must not alias the store's state (the event GetEvent returned was changed)", e.getEvent(e.key(id)).Event, want)

	p := e.listEvents(shipevents.EventFilter{})
	for i := range p.Items {
		mutateEvent(&p.Items[i].Event)
	}
	e.sameEvent("values returned must not alias the store's state (the events ListEvents returned were changed)", e.getEvent(e.key(id)).Event, want)

	cl := e.claim(base, 10)
	if len(cl) != 1 {
		e.fatalf("ClaimDeliveries leases due pending deliveries", "claimed %d, want 1", len(cl))
	}
	if cl[0].Delivery.SubscriptionID == "mutated" {
		e.errorf("values passed in belong to the caller and must not be retained", "the delivery's SubscriptionID changed with the caller's NewDelivery")
	}
	mutateEvent(&cl[0].Event)
	e.sameEvent("values returned must not alias the store's state (the event ClaimDeliveries returned was changed)", e.getEvent(e.key(id)).Event, want)
}

// mutateSubscription changes every map, slice and pointer target of s.
func mutateSubscription(s *shipevents.Subscription) {
	if len(s.EnabledEvents) > 0 {
		s.EnabledEvents[0] = "mutated"
	}
	if len(s.EventGroups) > 0 {
		s.EventGroups[0] = "mutated"
	}
	if len(s.Types) > 0 {
		s.Types[0] = "mutated"
	}
	if len(s.Conditions) > 0 {
		s.Conditions[0].Field = "mutated"
		if len(s.Conditions[0].Values) > 0 {
			s.Conditions[0].Values[0] = "mutated"
		}
	}
	if s.Headers != nil {
		s.Headers["X-Api-Key"] = "mutated"
	}
	if len(s.Secrets) > 0 {
		s.Secrets[0] = "mutated"
	}
	if s.OAuth2 != nil {
		s.OAuth2.ClientSecret = "mutated"
		if len(s.OAuth2.Scopes) > 0 {
			s.OAuth2.Scopes[0] = "mutated"
		}
		if s.OAuth2.Params != nil {
			s.OAuth2.Params["audience"] = "mutated"
		}
	}
	if s.Retry != nil {
		s.Retry.MaxAttempts = 99
		if len(s.Retry.Schedule) > 0 {
			s.Retry.Schedule[0] = time.Hour
		}
	}
}

func testNoAliasingSubscriptions(e *env) {
	id := newID("sub")
	s := subscription(id)
	e.noErr(e.s.PutSubscription(e.ctx, s), "PutSubscription")
	mutateSubscription(&s)
	subs := e.listSubs()
	if len(subs) != 1 {
		e.fatalf("ListSubscriptions returns every subscription", "got %d, want 1", len(subs))
	}
	e.sameSub("values passed in belong to the caller and must not be retained (the subscription was changed after PutSubscription)", subs[0], subscription(id))
	mutateSubscription(&subs[0])
	subs = e.listSubs()
	if len(subs) != 1 {
		e.fatalf("ListSubscriptions returns every subscription", "got %d, want 1", len(subs))
	}
	e.sameSub("values returned must not alias the store's state (the subscription ListSubscriptions returned was changed)", subs[0], subscription(id))
}

func testNoAliasingDeliveries(e *env) {
	ev, ids := e.seed(base)
	c := e.claimOne(base, ids[0], "ClaimDeliveries leases a due pending delivery")
	rec := attemptRecord(c, shipevents.OutcomeRetry, at(time.Minute), 500, "500 Internal Server Error")
	e.noErr(errors.Join(e.record(rec)...), "RecordAttempts with a held lease")

	p := e.listDeliveries(shipevents.DeliveryFilter{TenantID: ev.TenantID, EventID: ev.ID})
	want := p.Items[0]
	p.Items[0].State = "mutated"
	p.Items[0].LastError = "mutated"
	if got := e.listDeliveries(shipevents.DeliveryFilter{TenantID: ev.TenantID, EventID: ev.ID}).Items[0]; got.State != want.State || got.LastError != want.LastError {
		e.errorf("values returned must not alias the store's state (the deliveries ListDeliveries returned were changed)", "State %q LastError %q, want %q %q", got.State, got.LastError, want.State, want.LastError)
	}
	as := e.attempts(ids[0])
	as[0].Error = "mutated"
	as[0].Response = "mutated"
	if got := e.attempts(ids[0]); len(got) != 1 || got[0].Error != rec.Attempt.Error || got[0].Response != rec.Attempt.Response {
		e.errorf("values returned must not alias the store's state (the attempts ListAttempts returned were changed)", "got %+v", got)
	}
}

func testCancelledContext(e *env) {
	ev, ids := e.seed(base)
	ship := e.shipmentEvent(shipevents.StatusInTransit, newID("trk"), base)
	e.appendOne(ship)
	sub := subscription(newID("sub"))
	e.noErr(e.s.PutSubscription(e.ctx, sub), "PutSubscription")
	c := e.claimOne(base, ids[0], "ClaimDeliveries leases a due pending delivery")

	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	fresh := e.orderEvent(base)
	calls := []struct {
		name string
		call func() error
	}{
		{"AppendEvents", func() error {
			_, err := e.s.AppendEvents(ctx, []shipevents.AppendRecord{{Event: fresh}})
			return err
		}},
		{"GetEvent", func() error { _, err := e.s.GetEvent(ctx, ev.Key()); return err }},
		{"ListEvents", func() error { _, err := e.s.ListEvents(ctx, shipevents.EventFilter{}); return err }},
		{"PutSubscription", func() error { return e.s.PutSubscription(ctx, subscription(newID("sub"))) }},
		{"DeleteSubscription", func() error { return e.s.DeleteSubscription(ctx, sub.ID) }},
		{"ListSubscriptions", func() error { _, err := e.s.ListSubscriptions(ctx); return err }},
		{"ClaimDeliveries", func() error {
			_, err := e.s.ClaimDeliveries(ctx, shipevents.ClaimRequest{Now: base, Lease: lease, Limit: 10})
			return err
		}},
		{"ExtendLeases", func() error { _, err := e.s.ExtendLeases(ctx, []shipevents.Lease{c.Lease}, at(time.Hour)); return err }},
		{"RecordAttempts", func() error { _, err := e.s.RecordAttempts(ctx, []shipevents.AttemptRecord{succeed(c)}); return err }},
		{"ListDeliveries", func() error { _, err := e.s.ListDeliveries(ctx, shipevents.DeliveryFilter{}); return err }},
		{"ListAttempts", func() error { _, err := e.s.ListAttempts(ctx, ids[0]); return err }},
		{"RequeueDeliveries", func() error { _, err := e.s.RequeueDeliveries(ctx, ids, at(time.Hour)); return err }},
		{"ShipmentState", func() error {
			_, err := e.s.ShipmentState(ctx, ship.Shipment())
			return err
		}},
	}
	for _, m := range calls {
		if err := m.call(); err == nil {
			e.errorf("every method honours ctx cancellation", "%s with a cancelled ctx returned no error", m.name)
		}
	}
}
