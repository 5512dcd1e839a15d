package shipevents

import (
	"crypto/sha1"
	"strconv"
	"time"

	"github.com/google/uuid"
)

// The namespaces of the derived ids: version-5 UUIDs, in the URL
// namespace, of a library URL for each kind of id. They are fixed forever:
// changing one would change every id derived in it, and hosts would take
// scans, events and deliveries they already have for new ones.
var (
	scanNamespace        = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/shipevents/shipevents/scan"))        // [ScanID]
	deliveryNamespace    = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/shipevents/shipevents/delivery"))    // [DeliveryID]
	hostNamespace        = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/shipevents/shipevents/host-event"))  // host events given no id
	fulfillmentNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/shipevents/shipevents/fulfillment")) // record events: a redelivered webhook keeps its id
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
	return v5String(strconv.AppendInt(b, at.UnixNano(), 10))
}

// DeliveryID returns the deterministic id of the delivery of an event to a
// subscription, so that appending the same event twice can never create
// two deliveries to one subscription.
func DeliveryID(eventID, subscriptionID string) string {
	return nameUUID(deliveryNamespace, eventID, subscriptionID)
}

// nameUUID returns the version-5 UUID (RFC 9562) of parts joined by NUL
// bytes in namespace ns: uuid.NewSHA1(ns, data).String() without its
// allocations, since ids are derived on every hot path.
func nameUUID(ns uuid.UUID, parts ...string) string {
	var buf [320]byte
	b := append(buf[:0], ns[:]...)
	for i, p := range parts {
		if i > 0 {
			b = append(b, 0)
		}
		b = append(b, p...)
	}
	return v5String(b)
}

// v5String hashes namespace-prefixed data into a version-5 UUID string.
func v5String(data []byte) string {
	sum := sha1.Sum(data)
	sum[6] = (sum[6] & 0x0f) | 0x50 // version 5
	sum[8] = (sum[8] & 0x3f) | 0x80 // RFC 4122 variant
	return formatUUID(sum[:16])
}

// formatUUID writes 16 bytes in the canonical 8-4-4-4-12 hex form.
func formatUUID(u []byte) string {
	const hexDigits = "0123456789abcdef"
	var out [36]byte
	j := 0
	for i, c := range u {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out[j] = '-'
			j++
		}
		out[j], out[j+1] = hexDigits[c>>4], hexDigits[c&0x0f]
		j += 2
	}
	return string(out[:])
}
