// Package natsjs delivers shipevents events to NATS JetStream, so that
// they fan out to any number of consumers beyond one machine, each
// selecting events with the same ref patterns as webhook subscriptions.
//
// # Wiring
//
// A [Publisher] is a [shipevents.Sender] registered with the dispatcher
// under a handler name, and a subscription names it; its EnabledEvents,
// event groups, types, conditions and tenant select what goes to the
// stream, its Form and Secrets shape and sign the messages, as for a
// webhook:
//
//	pub, err := natsjs.NewPublisher(nc, natsjs.PublisherConfig{Stream: "SHIPEVENTS"})
//	d.HandleSender("jetstream", pub)
//	d.Subscribe(ctx, shipevents.Subscription{ID: "stream", Handler: "jetstream",
//		EnabledEvents: []string{"*"}, Secrets: secrets})
//
// Each attempt is one JetStream publish; the stream's acknowledgement is
// the attempt's success, and failures are classified for the
// subscription's retry policy (see [ErrNoStream] and the other publish
// errors).
//
// # Subjects
//
// An event is published on prefix.tenant.ref, the ref's segments as
// tokens ([Subject]):
//
//	shipments/delivered/SUCCESSFULLY_DELIVERED of tenant acme
//	  -> shipevents.acme.shipments.delivered.SUCCESSFULLY_DELIVERED
//
// An event without a tenant has the tenant token [NoTenant] ("_"). A
// tenant or segment that a NATS token cannot hold as it is (empty, or
// with spaces, dots, wildcards, "%", quotes or bytes outside printable
// ASCII) is escaped reversibly ([EscapeToken], [ParseSubject]).
// [Filters] and [TenantFilters] turn ref patterns into the subject
// filters that select exactly the events [shipevents.MatchRef] matches,
// for a JetStream consumer's FilterSubjects.
//
// # Messages
//
// The body is the event in the subscription's form. The headers:
// Nats-Msg-Id and webhook-id, both the event's message id
// ([shipevents.MessageID]: its id, or a UUID of tenant and id), as
// webhooks carry it; webhook-timestamp; webhook-signature when the
// subscription has secrets; Content-Type; and
// Shipevents-Form, Shipevents-Type and Shipevents-Ref. Consumers check
// a message with [Verify] and read it with [Decode].
//
// # Duplicates
//
// JetStream drops a message whose Nats-Msg-Id it stored within the
// stream's duplicate window ([DefaultDuplicateWindow] in [StreamConfig],
// the JetStream default): an attempt whose acknowledgement was lost and
// its retry leave one message. The window is held in the server's memory,
// so it is short; retries that come later (the default schedule waits
// minutes to hours from the fourth attempt) can store a second copy. Keep
// the subscription's retry delays within the window, and have consumers
// that need exactly-once processing deduplicate on webhook-id, as webhook
// receivers do.
package natsjs
