// Package shipevents is the event layer of an order-management system:
// it turns raw carrier and aggregator tracking payloads into one canonical
// shipping event, and delivers those events to the subscribers that asked
// for them, reliably.
//
// # Normalizing
//
// [Normalize] (or a configured [Normalizer]) reads a UPS, FedEx, DHL,
// USPS, DHL Express, GLS, La Poste (Colissimo, Chronopost), Hermes, Amazon
// Shipping, Parcel.One, SEKO, Spring, EasyPost, AfterShip, Shippo, Karrio,
// ShipEngine or fulfilment payload (JSON), or a Canada Post, Purolator, DHL
// Parcel DE or bpost one (XML) ([Formats]), and returns one [Event] per
// scan, oldest first, each with a deterministic id, a canonical [Status],
// an event name from the catalogue ([EventNames]), its notification group
// and a ref such as
// shipments/delivered/SUCCESSFULLY_DELIVERED. Carrier codes are resolved
// by a [Mapper] over crosswalk tables embedded as data; a code no table
// knows becomes [StatusUnknown] with the raw code kept. Hosts build their
// own workflow events with [NewShipmentEvent], [Booked], [ReadyToShip],
// [Cancelled] and [NewRecordEvent].
//
// # Dispatching
//
// A [Dispatcher] stores published events in a [Store] together with one
// delivery per matching [Subscription] (an outbox), keeps each shipment's
// current status by the ordering rule ([Supersedes], applied by stores
// through [UpdateShipment]), and runs workers that claim deliveries with a
// lease, send them through a [Sender] (the [HTTPSender], signing with
// Standard Webhooks, an in-process [Handler], or a Sender registered with
// [Dispatcher.HandleSender], such as the natsjs module's JetStream
// publisher), and record every attempt. Failures are retried by a [RetryPolicy]; what cannot be
// delivered becomes a dead letter that can be listed and replayed.
// Subscriptions select events with ref patterns ([MatchRef], [RefIndex]),
// event groups, types and conditions (see [Condition]); each may cap its
// request rate ([Subscription.MaxPerSecond]), and endpoints that answer
// 410 Gone, or keep failing ([DispatcherConfig.DisableAfter]), are
// disabled ([Subscription.Disabled]). Each subscription has a bounded
// share of the workers ([DispatcherConfig.MaxInFlightPerSubscription]),
// so an endpoint that hangs holds only its share while the others are
// served. [PublishTx] publishes inside a transaction of the host's,
// through a store that is a [TxAppender] (pgstore's, for a pgx.Tx), so
// that the host's own writes and the events commit together or not at
// all.
//
// # Stores
//
// [MemoryStore] is the embedded default. The pgstore module provides a
// PostgreSQL Store for several instances, and the storetest package checks
// any Store against the contract written in [Store]'s doc comments.
//
// # Receiving
//
// Receivers of webhooks check requests with [Verify] and deduplicate on
// the webhook-id header, the same on every attempt: the event id, or for
// an event with a tenant a UUID of tenant and id ([MessageID]), so that
// two tenants' copies of one scan arrive under two ids.
//
// # Tenants
//
// An event's identity is its tenant and id together ([EventKey]): two
// tenants tracking the same parcel get the same scan id from [Normalize],
// and once each sets its TenantID and publishes, each copy is an event of
// its own, with its own deliveries; within a tenant a re-sent scan is a
// duplicate. History and replay take the key ([Dispatcher.Event],
// [Dispatcher.ReplayEvent]).
//
// The README's code map says which file holds each part of the package.
package shipevents
