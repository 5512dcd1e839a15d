package console

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/shipevents/shipevents"
)

// MaxOffset bounds the offset of a page of events: past it a store walks
// that many matches on every call, and a cursor (after, before) reaches
// the same page at the cost of one.
const MaxOffset = 10_000

// eventParams are the query parameters of an event search (GET
// /api/events and the dashboard's event page), Karrio's names where
// Karrio has them.
var eventParams = []string{"type", "ref", "tenant", "carrier", "tracking_number", "correlation_id", "transaction_id",
	"event_group", "status", "metadata_key", "metadata_value", "test_mode", "occurred_after", "occurred_before",
	"first", "offset", "after", "before"}

// params reads query parameters and collects what is wrong with them.
type params struct {
	q   url.Values
	bad []invalidParam
}

func (p *params) fail(name, format string, args ...any) {
	p.bad = append(p.bad, invalidParam{Name: name, Reason: fmt.Sprintf(format, args...)})
}

// only refuses parameters not in known (a typo would otherwise widen the
// search silently).
func (p *params) only(known []string) {
	for name := range p.q {
		if !slices.Contains(known, name) {
			p.fail(name, "unknown parameter (known: %s)", strings.Join(known, ", "))
		}
	}
	slices.SortFunc(p.bad, func(a, b invalidParam) int { return strings.Compare(a.Name, b.Name) })
}

// one returns the single value of name ("" when absent), refusing
// repeats.
func (p *params) one(name string) string {
	vs := p.q[name]
	if len(vs) > 1 {
		p.fail(name, "given %d times; it takes one value", len(vs))
	}
	if len(vs) == 0 {
		return ""
	}
	return p.text(name, vs[0])
}

// text refuses values no identifier can hold.
func (p *params) text(name, v string) string {
	if len(v) > shipevents.MaxIdentifierBytes {
		p.fail(name, "longer than %d bytes", shipevents.MaxIdentifierBytes)
		return ""
	}
	if strings.IndexByte(v, 0) >= 0 || !utf8Valid(v) {
		p.fail(name, "holds a NUL byte or invalid UTF-8")
		return ""
	}
	return v
}

func (p *params) intIn(name string, lo, hi int) int {
	v := p.one(name)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail(name, "must be a whole number from %d to %d", lo, hi)
		return 0
	}
	return n
}

func (p *params) time(name string) time.Time {
	v := p.one(name)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		p.fail(name, "must be an RFC 3339 time such as 2026-11-02T15:04:05Z")
	}
	return t
}

func (p *params) boolean(name string) (value, set bool) {
	switch v := p.one(name); v {
	case "":
		return false, false
	case "true":
		return true, true
	case "false":
		return false, true
	default:
		p.fail(name, "must be true or false")
		return false, false
	}
}

// problem returns the 400 for what was wrong, or nil.
func (p *params) problem() error {
	if len(p.bad) == 0 {
		return nil
	}
	return badParams(p.bad...)
}

// tenantFor is the tenant a request may see: the principal's when it is
// limited to one (a different tenant asked for is refused), else the
// one asked for ("" for none).
func tenantFor(pr Principal, asked string) (string, error) {
	if pr.AllTenants {
		return asked, nil
	}
	if asked != "" && asked != pr.TenantID {
		return "", problem{Status: http.StatusForbidden, Detail: "this principal is limited to its own tenant"}
	}
	return pr.TenantID, nil
}

// eventFilter reads an event search from q, limited to what pr may see.
func eventFilter(pr Principal, q url.Values) (shipevents.EventFilter, error) {
	p := &params{q: q}
	p.only(eventParams)
	var f shipevents.EventFilter
	for _, t := range q["type"] {
		if !slices.Contains(shipevents.EventTypes(), t) {
			p.fail("type", "%q is not an event type (one of %s)", clip(t), strings.Join(shipevents.EventTypes(), ", "))
			continue
		}
		f.Types = append(f.Types, t)
	}
	if f.RefPattern = p.one("ref"); f.RefPattern != "" {
		if err := shipevents.ValidatePattern(f.RefPattern); err != nil {
			p.fail("ref", "not a ref pattern: segments separated by /, none empty, * for any one")
		}
	}
	tenant := p.one("tenant")
	f.Carrier = p.one("carrier")
	f.TrackingNumber = p.one("tracking_number")
	f.CorrelationID = p.one("correlation_id")
	f.TransactionID = p.one("transaction_id")
	for _, g := range q["event_group"] {
		if !slices.Contains(shipevents.EventGroups(), g) {
			p.fail("event_group", "%q is not an event group (one of %s)", clip(g), strings.Join(shipevents.EventGroups(), ", "))
			continue
		}
		f.EventGroups = append(f.EventGroups, g)
	}
	for _, s := range q["status"] {
		if !shipevents.Status(s).Valid() {
			p.fail("status", "%q is not a status (one of %s)", clip(s), statusList())
			continue
		}
		f.Statuses = append(f.Statuses, shipevents.Status(s))
	}
	key, value := p.one("metadata_key"), p.one("metadata_value")
	switch {
	case key != "":
		f.Metadata = map[string]string{key: value}
	case value != "":
		p.fail("metadata_value", "needs metadata_key")
	}
	if test, set := p.boolean("test_mode"); set {
		f.TestMode = shipevents.TestModeLive
		if test {
			f.TestMode = shipevents.TestModeOnly
		}
	}
	f.OccurredAfter = p.time("occurred_after")
	f.OccurredBefore = p.time("occurred_before")
	if !f.OccurredAfter.IsZero() && !f.OccurredBefore.IsZero() && !f.OccurredAfter.Before(f.OccurredBefore) {
		p.fail("occurred_before", "must be later than occurred_after")
	}
	f.Limit = p.intIn("first", 1, shipevents.MaxPageSize)
	f.Offset = p.intIn("offset", 0, MaxOffset)
	f.After, f.Before = p.one("after"), p.one("before")
	if err := p.problem(); err != nil {
		return f, err
	}
	t, err := tenantFor(pr, tenant)
	f.TenantID = t
	return f, err
}

func statusList() string {
	var out []string
	for _, s := range shipevents.Statuses() {
		out = append(out, string(s))
	}
	return strings.Join(out, ", ")
}

// clip quotes at most 64 bytes of a value back to the caller.
func clip(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// deliveryParams are the query parameters of GET /api/deliveries.
var deliveryParams = []string{"state", "subscription_id", "event_id", "tenant", "order", "first", "after"}

// deliveryFilter reads a delivery search from q, limited to what pr may
// see.
func deliveryFilter(pr Principal, q url.Values) (shipevents.DeliveryFilter, error) {
	p := &params{q: q}
	p.only(deliveryParams)
	var f shipevents.DeliveryFilter
	switch st := shipevents.DeliveryState(p.one("state")); st {
	case "", shipevents.DeliveryPending, shipevents.DeliveryInFlight, shipevents.DeliverySucceeded, shipevents.DeliveryDead:
		f.State = st
	default:
		p.fail("state", "must be pending, in_flight, succeeded or dead")
	}
	f.SubscriptionID = p.one("subscription_id")
	f.EventID = p.one("event_id")
	tenant := p.one("tenant")
	switch p.one("order") {
	case "", "oldest":
	case "newest":
		f.NewestFirst = true
	default:
		p.fail("order", "must be oldest or newest")
	}
	f.Limit = p.intIn("first", 1, shipevents.MaxPageSize)
	f.After = p.one("after")
	if err := p.problem(); err != nil {
		return f, err
	}
	t, err := tenantFor(pr, tenant)
	f.TenantID = t
	return f, err
}
