package shipevents_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/shipevents/shipevents"
)

func ExampleNormalize() {
	// A UPS Track Alert webhook, as UPS POSTs it.
	raw := []byte(`{"trackingNumber":"1Z999AA10123456784","localActivityDate":"20250314","localActivityTime":"091519",
	  "activityLocation":{"city":"Atlanta","stateProvince":"GA","postalCode":"30303","country":"US"},
	  "activityStatus":{"type":"I","code":"OT","description":"Out for Delivery"},
	  "gmtActivityDate":"20250314","gmtActivityTime":"131519","gmtOffset":"-04.00"}`)

	events, err := shipevents.Normalize("", raw) // "" detects the format
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range events {
		fmt.Println(e.Ref)
		fmt.Println(e.Status, e.EventGroup, e.Carrier, e.TrackingNumber)
		fmt.Println(e.OccurredAt.Format(time.RFC3339), "raw", e.CarrierStatus.Type+":"+e.CarrierStatus.Code)
		fmt.Println(e.ID)
	}
	// Output:
	// shipments/in_delivery/OUT_FOR_DELIVERY
	// OUT_FOR_DELIVERY shipment_out_for_delivery ups 1Z999AA10123456784
	// 2025-03-14T13:15:19Z raw I:OT
	// 6c81ec10-a45d-582d-a57a-5f0399407a62
}

func ExampleNormalize_xml() {
	// A Canada Post Get Tracking Details response (XML), newest event first.
	raw := []byte(`<?xml version="1.0" encoding="UTF-8"?>
<tracking-detail xmlns="http://www.canadapost.ca/ws/track">
  <pin>7023210039414604</pin>
  <significant-events>
    <occurrence>
      <event-identifier>1496</event-identifier><event-date>2026-02-03</event-date>
      <event-time>11:59:59</event-time><event-time-zone>EST</event-time-zone>
      <event-description>Item successfully delivered</event-description>
      <event-site>SAINTE-FOY</event-site><event-province>QC</event-province>
    </occurrence>
    <occurrence>
      <event-identifier>0174</event-identifier><event-date>2026-02-03</event-date>
      <event-time>08:27:43</event-time><event-time-zone>EST</event-time-zone>
      <event-description>Item out for delivery</event-description>
      <event-site>SAINTE-FOY</event-site><event-province>QC</event-province>
    </occurrence>
  </significant-events>
</tracking-detail>`)

	events, err := shipevents.Normalize("", raw) // detected by its root element
	if err != nil {
		log.Fatal(err)
	}
	for _, e := range events {
		fmt.Println(e.OccurredAt.Format(time.RFC3339), e.Carrier, e.CarrierStatus.Code, e.Ref)
	}
	// Output:
	// 2026-02-03T13:27:43Z canadapost 0174 shipments/in_delivery/OUT_FOR_DELIVERY
	// 2026-02-03T16:59:59Z canadapost 1496 shipments/delivered/SUCCESSFULLY_DELIVERED
}

func ExampleMatchRef() {
	ref := "shipments/delivery_failed/DELIVERY_ATTEMPT_FAILED"
	for _, pattern := range []string{"*", "shipments", "shipments/delivery_failed", "shipments/*/DELIVERY_ATTEMPT_FAILED", "shipments/deliv", "claims"} {
		fmt.Printf("%-38s %v\n", pattern, shipevents.MatchRef(pattern, ref))
	}
	// Output:
	// *                                      true
	// shipments                              true
	// shipments/delivery_failed              true
	// shipments/*/DELIVERY_ATTEMPT_FAILED    true
	// shipments/deliv                        false
	// claims                                 false
}

func ExampleRefIndex() {
	ix := shipevents.NewRefIndex[string]()
	_ = ix.Add("shipments/delivered", "notify-delivered")
	_ = ix.Add("shipments/*/DELIVERY_ATTEMPT_FAILED", "open-ticket")
	_ = ix.Add("*", "audit-log")
	fmt.Println(len(ix.Match("shipments/delivery_failed/DELIVERY_ATTEMPT_FAILED", nil)), "subscriptions match")
	// Output:
	// 2 subscriptions match
}

// A host adds its regional carrier's codes (and overrides a built-in row)
// without forking the library.
func ExampleMapper_Set() {
	m := shipevents.DefaultMapper()
	err := m.Set(
		shipevents.Row{Carrier: "acme-express", Namespace: "status", Code: "DLV", Status: shipevents.StatusDelivered, EventName: "SUCCESSFULLY_DELIVERED"},
		shipevents.Row{Carrier: "acme-express", Namespace: "status", Code: "NH", Status: shipevents.StatusFailedDelivery, EventName: "RECIPIENT_NOT_AVAILABLE"},
	)
	if err != nil {
		log.Fatal(err)
	}
	n := shipevents.NewNormalizer(shipevents.NormalizerConfig{Mapper: m})
	_ = n // use n.Normalize for payloads; the mapper also answers directly:
	mapping, ok := m.Lookup("acme-express", "status", "NH")
	fmt.Println(mapping.Status, mapping.EventName, ok)

	// Rows that contradict the catalogue are refused.
	err = m.Set(shipevents.Row{Carrier: "acme-express", Namespace: "status", Code: "X", Status: shipevents.StatusDelivered, EventName: "IN_TRANSIT"})
	fmt.Println(err != nil)
	// Output:
	// FAILED_DELIVERY RECIPIENT_NOT_AVAILABLE true
	// true
}

func ExampleBooked() {
	e, err := shipevents.Booked(shipevents.HostEvent{
		TenantID: "shop-42", Carrier: "ups", TrackingNumber: "1Z999AA10123456784",
		OccurredAt: time.Date(2026, 3, 10, 9, 0, 0, 0, time.UTC),
		Data:       shipevents.EventData{OrderID: "1001"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e.Type, e.Ref, e.Status, e.EventGroup)
	// Output:
	// shipment.created shipments/pre_transit/SHIPMENT_BOOKED BOOKED shipment_created
}

// Two shops track the same parcel, so Normalize gives each the same scan
// and id. Each shop sets its tenant before publishing, and each copy is an
// event of its own: known by tenant and id together, delivered on its own,
// and sent under its own webhook-id. Within one shop, the scan sent again
// is a duplicate.
func ExampleDispatcher_Publish_tenants() {
	ctx := context.Background()
	d := shipevents.NewDispatcher(shipevents.DispatcherConfig{})
	if err := d.Subscribe(ctx, shipevents.Subscription{
		ID: "ops", URL: "https://ops.example.com/hooks", EnabledEvents: []string{"shipments"}, // every shop's events
	}); err != nil {
		log.Fatal(err)
	}
	raw := []byte(`{"trackingNumber":"1Z999AA10123456784","activityStatus":{"type":"D","code":"FS","description":"Delivered"},
	  "gmtActivityDate":"20250314","gmtActivityTime":"175800","gmtOffset":"-04.00"}`)
	var keys []shipevents.EventKey
	for _, shop := range []string{"shop-a", "shop-b", "shop-a"} {
		events, err := shipevents.Normalize(shipevents.FormatUPS, raw)
		if err != nil {
			log.Fatal(err)
		}
		for i := range events {
			events[i].TenantID = shop
		}
		res, err := d.Publish(ctx, events...)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(shop, res[0].Outcome, res[0].Deliveries)
		keys = append(keys, events[0].Key())
	}
	a, b := keys[0], keys[1]
	se, err := d.Event(ctx, b)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same id:", a.ID == b.ID, "stored for", se.Event.TenantID)
	fmt.Println("same webhook-id:", shipevents.MessageID(a) == shipevents.MessageID(b))
	// Output:
	// shop-a new 1
	// shop-b new 1
	// shop-a duplicate 0
	// same id: true stored for shop-b
	// same webhook-id: false
}

func ExampleDispatcher() {
	ctx := context.Background()
	d := shipevents.NewDispatcher(shipevents.DispatcherConfig{}) // in-memory store, HTTP sender, default retries
	delivered := make(chan shipevents.Event, 1)
	d.Handle("update-oms", func(ctx context.Context, e shipevents.Event) error {
		delivered <- e // set the order's shipping status here
		return nil
	})
	if err := d.Subscribe(ctx, shipevents.Subscription{
		ID: "oms", Handler: "update-oms", EnabledEvents: []string{"shipments/delivered"},
	}); err != nil {
		log.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- d.Run(runCtx) }()

	raw := []byte(`{"trackingNumber":"1Z999AA10123456784","activityStatus":{"type":"D","code":"FS","description":"Delivered"},
	  "gmtActivityDate":"20250314","gmtActivityTime":"175800","gmtOffset":"-04.00"}`)
	events, err := shipevents.Normalize(shipevents.FormatUPS, raw)
	if err != nil {
		log.Fatal(err)
	}
	res, err := d.Publish(ctx, events...)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res[0].Outcome, res[0].Deliveries, "delivery")
	e := <-delivered
	fmt.Println("handler got", e.Status, e.TrackingNumber)

	stop()
	<-done
	// Output:
	// new 1 delivery
	// handler got DELIVERED 1Z999AA10123456784
}
