package storetest

import (
	"errors"
	"slices"
	"strings"

	"github.com/shipevents/shipevents"
)

// subscriptionCases check SubscriptionStore.
var subscriptionCases = []testCase{
	{"Subscriptions", withSource("SubscriptionStore: put creates or replaces, list returns all sorted by id, delete removes or reports ErrNotFound"), testSubscriptions},
	{"DeleteSubscriptionKeepsDeliveries", withSource("SubscriptionStore.DeleteSubscription: the subscription's pending deliveries stay"), testDeleteSubscriptionKeepsDeliveries},
}

func (e *env) listSubs() []shipevents.Subscription {
	e.Helper()
	subs, err := e.s.ListSubscriptions(e.ctx)
	e.noErr(err, "ListSubscriptions")
	return subs
}

func subIDs(subs []shipevents.Subscription) []string {
	out := make([]string, len(subs))
	for i, s := range subs {
		out[i] = s.ID
	}
	return out
}

func (e *env) sameSub(rule string, got, want shipevents.Subscription) {
	e.Helper()
	if d := diffSubscription(got, want); len(d) > 0 {
		e.errorf(rule, "subscription %s differs:\n\t\t%s", want.ID, strings.Join(d, "\n\t\t"))
	}
}

func testSubscriptions(e *env) {
	if subs := e.listSubs(); len(subs) != 0 {
		e.errorf("a fresh store has no subscriptions", "got %v", subIDs(subs))
	}
	p := newID("sub")
	a, b, c := p+"-a", p+"-b", p+"-c"
	for _, id := range []string{c, a, b} {
		s := subscription(id)
		if err := s.Validate(); err != nil {
			e.Fatalf("storetest bug: invalid subscription: %v", err)
		}
		e.noErr(e.s.PutSubscription(e.ctx, s), "PutSubscription of a new subscription")
	}
	subs := e.listSubs()
	if got := subIDs(subs); !slices.Equal(got, []string{a, b, c}) {
		e.fatalf("ListSubscriptions returns every subscription, sorted by id", "got %v, want %v", got, []string{a, b, c})
	}
	for _, s := range subs {
		e.sameSub("a subscription reads back exactly as put", s, subscription(s.ID))
	}

	repl := subscription(b)
	repl.Name, repl.Disabled, repl.DisabledReason = "renamed", true, "410 Gone"
	repl.EnabledEvents = []string{"orders"}
	repl.Headers = nil
	e.noErr(e.s.PutSubscription(e.ctx, repl), "PutSubscription replacing a subscription")
	subs = e.listSubs()
	if got := subIDs(subs); !slices.Equal(got, []string{a, b, c}) {
		e.fatalf("PutSubscription with an existing id replaces it (no second copy)", "got %v, want %v", got, []string{a, b, c})
	}
	e.sameSub("PutSubscription with an existing id replaces it", subs[1], repl)

	e.noErr(e.s.DeleteSubscription(e.ctx, a), "DeleteSubscription of an existing subscription")
	if got := subIDs(e.listSubs()); !slices.Equal(got, []string{b, c}) {
		e.errorf("DeleteSubscription removes the subscription", "got %v, want %v", got, []string{b, c})
	}
	if err := e.s.DeleteSubscription(e.ctx, a); !errors.Is(err, shipevents.ErrNotFound) {
		e.errorf("DeleteSubscription of a deleted subscription is an error wrapping ErrNotFound", "got %v", err)
	}
	if err := e.s.DeleteSubscription(e.ctx, "unknown-"+p); !errors.Is(err, shipevents.ErrNotFound) {
		e.errorf("DeleteSubscription of an unknown id is an error wrapping ErrNotFound", "got %v", err)
	}
	other := subscription(p + "-0")
	other.TenantID = "another-tenant"
	e.noErr(e.s.PutSubscription(e.ctx, other), "PutSubscription")
	if got := subIDs(e.listSubs()); !slices.Equal(got, []string{other.ID, b, c}) {
		e.errorf("ListSubscriptions returns every subscription (all tenants), sorted by id", "got %v, want %v", got, []string{other.ID, b, c})
	}
}

func testDeleteSubscriptionKeepsDeliveries(e *env) {
	s := subscription(newID("sub"))
	e.noErr(e.s.PutSubscription(e.ctx, s), "PutSubscription")
	ev := e.orderEvent(base)
	e.appendOne(ev, nd(ev, s.ID, base))
	e.noErr(e.s.DeleteSubscription(e.ctx, s.ID), "DeleteSubscription")
	p := e.listDeliveries(shipevents.DeliveryFilter{SubscriptionID: s.ID})
	if len(p.Items) != 1 || p.Items[0].State != shipevents.DeliveryPending {
		e.fatalf("DeleteSubscription leaves the subscription's pending deliveries", "ListDeliveries{SubscriptionID} = %v after delete, want the pending delivery", deliveryIDs(p.Items))
	}
	e.claimOne(base, p.Items[0].ID, "a deleted subscription's pending deliveries stay claimable (the dispatcher dead-letters them)")
}
