package storetest_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/storetest"
)

// TestMemoryStore runs the conformance suite on the embedded reference
// store.
func TestMemoryStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) shipevents.Store {
		return shipevents.NewMemoryStore(shipevents.MemoryStoreConfig{})
	})
}

func newMemoryStore() shipevents.Store {
	return shipevents.NewMemoryStore(shipevents.MemoryStoreConfig{})
}

// TestTestMemoryStore: the error form finds nothing wrong with the
// reference store.
func TestTestMemoryStore(t *testing.T) {
	if err := storetest.Test(newMemoryStore); err != nil {
		t.Errorf("Test(MemoryStore) = %v", err)
	}
}

// unsorted breaks one rule: it lists subscriptions in reverse id order.
type unsorted struct{ shipevents.Store }

func (s unsorted) ListSubscriptions(ctx context.Context) ([]shipevents.Subscription, error) {
	subs, err := s.Store.ListSubscriptions(ctx)
	slices.Reverse(subs)
	return subs, err
}

// forgetful loses every event it stores, which stops many cases early.
type forgetful struct{ shipevents.Store }

func (forgetful) GetEvent(ctx context.Context, k shipevents.EventKey) (shipevents.StoredEvent, error) {
	return shipevents.StoredEvent{}, fmt.Errorf("event %s: %w", k, shipevents.ErrNotFound)
}

// idOnly deduplicates events by id alone, as if the tenant were not part
// of an event's identity: a record whose id was stored under another
// tenant is reported a duplicate and dropped.
type idOnly struct {
	shipevents.Store
	mu       sync.Mutex
	tenantOf map[string]string // event id -> tenant it was first stored under
}

func (s *idOnly) AppendEvents(ctx context.Context, recs []shipevents.AppendRecord) ([]shipevents.AppendResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]shipevents.AppendResult, len(recs))
	for i, r := range recs {
		if t, seen := s.tenantOf[r.Event.ID]; seen && t != r.Event.TenantID {
			out[i] = shipevents.AppendResult{TenantID: r.Event.TenantID, EventID: r.Event.ID, Outcome: shipevents.AppendDuplicate}
			continue
		}
		s.tenantOf[r.Event.ID] = r.Event.TenantID
		res, err := s.Store.AppendEvents(ctx, []shipevents.AppendRecord{r})
		if err != nil {
			return nil, err
		}
		out[i] = res[0]
	}
	return out, nil
}

// panicky panics when asked for a shipment's state.
type panicky struct{ shipevents.Store }

func (panicky) ShipmentState(context.Context, shipevents.ShipmentKey) (shipevents.ShipmentState, error) {
	panic("shipment state unavailable")
}

// violations splits the error Test returns into its messages.
func violations(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		t.Fatal("Test returned nil for a broken store")
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		t.Fatalf("Test's error %T does not join its violations", err)
	}
	var out []string
	for _, e := range j.Unwrap() {
		out = append(out, e.Error())
	}
	return out
}

// failedCases returns the case names the violations name.
func failedCases(t *testing.T, msgs []string) []string {
	t.Helper()
	var names []string
	for _, m := range msgs {
		name, _, ok := strings.Cut(strings.TrimPrefix(m, "storetest: "), ":")
		if !ok || !strings.HasPrefix(m, "storetest: ") {
			t.Fatalf("violation %q does not start with storetest: <case>:", m)
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

func TestTestNamesTheBrokenRule(t *testing.T) {
	msgs := violations(t, storetest.Test(func() shipevents.Store { return unsorted{newMemoryStore()} }))
	if got := failedCases(t, msgs); !slices.Equal(got, []string{"Subscriptions"}) {
		t.Fatalf("failed cases %v, want [Subscriptions]:\n%s", got, strings.Join(msgs, "\n"))
	}
	if !strings.Contains(msgs[0], "rule: ListSubscriptions returns every subscription, sorted by id") ||
		!strings.Contains(msgs[0], "subscriptions.go:") {
		t.Errorf("the violation does not name the rule and where it is checked: %s", msgs[0])
	}
}

func TestTestEndsFailedCases(t *testing.T) {
	msgs := violations(t, storetest.Test(func() shipevents.Store { return forgetful{newMemoryStore()} }))
	cases := failedCases(t, msgs)
	for _, want := range []string{"AppendNew", "EventRoundTrip", "NoAliasingEvents"} {
		if !slices.Contains(cases, want) {
			t.Errorf("%s not reported broken; got %v", want, cases)
		}
	}
	// Not finding anything keeps this rule.
	if slices.Contains(cases, "GetEventNotFound") {
		t.Errorf("GetEventNotFound reported broken by a store that keeps it")
	}
	for _, m := range msgs {
		if !strings.Contains(m, "rule: ") {
			t.Errorf("violation names no rule: %s", m)
		}
	}
}

// A store that knows events by id alone breaks the tenant identity rule,
// and only it.
func TestTestFindsTenantBlindStore(t *testing.T) {
	msgs := violations(t, storetest.Test(func() shipevents.Store {
		return &idOnly{Store: newMemoryStore(), tenantOf: map[string]string{}}
	}))
	if got := failedCases(t, msgs); !slices.Equal(got, []string{"AppendTenantIdentity"}) {
		t.Fatalf("failed cases %v, want [AppendTenantIdentity]:\n%s", got, strings.Join(msgs, "\n"))
	}
	if !strings.Contains(msgs[0], "is another event") {
		t.Errorf("the violation does not say what the rule is: %s", msgs[0])
	}
}

func TestTestReportsPanics(t *testing.T) {
	msgs := violations(t, storetest.Test(func() shipevents.Store { return panicky{newMemoryStore()} }))
	var found bool
	for _, m := range msgs {
		if strings.Contains(m, "must not panic") && strings.Contains(m, "shipment state unavailable") {
			found = true
		}
	}
	if !found {
		t.Errorf("no violation reports the panic:\n%s", strings.Join(msgs, "\n"))
	}
}

func TestTestNilStore(t *testing.T) {
	msgs := violations(t, storetest.Test(func() shipevents.Store { return nil }))
	if !strings.Contains(msgs[0], "newStore returned a nil Store") {
		t.Errorf("first violation %q", msgs[0])
	}
}

// unshared claims as stores did before worker shares: oldest first across
// subscriptions, with no bound per subscription.
type unshared struct{ shipevents.Store }

func (s unshared) ClaimDeliveries(ctx context.Context, req shipevents.ClaimRequest) ([]shipevents.Claim, error) {
	var out []shipevents.Claim
	for len(out) < req.Limit {
		one := shipevents.ClaimRequest{Now: req.Now, Lease: req.Lease, Limit: 1, Owner: req.Owner}
		cl, err := s.Store.ClaimDeliveries(ctx, one)
		if err != nil || len(cl) == 0 {
			return out, err
		}
		out = append(out, cl...)
	}
	return out, nil
}

func TestTestFindsUnsharedClaims(t *testing.T) {
	msgs := violations(t, storetest.Test(func() shipevents.Store { return unshared{newMemoryStore()} }))
	want := []string{"ClaimSubscriptionMax", "ClaimTakesTurns", "ClaimPastFullSubscription", "ClaimTurnsWithExpiredLeases"}
	if got := failedCases(t, msgs); !slices.Equal(got, want) {
		t.Fatalf("failed cases %v, want %v:\n%s", got, want, strings.Join(msgs, "\n"))
	}
}
