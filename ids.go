package shipevents

import (
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/shipevents/shipevents/internal/uuid5"
)

// The namespaces of the derived ids: version-5 UUIDs, in the URL
// namespace, of a library URL for each kind of id. They are fixed forever:
// changing one would change every id derived in it, and hosts would take
// scans, events and deliveries they already have for new ones.
var (
	scanNamespace           = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/shipevents/shipevents/scan"))            // [ScanID]
	deliveryNamespace       = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/shipevents/shipevents/delivery"))        // [DeliveryID]
	hostNamespace           = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/shipevents/shipevents/host-event"))      // host events given no id
	fulfillmentNamespace    = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/shipevents/shipevents/fulfillment"))     // record events: a redelivered webhook keeps its id
	deliveryEventNamespace  = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/shipevents/shipevents/delivery-event"))  // the dispatcher's own events
	tenantDeliveryNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/shipevents/shipevents/tenant-delivery")) // [DeliveryID] of an event with a tenant
	messageNamespace        = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/shipevents/shipevents/message"))         // [MessageID] of an event with a tenant
)

// ScanID returns the deterministic id of a carrier scan: a version-5 UUID
// (RFC 9562) of carrier, tracking number, raw status type and code, and the
// instant, NUL-separated. The same scan gets the same id in any process, so
// a re-sent history is deduplicated by [Dispatcher.Publish]. The id knows
// no tenant: two tenants tracking one parcel get the same id, and their
// events stay apart because an event's identity is its [EventKey].
func ScanID(carrier, trackingNumber, statusType, statusCode string, at time.Time) string {
	var buf [320]byte
	b := append(buf[:0], scanNamespace[:]...)
	for _, p := range [...]string{carrier, trackingNumber, statusType, statusCode} {
		b = append(b, p...)
		b = append(b, 0)
	}
	return uuid5.FromData(strconv.AppendInt(b, at.UnixNano(), 10))
}

// DeliveryID returns the deterministic id of the delivery of an event to a
// subscription, so that appending the same event twice can never create
// two deliveries to one subscription. For an event without a tenant it is
// the version-5 UUID of the event and subscription ids, as it always was,
// so stored delivery ids stay valid; with a tenant, the tenant is part of
// the name (in a namespace of its own), so the copies of one scan that two
// tenants publish have distinct deliveries to a subscription that receives
// both.
func DeliveryID(key EventKey, subscriptionID string) string {
	if key.TenantID == "" {
		return nameUUID(deliveryNamespace, key.ID, subscriptionID)
	}
	return nameUUID(tenantDeliveryNamespace, key.TenantID, key.ID, subscriptionID)
}

// MessageID returns the message id the event is sent under: the
// webhook-id header and the Idempotency-Key of every attempt of every
// delivery of the event, which receivers deduplicate on. It is the event
// id for an event without a tenant, and a version-5 UUID of tenant and id
// for one with a tenant, so that a receiver taking the events of several
// tenants (a subscription without TenantID) sees two tenants' copies of
// one scan under two ids and keeps both.
func MessageID(key EventKey) string {
	if key.TenantID == "" {
		return key.ID
	}
	return nameUUID(messageNamespace, key.TenantID, key.ID)
}

// nameUUID returns the version-5 UUID of parts joined by NUL bytes in
// namespace ns, allocating only the string (see [uuid5.Joined]).
func nameUUID(ns uuid.UUID, parts ...string) string { return uuid5.Joined(ns, parts...) }
