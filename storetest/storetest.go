package storetest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/shipevents/shipevents"
)

// groups lists the rule groups, one file each, in the order they run.
var groups = [][]testCase{
	appendCases,       // events.go: AppendEvents outcomes, idempotency, the outbox
	orderingCases,     // ordering.go: the ordering rule and shipment state
	claimCases,        // claims.go: ClaimDeliveries, leases, fencing
	attemptCases,      // attempts.go: RecordAttempts outcomes
	deliveryLogCases,  // deliverylog.go: requeue, attempts, delivery pages
	eventListCases,    // pages.go: GetEvent, ListEvents filters and pages
	historyCases,      // filters.go: more history filters, offsets, the bounded count
	subscriptionCases, // subscriptions.go: SubscriptionStore
	adderCases,        // adder.go: DeliveryAdder (optional)
	storeCases,        // storewide.go: no aliasing, context cancellation
}

// Run runs the conformance suite against the stores newStore makes: one
// subtest per rule of the [shipevents.Store] contract, each on a fresh store.
//
// newStore must return an empty store that no other test uses at the same
// time (the claim cases expect to see only their own deliveries). It may
// register cleanup with t.Cleanup. Cases do not call t.Parallel. In short
// mode (go test -short) the page-size case stores fewer events and skips
// the MaxPageSize bound.
func Run(t *testing.T, newStore func(t *testing.T) shipevents.Store) {
	t.Helper()
	for _, g := range groups {
		for _, c := range g {
			t.Run(c.name, func(t *testing.T) {
				s := newStore(t)
				if s == nil {
					t.Fatal("storetest: newStore returned a nil Store")
				}
				c.run(newEnv(t.Context(), t, s, c, testing.Short()))
			})
		}
	}
}

// Test runs the conformance suite, every case on a fresh store from
// newStore, and returns nil when the store keeps every rule. Otherwise the
// error joins one error per broken rule (see [errors.Join]), each naming
// the case, the rule and what the store did, like Run's failure messages.
// It is for callers without a *testing.T (a command that vets a store, a
// test framework of its own), as [testing/fstest.TestFS] is for file
// systems; within go test, Run gives one subtest per rule instead.
//
// newStore must return an empty store that nothing else uses meanwhile.
// Stores that hold resources are the caller's to close after Test returns.
// A case that panics is reported as a broken rule of that case.
func Test(newStore func() shipevents.Store) error {
	var errs []error
	for _, g := range groups {
		for _, c := range g {
			errs = append(errs, runCase(c, newStore)...)
		}
	}
	return errors.Join(errs...)
}

// runCase runs one case for Test, on a goroutine of its own so that a
// fatal check can end it (runtime.Goexit) as t.Fatal ends a subtest.
func runCase(c testCase, newStore func() shipevents.Store) []error {
	r := &collector{name: c.name}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() {
			if p := recover(); p != nil {
				r.Errorf("rule: the store must not panic: panic: %v\n\tcase: %s", p, c.explanation)
			}
		}()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s := newStore()
		if s == nil {
			r.Fatalf("storetest: newStore returned a nil Store")
		}
		c.run(newEnv(ctx, r, s, c, false))
	}()
	<-done
	return r.errs
}

// testCase is one rule of the contract. explanation is the rule in words,
// with the file:line of the case appended by withSource.
type testCase struct {
	name        string
	explanation string
	run         func(e *env)
}

// withSource appends the file:line of its caller (the case's entry in its
// group's table) to s, as testing/slogtest does.
func withSource(s string) string {
	_, file, line, ok := runtime.Caller(1)
	if !ok {
		return s
	}
	return fmt.Sprintf("%s (%s:%d)", s, file, line)
}

// ---------------------------------------------------------------------------
// The test environment: one per case.

// reporter is what a case reports to: a *testing.T under Run, a collector
// under Test. Fatalf ends the case's goroutine.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Logf(format string, args ...any)
}

// collector is Test's reporter: it keeps each report as an error naming
// the case.
type collector struct {
	name string
	mu   sync.Mutex // cases report from one goroutine, but cheaply safe
	errs []error
}

func (c *collector) Helper() {}

func (c *collector) Errorf(format string, args ...any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.errs = append(c.errs, fmt.Errorf("storetest: %s: %s", c.name, strings.TrimSpace(fmt.Sprintf(format, args...))))
}

func (c *collector) Fatalf(format string, args ...any) {
	c.Errorf(format, args...)
	runtime.Goexit()
}

func (c *collector) Logf(string, ...any) {}

// env is what a case works with: the reporter, the store, a live ctx, the
// case's unique tenant, which event each delivery id was created with, and
// whether to keep the large cases small.
type env struct {
	reporter
	ctx    context.Context
	s      shipevents.Store
	c      testCase
	tenant string
	evOf   map[string]shipevents.EventKey // delivery id → its event's key
	short  bool
}

func newEnv(ctx context.Context, r reporter, s shipevents.Store, c testCase, short bool) *env {
	return &env{reporter: r, ctx: ctx, s: s, c: c, tenant: "tenant-" + uuid.NewString(), evOf: map[string]shipevents.EventKey{}, short: short}
}

// errorf reports a broken rule: "rule: <rule>: <detail>" followed by the
// case's explanation and source.
func (e *env) errorf(rule, format string, args ...any) {
	e.Helper()
	e.Errorf("rule: %s: %s\n\tcase: %s", rule, fmt.Sprintf(format, args...), e.c.explanation)
}

// fatalf is errorf that stops the case.
func (e *env) fatalf(rule, format string, args ...any) {
	e.Helper()
	e.Fatalf("rule: %s: %s\n\tcase: %s", rule, fmt.Sprintf(format, args...), e.c.explanation)
}

// noErr stops the case when a call that must succeed failed.
func (e *env) noErr(err error, call string) {
	e.Helper()
	if err != nil {
		e.fatalf(call+" must succeed here", "unexpected error: %v", err)
	}
}
