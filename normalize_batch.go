package shipevents

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shipevents/shipevents/internal/jsondecode"
)

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

// The memory a payload's arrays may take once decoded: real payloads need
// a few bytes per input byte; a hostile megabyte of "{}," elements would
// otherwise take hundreds of megabytes.
const (
	minSliceBudget     = 4 << 20
	sliceBudgetPerByte = 16
)

// decode unmarshals raw into v as json.Unmarshal would, reporting errors
// as PayloadErrors.
func (b *batch) decode(raw []byte, v any) error {
	lim := jsondecode.Limits{MaxDepth: b.n.maxDepth, MaxSliceBytes: max(minSliceBudget, sliceBudgetPerByte*len(raw))}
	if err := jsondecode.DecodeLimited(raw, v, lim); err != nil {
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
	if err := checkIdentifiers(s.carrier, s.trackingNumber, s.tenantID, s.correlationID, s.transactionID); err != nil {
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

// checkIdentifiers refuses identifiers longer than MaxIdentifierBytes,
// which Event.Validate would refuse.
func checkIdentifiers(ids ...string) error {
	for _, id := range ids {
		if len(id) > MaxIdentifierBytes {
			return fmt.Errorf("identifier %s is %d bytes long, limit %d", quote(id), len(id), MaxIdentifierBytes)
		}
	}
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
	if err := checkIdentifiers(e.ID, e.Carrier, e.TrackingNumber, e.TenantID, e.CorrelationID, e.TransactionID); err != nil {
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
