package shipevents

import (
	"bytes"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Payload formats accepted by [Normalize].
const (
	FormatUPS            = "ups"             // UPS Track API response or Track Alert webhook
	FormatFedEx          = "fedex"           // FedEx Track API response
	FormatDHL            = "dhl"             // DHL Shipment Tracking, Unified API
	FormatUSPS           = "usps"            // USPS Tracking v3
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

// Errors returned by [Normalize]; test with [errors.Is].
var (
	// ErrUnknownFormat: the format name is not supported, or "" was given
	// and the payload's shape matches no format.
	ErrUnknownFormat = errors.New("shipevents: unknown format")
	// ErrInvalidPayload: the payload is not valid input for its format.
	// The error is a *PayloadError saying what was wrong and where.
	ErrInvalidPayload = errors.New("shipevents: invalid payload")
	// ErrPayloadTooLarge: the payload exceeds the size limit, or its
	// arrays would decode into more than 16 bytes of records per input
	// byte (also matches ErrInvalidPayload).
	ErrPayloadTooLarge = errors.New("payload exceeds the size limit")
	// ErrPayloadTooDeep: the payload nests deeper than the depth limit
	// (also matches ErrInvalidPayload).
	ErrPayloadTooDeep = errors.New("payload nests deeper than the depth limit")
)

// PayloadError describes an invalid payload. It matches
// [ErrInvalidPayload] with errors.Is, and unwraps to the cause (a syntax
// error, a *json.UnmarshalTypeError, [ErrPayloadTooLarge], ...).
type PayloadError struct {
	Format string // the format being parsed ("" while detecting)
	Path   string // where in the document, dotted with [i] indexes; may be empty
	Offset int64  // byte offset of the problem, or -1 if unknown
	Err    error
}

// Error implements error.
func (e *PayloadError) Error() string {
	var b strings.Builder
	b.WriteString("shipevents: invalid ")
	if e.Format != "" {
		b.WriteString(e.Format)
		b.WriteByte(' ')
	}
	b.WriteString("payload")
	if e.Path != "" {
		b.WriteString(" at ")
		b.WriteString(e.Path)
	}
	if e.Offset >= 0 {
		b.WriteString(" (byte ")
		b.WriteString(strconv.FormatInt(e.Offset, 10))
		b.WriteByte(')')
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *PayloadError) Unwrap() error { return e.Err }

// Is reports whether target is ErrInvalidPayload.
func (e *PayloadError) Is(target error) bool { return target == ErrInvalidPayload }

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
	// MaxDepth bounds object/array nesting (default 32).
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
	FormatAmazonShipping: parseAmazonShipping,
	FormatParcelOne:      parseParcelOne,
	FormatSEKO:           parseSEKO,
	FormatSpring:         parseSpring,
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
			return nil, fmt.Errorf("%w: %q (supported: %s)", ErrUnknownFormat, format, strings.Join(Formats(), ", "))
		}
	}
	top, err := n.precheck(format, raw, format == FormatDetect)
	if err != nil {
		return nil, err
	}
	if format == FormatDetect {
		format = detect(top)
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
	if f := detect(top); f != "" {
		return f, nil
	}
	return "", fmt.Errorf("%w: payload shape matches no known format (top-level keys: %s)", ErrUnknownFormat, top.keyList())
}

// topLevel records the top-level keys of a JSON object, and the values of
// the short string-valued ones, as seen by the precheck scan. For a
// top-level array (a batch) they are those of its first element.
type topLevel struct {
	isObject bool
	isArray  bool // the keys are the first element's
	keys     []string
	strs     map[string]string
}

func (t *topLevel) has(k string) bool { return slices.Contains(t.keys, k) }

func (t *topLevel) keyList() string {
	if !t.isObject {
		return "none: not a JSON object or an array of objects"
	}
	k := slices.Clone(t.keys)
	slices.Sort(k)
	if len(k) > 12 {
		k = append(k[:12], "...")
	}
	return strings.Join(k, ", ")
}

// precheck enforces the size and UTF-8 rules. When asked for the top
// level (to detect the format) it scans the document once more, without
// allocating for it, recording the top-level keys and enforcing the depth
// limit; otherwise the decoder enforces that limit as it goes. Neither
// validates the JSON grammar: the decoder does that.
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
				return nil, perr(i, fmt.Errorf("%w: deeper than %d", ErrPayloadTooDeep, n.maxDepth))
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
func detect(t *topLevel) string {
	if t == nil || !t.isObject {
		return ""
	}
	if t.isArray { // fulfillment event batches and SEKO consignment lists
		switch {
		case fulfillmentShape(t):
			return FormatFulfillment
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
		return FormatDHL
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

// fulfillmentShape reports whether the keys are a fulfillment event's.
func fulfillmentShape(t *topLevel) bool {
	return strings.HasPrefix(t.strs["kind"], "shipment.") && t.has("time")
}

// codeRef is one lookup a scan asks for: a code in a carrier's namespace.
type codeRef struct{ carrier, namespace, code string }

// scan is what a format parser extracts from one scan or checkpoint.
type scan struct {
	carrier        string // envelope carrier slug (the underlying carrier for aggregators)
	trackingNumber string
	// lookups are tried in order; the first hit decides the mapping.
	lookups [4]codeRef
	nLookup int
	raw     CarrierStatus

	occurredAt  time.Time
	timeSource  string // TimeExplicit, ...
	carrierTime string

	typ           string // event type; default tracking.updated
	direction     Direction
	testMode      bool
	tenantID      string
	correlationID string
	transactionID string
	data          EventData
	// loc is the scan's location; add stores it in Data.Location unless it
	// is zero or Data.Location is already set.
	loc Location
	// mapping, when mapped is set, is used instead of the lookups.
	mapping Mapping
	mapped  bool
}

// lookup appends a lookup to s (empty codes are skipped).
func (s *scan) lookup(carrier, namespace, code string) {
	if code == "" || s.nLookup == len(s.lookups) {
		return
	}
	s.lookups[s.nLookup] = codeRef{carrier, namespace, code}
	s.nLookup++
}

// batch collects the events of one Normalize call.
type batch struct {
	n             *Normalizer
	format        string
	now           time.Time
	events        []Event
	newestFirst   bool // the payload lists scans newest first
	statusChunk   []CarrierStatus
	locationChunk []Location
	// The document path of the element being parsed, kept unformatted:
	// it is only rendered when an error needs it.
	pathFmt  string
	pathArgs [4]any
	nArgs    int
}

// at sets the document path used for errors reported from now on.
func (b *batch) at(format string, args ...any) {
	b.pathFmt = format
	b.nArgs = copy(b.pathArgs[:], args)
}

func (b *batch) path() string {
	if b.nArgs == 0 {
		return b.pathFmt
	}
	return fmt.Sprintf(b.pathFmt, b.pathArgs[:b.nArgs]...)
}

// fail returns a PayloadError at the current path.
func (b *batch) fail(format string, args ...any) error {
	return &PayloadError{Format: b.format, Path: b.path(), Offset: -1, Err: fmt.Errorf(format, args...)}
}

// wrap turns decoding errors into PayloadErrors.
func (b *batch) wrap(err error) error {
	var pe *PayloadError
	if errors.As(err, &pe) {
		if pe.Format == "" {
			pe.Format = b.format
		}
		return pe
	}
	out := &PayloadError{Format: b.format, Path: b.path(), Offset: -1, Err: err}
	var se *json.SyntaxError
	var jse *jsonSyntaxError
	var le *limitError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &jse):
		out.Offset = jse.Offset
	case errors.As(err, &le):
		out.Offset = le.Offset
	case errors.As(err, &se):
		out.Offset = se.Offset
	case errors.As(err, &te):
		out.Offset = te.Offset
		if te.Field != "" {
			out.Path = te.Field
		}
		out.Err = &typeMismatchError{te}
	}
	if errors.Is(err, ErrUnknownFormat) {
		return err
	}
	return out
}

// The memory a payload's arrays may take once decoded: real payloads need
// a few bytes per input byte; a hostile megabyte of "{}," elements would
// otherwise take hundreds of megabytes.
const (
	minSliceBudget     = 4 << 20
	sliceBudgetPerByte = 16
)

// typeMismatchError words a *json.UnmarshalTypeError for people sending
// payloads, who know JSON types rather than the parser's Go types.
type typeMismatchError struct{ err *json.UnmarshalTypeError }

func (e *typeMismatchError) Error() string {
	want := "a different type"
	t := e.err.Type
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		want = "a string"
	case reflect.Bool:
		want = "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		want = "an integer"
	case reflect.Float32, reflect.Float64:
		want = "a number"
	case reflect.Slice, reflect.Array:
		want = "an array"
	case reflect.Struct, reflect.Map:
		want = "an object"
	}
	return "got a JSON " + e.err.Value + ", want " + want
}

func (e *typeMismatchError) Unwrap() error { return e.err }

// decode unmarshals raw into v as json.Unmarshal would, reporting errors
// as PayloadErrors.
func (b *batch) decode(raw []byte, v any) error {
	lim := jsonLimits{maxDepth: b.n.maxDepth, maxSliceBytes: max(minSliceBudget, sliceBudgetPerByte*len(raw))}
	if err := decodeJSONLimited(raw, v, lim); err != nil {
		return b.wrap(err)
	}
	return nil
}

// add maps one scan and appends its event.
func (b *batch) add(s *scan) error {
	if len(b.events) >= b.n.maxEvents {
		return b.fail("more than %d events in one payload", b.n.maxEvents)
	}
	if s.occurredAt.IsZero() {
		return b.fail("scan has no time")
	}
	if err := checkInstant(s.occurredAt); err != nil {
		return b.fail("%v", err)
	}
	m := Mapping{Status: StatusUnknown, EventName: "UNMAPPED_STATUS"}
	namespace := ""
	if s.mapped {
		m = s.mapping
	} else {
		for i := 0; i < s.nLookup; i++ {
			l := s.lookups[i]
			if got, ok := b.n.mapper.Lookup(l.carrier, l.namespace, l.code); ok {
				m, namespace = got, l.namespace
				break
			}
		}
		if namespace == "" && s.nLookup > 0 {
			namespace = s.lookups[0].namespace // unmapped: say which table was asked first
		}
	}
	// Fill the event in place, field by field: an Event is large, and
	// copying a whole one costs more than everything else here.
	b.events = append(b.events, Event{})
	e := &b.events[len(b.events)-1]
	e.Type = s.typ
	e.Version = EnvelopeVersion
	e.Direction = s.direction
	e.Carrier = s.carrier
	e.TrackingNumber = s.trackingNumber
	e.OccurredAt = s.occurredAt.UTC()
	e.TriggeredAt = b.now
	e.TenantID = s.tenantID
	e.CorrelationID = s.correlationID
	e.TransactionID = s.transactionID
	e.TestMode = s.testMode
	e.Data = s.data
	if e.Data.Location == nil && !s.loc.IsZero() {
		l := b.newLocation()
		*l = s.loc
		e.Data.Location = l
	}
	if e.Type == "" {
		e.Type = TypeTrackingUpdated
	}
	if e.Direction == "" {
		e.Direction = DirectionForward
	}
	if s.raw != (CarrierStatus{}) {
		cs := b.newCarrierStatus()
		*cs = s.raw
		if cs.Namespace == "" {
			cs.Namespace = namespace
		}
		e.CarrierStatus = cs
	}
	e.Data.CarrierTime = s.carrierTime
	e.Data.OccurredAtSource = s.timeSource
	e.setShipmentStatus(m)
	e.ID = ScanID(e.Carrier, e.TrackingNumber, s.raw.Type, s.raw.Code, e.OccurredAt)
	return nil
}

// reserveEvents sizes the batch for n scans up front (bounded by the event
// limit), so that appending them does not grow the slice several times.
func reserveEvents(b *batch, n int) {
	n = min(n, b.n.maxEvents)
	if n > cap(b.events)-len(b.events) {
		b.events = slices.Grow(b.events, n)
	}
}

// pickNonBlank returns the first of its arguments that is not blank.
func pickNonBlank(vals ...string) string {
	for _, v := range vals {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

// newCarrierStatus returns a CarrierStatus from a chunk shared by the
// batch's events: one allocation per chunk instead of one per event.
func (b *batch) newCarrierStatus() *CarrierStatus {
	if len(b.statusChunk) == cap(b.statusChunk) {
		b.statusChunk = make([]CarrierStatus, 0, max(8, cap(b.events)-len(b.events)+1))
	}
	b.statusChunk = b.statusChunk[:len(b.statusChunk)+1]
	return &b.statusChunk[len(b.statusChunk)-1]
}

// newLocation returns a Location from a chunk shared by the batch.
func (b *batch) newLocation() *Location {
	if len(b.locationChunk) == cap(b.locationChunk) {
		b.locationChunk = make([]Location, 0, max(8, cap(b.events)-len(b.events)+1))
	}
	b.locationChunk = b.locationChunk[:len(b.locationChunk)+1]
	return &b.locationChunk[len(b.locationChunk)-1]
}

// addEvent appends a fully built event (record events).
func (b *batch) addEvent(e Event) error {
	if len(b.events) >= b.n.maxEvents {
		return b.fail("more than %d events in one payload", b.n.maxEvents)
	}
	if err := checkInstant(e.OccurredAt); err != nil {
		return b.fail("%v", err)
	}
	e.OccurredAt = e.OccurredAt.UTC()
	if e.TriggeredAt.IsZero() {
		e.TriggeredAt = b.now
	}
	if e.Version == 0 {
		e.Version = EnvelopeVersion
	}
	b.events = append(b.events, e)
	return nil
}

// finish orders the events oldest first and drops repeated scans.
func (b *batch) finish() []Event {
	ev := b.events
	if b.newestFirst {
		slices.Reverse(ev)
	}
	byTime := func(x, y Event) int { return x.OccurredAt.Compare(y.OccurredAt) }
	if !slices.IsSortedFunc(ev, byTime) { // the common case needs no moves
		slices.SortStableFunc(ev, byTime)
	}
	// Drop exact repeats (same id); they can only sit among equal instants.
	n := 0
	for i := range ev {
		dup := false
		for j := n - 1; j >= 0 && ev[j].OccurredAt.Equal(ev[i].OccurredAt); j-- {
			if ev[j].ID == ev[i].ID {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		if n != i {
			ev[n] = ev[i]
		}
		n++
	}
	clear(ev[n:]) // drop references held by the removed tail
	return ev[:n]
}

// scanNamespace is the UUID namespace of scan ids (a v5 UUID of the
// library's name in the URL namespace), fixed forever: changing it would
// change every id.
var scanNamespace = uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/shipevents/shipevents/scan"))

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

// Instants outside these bounds are treated as corrupt input.
var (
	minInstant = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)
	maxInstant = time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC)
)

func checkInstant(t time.Time) error {
	if t.Before(minInstant) || t.After(maxInstant) {
		return fmt.Errorf("time %s is outside the plausible range %d-%d", t.UTC().Format(time.RFC3339), minInstant.Year(), maxInstant.Year())
	}
	return nil
}
