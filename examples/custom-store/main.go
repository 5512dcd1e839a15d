// Custom-store is a small, complete shipevents.Store adapter for adapter
// authors to read: store.go holds the adapter (one mutex over slices and
// maps), store_test.go runs the storetest conformance suite on it, and this
// file walks one event through it: append with a delivery, claim, record
// success, a late event that the ordering rule keeps from moving the
// shipment back, and another tenant's copy of the first event, which is an
// event of its own.
//
//	go run ./examples/custom-store
//	go test ./examples/custom-store
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"
	"time"

	"github.com/shipevents/shipevents"
)

func main() {
	if err := run(os.Stdout); err != nil {
		log.Fatal(err)
	}
}

// run drives the store with fixed times and ids, so its output never
// changes.
func run(w io.Writer) error {
	ctx := context.Background()
	store := NewStore()
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

	// A delivered scan, to be delivered to one subscription.
	delivered := shipmentEvent("evt-1", shipevents.StatusDelivered, now.Add(-time.Hour))
	const sub = "sub-orders"
	res, err := store.AppendEvents(ctx, []shipevents.AppendRecord{{
		Event: delivered,
		Deliveries: []shipevents.NewDelivery{{
			ID:             shipevents.DeliveryID(delivered.Key(), sub),
			SubscriptionID: sub,
			OnlyIfCurrent:  true,
			NextAttemptAt:  now,
		}},
	}})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "append %s (%s): %s, deliveries created: %d\n", res[0].EventID, delivered.Status, res[0].Outcome, res[0].Deliveries)

	// A worker claims it...
	claims, err := store.ClaimDeliveries(ctx, shipevents.ClaimRequest{Now: now, Lease: 30 * time.Second, Limit: 10, Owner: "demo"})
	if err != nil {
		return err
	}
	if len(claims) != 1 {
		return fmt.Errorf("claimed %d deliveries, want 1", len(claims))
	}
	c := claims[0]
	fmt.Fprintf(w, "claim %s for %s: event %s, lease until %s\n", c.Delivery.ID, c.Delivery.SubscriptionID, c.Event.ID, c.Lease.ExpiresAt.Format(time.RFC3339))

	// ...sends it, and records the outcome with its lease.
	errs, err := store.RecordAttempts(ctx, []shipevents.AttemptRecord{{
		Lease:   c.Lease,
		Outcome: shipevents.OutcomeSucceeded,
		Attempt: shipevents.Attempt{DeliveryID: c.Delivery.ID, Number: 1, StartedAt: now, Duration: 120 * time.Millisecond, StatusCode: 200},
	}})
	if err != nil {
		return err
	}
	if errs[0] != nil {
		return errs[0]
	}
	page, err := store.ListDeliveries(ctx, shipevents.DeliveryFilter{TenantID: delivered.TenantID, EventID: delivered.ID})
	if err != nil {
		return err
	}
	d := page.Items[0]
	fmt.Fprintf(w, "delivery %s: state=%s attempts=%d last_status=%d\n", d.ID, d.State, d.Attempts, d.LastStatusCode)

	// An in-transit scan arrives late: DELIVERED is terminal, so the
	// shipment stays delivered and the OnlyIfCurrent delivery is dropped.
	late := shipmentEvent("evt-2", shipevents.StatusInTransit, now.Add(-30*time.Minute))
	res, err = store.AppendEvents(ctx, []shipevents.AppendRecord{{
		Event: late,
		Deliveries: []shipevents.NewDelivery{{
			ID: shipevents.DeliveryID(late.Key(), sub), SubscriptionID: sub, OnlyIfCurrent: true, NextAttemptAt: now,
		}},
	}})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "append %s (%s): %s, deliveries created: %d\n", res[0].EventID, late.Status, res[0].Outcome, res[0].Deliveries)

	st, err := store.ShipmentState(ctx, delivered.Shipment())
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "shipment %s: %s (%s, event %s)\n", st.Key, st.Status, st.EventName, st.EventID)

	// Another tenant tracks the same parcel, so its copy of the scan has
	// the same id; identity is tenant and id together, so it is a new
	// event with a delivery of its own, while acme's copy again is a
	// duplicate.
	theirs := delivered
	theirs.TenantID = "globex"
	res, err = store.AppendEvents(ctx, []shipevents.AppendRecord{
		{Event: theirs, Deliveries: []shipevents.NewDelivery{{ID: shipevents.DeliveryID(theirs.Key(), sub), SubscriptionID: sub, NextAttemptAt: now}}},
		{Event: delivered, Deliveries: []shipevents.NewDelivery{{ID: shipevents.DeliveryID(delivered.Key(), sub), SubscriptionID: sub, NextAttemptAt: now}}},
	})
	if err != nil {
		return err
	}
	for _, r := range res {
		fmt.Fprintf(w, "append %s of tenant %s: %s, deliveries created: %d\n", r.EventID, r.TenantID, r.Outcome, r.Deliveries)
	}
	return nil
}

// shipmentEvent builds a valid shipment event for one UPS tracking number.
func shipmentEvent(id string, status shipevents.Status, occurred time.Time) shipevents.Event {
	name := shipevents.DefaultEventName(status)
	entry, _ := shipevents.LookupEventName(name)
	return shipevents.Event{
		ID:             id,
		Type:           shipevents.TypeTrackingUpdated,
		Source:         shipevents.SourceShipments,
		Ref:            shipevents.ShipmentRef(status.Phase(), name),
		Version:        shipevents.EnvelopeVersion,
		EventName:      name,
		EventGroup:     entry.Group(shipevents.DirectionForward),
		Phase:          status.Phase(),
		Direction:      shipevents.DirectionForward,
		Status:         status,
		Carrier:        "ups",
		TrackingNumber: "1Z999AA10123456784",
		OccurredAt:     occurred,
		TriggeredAt:    occurred,
		TenantID:       "acme",
	}
}
