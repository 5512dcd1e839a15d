package shipevents

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Payload formats accepted by [Normalize].
const (
	FormatUPS            = "ups"             // UPS Track API response or Track Alert webhook
	FormatFedEx          = "fedex"           // FedEx Track API response
	FormatDHL            = "dhl"             // DHL Shipment Tracking, Unified API
	FormatUSPS           = "usps"            // USPS Tracking v3
	FormatDHLExpress     = "dhl_express"     // DHL Express MyDHL API tracking response
	FormatGLS            = "gls"             // GLS Track And Trace API v1
	FormatLaPoste        = "laposte"         // La Poste Suivi API v2 (Colissimo, Chronopost, Courrier)
	FormatHermes         = "hermes"          // Hermes Germany HSI shipment info
	FormatAmazonShipping = "amazon_shipping" // Amazon Shipping API v2 getTracking response
	FormatParcelOne      = "parcelone"       // Parcel.One TrackLMC response
	FormatSEKO           = "seko"            // SEKO Logistics (OmniParcel) tracking response
	FormatSpring         = "spring"          // Spring GDS XBS TrackShipment response
	FormatEasyPost       = "easypost"        // EasyPost Event (tracker.*) or Tracker
	FormatAfterShip      = "aftership"       // AfterShip tracking webhook
	FormatShippo         = "shippo"          // Shippo track_updated webhook or Track
	FormatKarrio         = "karrio"          // Karrio tracking event or tracker
	FormatShipEngine     = "shipengine"      // ShipEngine tracking webhook (API_TRACK) or track response
	FormatFulfillment    = "fulfillment"     // kind/time/transactionId shipment events
	FormatDetect         = ""                // detect the format from the payload's shape
)

// XML payload formats accepted by [Normalize].
const (
	FormatCanadaPost  = "canadapost"    // Canada Post Get Tracking Details (tracking-detail)
	FormatPurolator   = "purolator"     // Purolator TrackPackagesByPin SOAP response
	FormatDHLParcelDE = "dhl_parcel_de" // DHL Parcel DE Tracking d-get-piece-detail (piece-shipment-list)
	FormatBpost       = "bpost"         // bpost track and trace (itemTracking)
)

// Limits applied when a [NormalizerConfig] leaves them zero.
const (
	DefaultMaxPayloadBytes = 1 << 20 // 1 MiB: the largest real tracking histories are tens of KB
	DefaultMaxDepth        = 32
	DefaultMaxEvents       = 10000
)

// NormalizerConfig configures a [Normalizer]. The zero value means the
// embedded crosswalk tables, the default limits and the system clock.
type NormalizerConfig struct {
	// Mapper resolves carrier codes; nil means the embedded tables.
	Mapper *Mapper
	// MaxPayloadBytes bounds the input size (default 1 MiB).
	MaxPayloadBytes int
	// MaxDepth bounds object/array nesting, or element nesting in XML
	// (default 32).
	MaxDepth int
	// MaxEvents bounds the events one payload may produce (default 10,000).
	MaxEvents int
	// Now returns the current time, used for triggered_at; nil means time.Now.
	Now func() time.Time
}

// Normalizer turns raw carrier and aggregator payloads into canonical
// events. It is safe for concurrent use.
type Normalizer struct {
	mapper    *Mapper
	maxBytes  int
	maxDepth  int
	maxEvents int
	now       func() time.Time
}

// NewNormalizer returns a Normalizer with the given configuration.
func NewNormalizer(cfg NormalizerConfig) *Normalizer {
	n := &Normalizer{mapper: cfg.Mapper, maxBytes: cfg.MaxPayloadBytes, maxDepth: cfg.MaxDepth, maxEvents: cfg.MaxEvents, now: cfg.Now}
	if n.mapper == nil {
		n.mapper = builtinMapper()
	}
	if n.maxBytes <= 0 {
		n.maxBytes = DefaultMaxPayloadBytes
	}
	if n.maxDepth <= 0 {
		n.maxDepth = DefaultMaxDepth
	}
	if n.maxEvents <= 0 {
		n.maxEvents = DefaultMaxEvents
	}
	if n.now == nil {
		n.now = time.Now
	}
	return n
}

var defaultNormalizer = sync.OnceValue(func() *Normalizer { return NewNormalizer(NormalizerConfig{}) })

// Normalize turns one raw payload into canonical events using the embedded
// tables and default limits; see [Normalizer.Normalize].
func Normalize(format string, raw []byte) ([]Event, error) {
	return defaultNormalizer().Normalize(format, raw)
}

type formatParser func(b *batch, raw []byte) error

var parsers = map[string]formatParser{
	FormatUPS:            parseUPS,
	FormatFedEx:          parseFedEx,
	FormatDHL:            parseDHL,
	FormatUSPS:           parseUSPS,
	FormatDHLExpress:     parseDHLExpress,
	FormatGLS:            parseGLS,
	FormatLaPoste:        parseLaPoste,
	FormatHermes:         parseHermes,
	FormatAmazonShipping: parseAmazonShipping,
	FormatParcelOne:      parseParcelOne,
	FormatSEKO:           parseSEKO,
	FormatSpring:         parseSpring,
	FormatCanadaPost:     parseCanadaPost,
	FormatPurolator:      parsePurolator,
	FormatDHLParcelDE:    parseDHLParcelDE,
	FormatBpost:          parseBpost,
	FormatEasyPost:       parseEasyPost,
	FormatAfterShip:      parseAfterShip,
	FormatShippo:         parseShippo,
	FormatKarrio:         parseKarrio,
	FormatShipEngine:     parseShipEngine,
	FormatFulfillment:    parseFulfillment,
}

// Formats returns the names of the supported formats, sorted.
func Formats() []string {
	out := make([]string, 0, len(parsers))
	for f := range parsers {
		out = append(out, f)
	}
	slices.Sort(out)
	return out
}

// Normalize turns one raw payload of the given format into canonical
// events: one per scan or checkpoint, sorted oldest first by occurred_at
// (payload order breaks ties), each with a deterministic id, so the same
// scan normalized twice, in any process, has the same id. With format ""
// the format is detected from the payload's shape.
//
// Codes that no table knows become status UNKNOWN with event name
// UNMAPPED_STATUS; the raw code is always kept in carrier_status.
//
// Errors wrap [ErrUnknownFormat] or [ErrInvalidPayload]. Normalize never
// panics, and rejects oversized or too deeply nested input before decoding
// it.
func (n *Normalizer) Normalize(format string, raw []byte) ([]Event, error) {
	var parse formatParser
	if format != FormatDetect {
		parse = parsers[format]
		if parse == nil {
			return nil, fmt.Errorf("%w: %s (supported: %s)", ErrUnknownFormat, quote(format), strings.Join(Formats(), ", "))
		}
	}
	top, err := n.precheck(format, raw, format == FormatDetect)
	if err != nil {
		return nil, err
	}
	if format == FormatDetect {
		format = detect(top, raw)
		if format == "" {
			return nil, fmt.Errorf("%w: payload shape matches no known format (top-level keys: %s)", ErrUnknownFormat, top.keyList())
		}
		parse = parsers[format]
	}
	b := &batch{n: n, format: format, now: n.now().UTC()}
	if err := parse(b, raw); err != nil {
		return nil, b.wrap(err)
	}
	return b.finish(), nil
}

// DetectFormat returns the format Normalize would use for raw with format "".
func DetectFormat(raw []byte) (string, error) {
	n := defaultNormalizer()
	top, err := n.precheck("", raw, true)
	if err != nil {
		return "", err
	}
	if f := detect(top, raw); f != "" {
		return f, nil
	}
	return "", fmt.Errorf("%w: payload shape matches no known format (top-level keys: %s)", ErrUnknownFormat, top.keyList())
}

// topLevel records the top-level keys of a JSON object, and the values of
// the short string-valued ones, as seen by the precheck scan. For a
// top-level array (a batch) they are those of its first element. For an
// XML payload, xml holds its root instead.
type topLevel struct {
	isObject bool
	isArray  bool // the keys are the first element's
	keys     []string
	strs     map[string]string
	xml      *xmlRoot
}

func (t *topLevel) has(k string) bool { return slices.Contains(t.keys, k) }

// keyList names the top-level keys for an error message: the payload's
// own text, so each key is quoted and bounded, and at most 12 are named.
func (t *topLevel) keyList() string {
	if t.xml != nil {
		return t.xml.describe()
	}
	if !t.isObject {
		return "none: not a JSON object or an array of objects"
	}
	k := slices.Clone(t.keys)
	slices.Sort(k)
	return quoteList(k, 12)
}

// precheck enforces the size and text rules (valid UTF-8, and for JSON
// no NUL byte, escaped or not); an XML payload goes on to precheckXML.
// When asked for the top level (to detect the format) it scans the
// document once more, without allocating for it, recording the top-level
// keys and enforcing the depth limit; otherwise the decoder enforces that
// limit as it goes. Neither validates the JSON grammar: the decoder does
// that.
func (n *Normalizer) precheck(format string, raw []byte, wantTop bool) (*topLevel, error) {
	perr := func(off int, err error) error {
		return &PayloadError{Format: format, Offset: int64(off), Err: err}
	}
	if len(raw) == 0 {
		return nil, perr(-1, errors.New("empty payload"))
	}
	if len(raw) > n.maxBytes {
		return nil, perr(-1, fmt.Errorf("%w: %d bytes, limit %d", ErrPayloadTooLarge, len(raw), n.maxBytes))
	}
	if !utf8.Valid(raw) {
		return nil, perr(-1, errors.New("payload is not valid UTF-8"))
	}
	if isXMLPayload(raw) {
		return n.precheckXML(format, raw, wantTop)
	}
	if i := escapedNUL(raw); i >= 0 {
		// It would decode into a NUL byte, which no store can keep.
		return nil, perr(i, errors.New(`a string holds an escaped NUL (\u0000)`))
	}
	if !wantTop {
		return nil, nil
	}
	top := &topLevel{}
	depth := 0
	keyDepth := 1      // the depth of the object whose keys are recorded
	expectKey := false // at keyDepth inside that object, the next string is a key
	lastKey := ""
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '"':
			// Jump to the closing quote; strings are most of a payload.
			end := stringEnd(raw, i+1)
			if end < 0 {
				return top, nil // unterminated: the decoder reports it
			}
			if depth == keyDepth && top.isObject {
				if expectKey {
					lastKey = string(raw[i+1 : end])
					top.keys = append(top.keys, lastKey)
					expectKey = false
				} else if end-i-1 <= 64 {
					if top.strs == nil {
						top.strs = map[string]string{}
					}
					top.strs[lastKey] = string(raw[i+1 : end])
				}
			}
			i = end
		case '{', '[':
			depth++
			if depth > n.maxDepth {
				return nil, perr(i, tooDeep(n.maxDepth))
			}
			switch {
			case depth == 1 && raw[i] == '[':
				top.isArray = true
				keyDepth = 2
			case depth == keyDepth && raw[i] == '{' && !top.isObject:
				top.isObject = true
				expectKey = true
			}
		case '}', ']':
			if depth == keyDepth && top.isObject {
				keyDepth = -1 // the first element is done
			}
			depth--
		case ',':
			if depth == keyDepth && top.isObject {
				expectKey = true
			}
		case 0:
			return nil, perr(i, errors.New("NUL byte outside a string"))
		}
	}
	return top, nil
}

// stringEnd returns the index of the quote closing a JSON string whose
// contents start at from, or -1.
func stringEnd(raw []byte, from int) int {
	for {
		k := bytes.IndexByte(raw[from:], '"')
		if k < 0 {
			return -1
		}
		end := from + k
		backslashes := 0
		for p := end - 1; p >= from && raw[p] == '\\'; p-- {
			backslashes++
		}
		if backslashes%2 == 0 {
			return end
		}
		from = end + 1
	}
}

// detect names the format whose shape the top level matches, or "".
// raw is read beyond the top level only where two JSON formats share it.
func detect(t *topLevel, raw []byte) string {
	if t != nil && t.xml != nil {
		return detectXML(t.xml)
	}
	if t == nil || !t.isObject {
		return ""
	}
	if t.isArray { // fulfillment batches, multi-item La Poste responses, SEKO consignment lists
		switch {
		case fulfillmentShape(t):
			return FormatFulfillment
		case laposteShape(t):
			return FormatLaPoste
		case sekoShape(t):
			return FormatSEKO
		}
		return ""
	}
	switch {
	case t.has("trackResponse"):
		return FormatUPS
	case t.has("activityStatus") && t.has("trackingNumber"):
		return FormatUPS // Track Alert webhook
	case t.has("output") && (t.has("transactionId") || t.has("customerTransactionId")):
		return FormatFedEx
	case t.has("shipments") && !t.has("kind"):
		if firstElementHas(raw, "shipments", "shipmentTrackingNumber") {
			return FormatDHLExpress // MyDHL names the waybill; the Unified API has id
		}
		return FormatDHL
	case t.has("parcels") && firstElementHas(raw, "parcels", "unitno", "requested"):
		return FormatGLS
	case laposteShape(t):
		return FormatLaPoste
	case t.has("shipmentinfo"):
		return FormatHermes
	case t.has("trackingEvents") || (t.has("trackingNumber") && (t.has("statusCategory") || t.has("mailClass"))):
		return FormatUSPS
	case t.has("trackingId") && t.has("eventHistory"), len(t.keys) == 1 && t.has("payload"):
		return FormatAmazonShipping
	case t.has("P1Trackno"):
		return FormatParcelOne
	case sekoShape(t):
		return FormatSEKO
	case t.has("ErrorLevel") && (t.has("Shipment") || t.has("Error")):
		return FormatSpring
	case t.strs["object"] == "Event" && t.has("result"), t.strs["object"] == "Tracker":
		return FormatEasyPost
	case t.has("msg") && (t.has("ts") || t.has("event_id")):
		return FormatAfterShip
	case t.strs["event"] == "track_updated" && t.has("data"),
		t.has("tracking_status") && t.has("tracking_history"):
		return FormatShippo
	case fulfillmentShape(t):
		return FormatFulfillment
	case t.strs["resource_type"] == "API_TRACK",
		t.has("tracking_number") && t.has("status_code") && t.has("events") && !t.has("carrier_name"):
		return FormatShipEngine
	case t.has("data") && (strings.HasPrefix(t.strs["type"], "tracker.") || strings.HasPrefix(t.strs["type"], "tracking.")),
		t.has("carrier_name") && t.has("events") && t.has("tracking_number"):
		return FormatKarrio
	}
	return ""
}

// laposteShape reports whether the keys are a La Poste Suivi response's.
func laposteShape(t *topLevel) bool {
	return t.has("returnCode") && (t.has("shipment") || t.has("returnMessage"))
}

// fulfillmentShape reports whether the keys are a fulfillment event's.
func fulfillmentShape(t *topLevel) bool {
	return strings.HasPrefix(t.strs["kind"], "shipment.") && t.has("time")
}
