package natsjs_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/natsjs"
)

func ExampleSubject() {
	fmt.Println(natsjs.Subject("", "acme", "shipments/delivered/SUCCESSFULLY_DELIVERED"))
	fmt.Println(natsjs.Subject("", "", "orders/created"))
	fmt.Println(natsjs.Subject("", "eu.west", "orders/created"))
	// Output:
	// shipevents.acme.shipments.delivered.SUCCESSFULLY_DELIVERED
	// shipevents._.orders.created
	// shipevents.eu%2Ewest.orders.created
}

func ExampleTenantFilters() {
	filters, err := natsjs.TenantFilters("", "acme", "shipments/*/DELIVERY_ATTEMPT_FAILED", "orders")
	if err != nil {
		panic(err)
	}
	for _, f := range filters {
		fmt.Println(f)
	}
	all, _ := natsjs.Filters("", "shipments/delivered/*")
	fmt.Println(all)
	// Output:
	// shipevents.acme.shipments.*.DELIVERY_ATTEMPT_FAILED
	// shipevents.acme.shipments.*.DELIVERY_ATTEMPT_FAILED.>
	// shipevents.acme.orders
	// shipevents.acme.orders.>
	// [shipevents.*.shipments.delivered.>]
}

// Example wires a dispatcher to JetStream with a handler subscription and
// reads one tenant's deliveries back with a consumer on a ref pattern.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "natsjs-example-")
	defer os.RemoveAll(dir)
	ns, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoLog: true, NoSigs: true})
	if err != nil {
		panic(err)
	}
	ns.Start()
	defer ns.Shutdown()
	ns.ReadyForConnections(10 * time.Second)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		panic(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	stream, err := js.CreateOrUpdateStream(ctx, natsjs.StreamConfig("SHIPEVENTS", ""))
	if err != nil {
		panic(err)
	}

	// The dispatcher publishes every event to the stream, signed.
	secret, _ := shipevents.GenerateSecret()
	pub, err := natsjs.NewPublisher(nc, natsjs.PublisherConfig{Stream: "SHIPEVENTS"})
	if err != nil {
		panic(err)
	}
	d := shipevents.NewDispatcher(shipevents.DispatcherConfig{DisableDeliveryEvents: true})
	d.HandleSender("jetstream", pub)
	if err := d.Subscribe(ctx, shipevents.Subscription{
		ID: "stream", Handler: "jetstream", EnabledEvents: []string{"*"}, Secrets: []string{secret},
	}); err != nil {
		panic(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- d.Run(runCtx) }()
	defer func() { stop(); <-done }()

	at := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for i, name := range []string{"OUT_FOR_DELIVERY", "SUCCESSFULLY_DELIVERED"} {
		for _, tenant := range []string{"acme", "globex"} {
			e, _ := shipevents.NewShipmentEvent(name, shipevents.HostEvent{
				TenantID: tenant, Carrier: "ups", TrackingNumber: "1Z999", OccurredAt: at.Add(time.Duration(i) * time.Hour),
			})
			if _, err := d.Publish(ctx, e); err != nil {
				panic(err)
			}
		}
	}

	// A consumer of acme's deliveries, with the pattern a webhook would use.
	filters, _ := natsjs.TenantFilters("", "acme", "shipments/delivered")
	cons, err := stream.CreateOrUpdateConsumer(ctx, jetstream.ConsumerConfig{Durable: "acme-delivered", FilterSubjects: filters, AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		panic(err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(30*time.Second))
	if err != nil {
		panic(err)
	}
	for m := range batch.Messages() {
		if err := natsjs.Verify([]string{secret}, m.Headers(), m.Data(), nil); err != nil {
			panic(err)
		}
		e, _ := natsjs.Decode(m.Headers(), m.Data())
		fmt.Println(m.Subject())
		fmt.Println(e.TenantID, e.Status, e.TrackingNumber)
		_ = m.Ack()
	}
	// Output:
	// shipevents.acme.shipments.delivered.SUCCESSFULLY_DELIVERED
	// acme DELIVERED 1Z999
}
