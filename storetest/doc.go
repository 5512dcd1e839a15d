// Package storetest checks an implementation of [shipevents.Store] against
// the rules written in the doc comments of the Store interface.
//
// An adapter author runs the suite from a test of the adapter's package:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) shipevents.Store {
//			return mystore.New(...) // a fresh, empty store
//		})
//	}
//
// [Run] runs one subtest per rule, each on a fresh store. A failure names
// the rule that broke and the file:line of the case that checks it, so the
// author can read the rule next to the check. The cases are grouped one
// file per part of the contract (events.go, ordering.go, claims.go,
// attempts.go, deliverylog.go, pages.go, subscriptions.go, adder.go,
// storewide.go).
//
// [Test] runs the same cases without a *testing.T and returns the broken
// rules as one error (nil when there are none), for a command that vets a
// store or a test harness of its own:
//
//	if err := storetest.Test(func() shipevents.Store { return mystore.New(...) }); err != nil {
//		log.Fatal(err) // one error per broken rule, each naming its case and rule
//	}
//
// The suite drives time only through the times it passes in
// ([shipevents.ClaimRequest.Now], NextAttemptAt, lease expiries); it never
// sleeps and never needs the wall clock to move. A store must therefore
// judge due deliveries and expired leases by the caller's times, never by
// its own clock. Events, subscriptions and their maps use only values that
// survive a JSON round trip (strings, float64, bool, nested maps and
// slices), so a store that keeps them as JSON passes.
//
// The package needs nothing beyond the standard library and the shipevents
// module's own dependencies: no assertion library.
package storetest
