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
	scanNamespace          = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/shipevents/shipevents/scan"))           // [ScanID]
	deliveryNamespace      = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/shipevents/shipevents/delivery"))       // [DeliveryID]
	hostNamespace          = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/shipevents/shipevents/host-event"))     // host events given no id
	fulfillmentNamespace   = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/shipevents/shipevents/fulfillment"))    // record events: a redelivered webhook keeps its id
	deliveryEventNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/shipevents/shipevents/delivery-event")) // the dispatcher's own events
)

// ScanID returns the deterministic id of a carrier scan: a version-5 UUID
// (RFC 9562) of carrier, tracking number, raw status type and code, and the
// instant, NUL-separated. The same scan gets the same id in any process, so
// a re-sent history is deduplicated by [Dispatcher.Publish].
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
// two deliveries to one subscription.
func DeliveryID(eventID, subscriptionID string) string {
	return nameUUID(deliveryNamespace, eventID, subscriptionID)
}

// nameUUID returns the version-5 UUID of parts joined by NUL bytes in
// namespace ns, allocating only the string (see [uuid5.Joined]).
func nameUUID(ns uuid.UUID, parts ...string) string { return uuid5.Joined(ns, parts...) }
