package main

import (
	"os"
	"testing"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/storetest"
)

// TestConformance checks Store against every rule of the Store contract.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) shipevents.Store { return NewStore() })
}

// Example_run is the demo main prints; its output is fixed.
func Example_run() {
	if err := run(os.Stdout); err != nil {
		panic(err)
	}
	// Output:
	// append evt-1 (DELIVERED): new, deliveries created: 1
	// claim c0766cd2-c94e-5227-a93e-434f9277a2d4 for sub-orders: event evt-1, lease until 2026-01-01T12:00:30Z
	// delivery c0766cd2-c94e-5227-a93e-434f9277a2d4: state=succeeded attempts=1 last_status=200
	// append evt-2 (IN_TRANSIT): late, deliveries created: 0
	// shipment acme/ups/1Z999AA10123456784: DELIVERED (SUCCESSFULLY_DELIVERED, event evt-1)
	// append evt-1 of tenant globex: new, deliveries created: 1
	// append evt-1 of tenant acme: duplicate, deliveries created: 0
}
