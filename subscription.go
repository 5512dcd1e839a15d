package shipevents

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// ErrInvalidSubscription is returned (wrapped) for a subscription that
// fails [Subscription.Validate].
var ErrInvalidSubscription = errors.New("shipevents: invalid subscription")

// PayloadForm is the body shape a subscription receives.
type PayloadForm string

// The payload forms.
const (
	FormNested      PayloadForm = "nested"      // the envelope as Event marshals it (default)
	FormFlat        PayloadForm = "flat"        // event_data lifted to the root; see Event.MarshalFlat
	FormCloudEvents PayloadForm = "cloudevents" // CloudEvents 1.0 structured JSON
)

// Subscription asks for events to be delivered to a webhook URL or to an
// in-process handler.
//
// Matching: the event's ref must match one of EnabledEvents ([MatchRef]);
// then, when set, its event_group must be one of EventGroups, its type one
// of Types, its tenant equal TenantID, and every Condition must hold. With
// EventGroups or Types set, EnabledEvents may be empty: every ref then
// passes to the other filters. Late events (see [AppendLate]) are
// delivered only when IncludeLate is set.
//
// The zero value of every other field is a working default: a
// subscription is enabled unless Disabled is set.
type Subscription struct {
	ID       string `json:"id"`
	TenantID string `json:"tenant_id,omitempty"` // empty: events of every tenant
	Name     string `json:"name,omitempty"`
	// URL is the webhook endpoint; Handler names an in-process handler
	// registered with [Dispatcher.Handle] (or a sender registered with
	// [Dispatcher.HandleSender]). Exactly one is set.
	URL     string `json:"url,omitempty"`
	Handler string `json:"handler,omitempty"`
	// EnabledEvents are ref patterns ([MatchRef]); empty matches every
	// ref when EventGroups or Types filter instead, and nothing otherwise
	// (Validate refuses it).
	EnabledEvents []string `json:"enabled_events"`
	// EventGroups and Types, when set, keep the events whose event_group
	// (one of [EventGroups]) or type (one of [EventTypes]) is listed.
	EventGroups []string    `json:"event_groups,omitempty"`
	Types       []string    `json:"types,omitempty"`
	Conditions  []Condition `json:"conditions,omitempty"`
	// Disabled stops deliveries: a disabled subscription matches no event,
	// and its deliveries still pending are dead-lettered when they come
	// due (replay them once it is enabled again). The dispatcher disables
	// a subscription whose endpoint answers 410 Gone, or keeps failing
	// ([DispatcherConfig.DisableAfter]), and says why in DisabledReason.
	// Its JSON is "disabled"; see [Subscription.MarshalJSON] for the
	// "active" of the earlier form.
	Disabled       bool        `json:"disabled,omitempty"`
	DisabledReason string      `json:"disabled_reason,omitempty"`
	IncludeLate    bool        `json:"include_late,omitempty"`
	Form           PayloadForm `json:"form,omitempty"`
	// Headers are sent with every request (static authentication).
	Headers map[string]string `json:"headers,omitempty"`
	OAuth2  *OAuth2           `json:"oauth2,omitempty"`
	// Secrets sign every request (Standard Webhooks, whsec_ base64
	// secrets). During rotation list the new and the old secret: the
	// request carries a signature for each.
	Secrets []string `json:"secrets,omitempty"`
	// Retry overrides the dispatcher's retry policy for this subscription.
	Retry *RetryPolicy `json:"retry,omitempty"`
	// MaxPerSecond, when positive, limits the requests each dispatcher
	// instance sends to this subscription, with bursts of up to one
	// second's worth. Deliveries over the limit are not attempted: they
	// wait in the store for their turn (no attempt counted). At most
	// 1,000,000.
	MaxPerSecond float64 `json:"max_per_second,omitempty"`
	// MaxInFlight, when positive, replaces the dispatcher's
	// MaxInFlightPerSubscription for this subscription: how many attempts
	// to it each dispatcher instance makes at once (at most its Workers).
	// Raise it for a high-volume endpoint, lower it for one that copes
	// with few concurrent requests. Zero means the dispatcher's setting.
	MaxInFlight int       `json:"max_in_flight,omitempty"`
	CreatedAt   time.Time `json:"created_at,omitzero"`
	UpdatedAt   time.Time `json:"updated_at,omitzero"`
}

// subscriptionFields is Subscription without its methods: what its JSON
// methods encode and decode.
type subscriptionFields Subscription

// MarshalJSON implements json.Marshaler: the fields by their tags, and
// "active", the negation of Disabled, which the earlier form of the JSON
// had instead: a reader that knows only that form (an older instance
// sharing the store) still sees the subscription's state.
func (s Subscription) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		subscriptionFields
		Active bool `json:"active"`
	}{subscriptionFields(s), !s.Disabled})
}

// UnmarshalJSON implements json.Unmarshaler. "disabled" decides the
// state; a body of the earlier form, without it, is disabled when its
// "active" is false, so stored subscriptions keep their state.
func (s *Subscription) UnmarshalJSON(b []byte) error {
	aux := struct {
		*subscriptionFields
		Disabled *bool `json:"disabled"`
		Active   *bool `json:"active"`
	}{subscriptionFields: (*subscriptionFields)(s)}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	switch {
	case aux.Disabled != nil:
		s.Disabled = *aux.Disabled
	case aux.Active != nil:
		s.Disabled = !*aux.Active
	}
	return nil
}

// OAuth2 configures the client-credentials grant: the sender fetches a
// token from TokenURL, caches it until shortly before it expires, and
// fetches a new one when the endpoint answers 401.
type OAuth2 struct {
	TokenURL     string            `json:"token_url"`
	ClientID     string            `json:"client_id"`
	ClientSecret string            `json:"client_secret"`
	Scopes       []string          `json:"scopes,omitempty"`
	Params       map[string]string `json:"params,omitempty"` // extra form values (audience, resource)
}

// Condition is a test on one field of an event. Field is one of id, type,
// source, ref, event_name, event_group, phase, direction, status, carrier,
// tracking_number, tenant_id, correlation_id, transaction_id, test_mode,
// carrier_status.code, metadata.KEY or event_data.KEY (typed event_data
// keys and Extra keys holding strings, numbers or booleans).
type Condition struct {
	Field string      `json:"field"`
	Op    ConditionOp `json:"op"`
	// Values: one for eq, ne and prefix; any number for in and not_in;
	// none for exists and missing.
	Values []string `json:"values,omitempty"`
}

// ConditionOp is a condition's comparison.
type ConditionOp string

// The condition operators.
const (
	OpEq      ConditionOp = "eq"
	OpNe      ConditionOp = "ne"
	OpIn      ConditionOp = "in"
	OpNotIn   ConditionOp = "not_in"
	OpPrefix  ConditionOp = "prefix"
	OpExists  ConditionOp = "exists"
	OpMissing ConditionOp = "missing"
)

// Validate reports what is wrong with s, wrapping ErrInvalidSubscription.
// Besides the rules of each field, it refuses what no store could keep or
// no request could carry: a NUL byte or invalid UTF-8 in any string, an
// ID or TenantID longer than [MaxIdentifierBytes], and header names or
// values HTTP does not allow. Its messages never quote secrets, header
// values or OAuth2 credentials.
func (s *Subscription) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrInvalidSubscription, quote(s.ID), fmt.Sprintf(format, args...))
	}
	if s.ID == "" {
		return fmt.Errorf("%w: empty id", ErrInvalidSubscription)
	}
	if field, problem := s.unstorable(); problem != "" {
		return bad("%s %s", field, problem)
	}
	for name, val := range s.Headers {
		if !validHeaderName(name) {
			return bad("header name %s is not an HTTP token", quote(name))
		}
		if !validHeaderValue(val) {
			return bad("the value of header %s holds a control character (CR, LF, NUL ...)", quote(name))
		}
	}
	if (s.URL == "") == (s.Handler == "") {
		return bad("exactly one of url and handler must be set")
	}
	if s.URL != "" {
		u, err := url.Parse(s.URL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("url must be an absolute http or https URL")
		}
	}
	if len(s.EnabledEvents) == 0 && len(s.EventGroups) == 0 && len(s.Types) == 0 {
		return bad("nothing to match: enabled_events is empty, and neither event_groups nor types is set")
	}
	for _, p := range s.EnabledEvents {
		if err := ValidatePattern(p); err != nil {
			return bad("%v", err)
		}
	}
	for i, g := range s.EventGroups {
		if !eventGroupSet[g] {
			return bad("event_groups[%d] %s is not an event group (EventGroups lists them): it would match nothing", i, quote(g))
		}
	}
	for i, ty := range s.Types {
		if !eventTypeSet[ty] {
			return bad("types[%d] %s is not an event type (EventTypes lists them): it would match nothing", i, quote(ty))
		}
	}
	switch s.Form {
	case "", FormNested, FormFlat, FormCloudEvents:
	default:
		return bad("unknown form %s", quote(string(s.Form)))
	}
	for _, c := range s.Conditions {
		if err := c.validate(); err != nil {
			return bad("%v", err)
		}
	}
	for i, sec := range s.Secrets {
		if _, err := decodeSecret(sec); err != nil {
			return bad("secret %d: %v", i, err)
		}
	}
	if s.OAuth2 != nil {
		if s.OAuth2.TokenURL == "" || s.OAuth2.ClientID == "" {
			return bad("oauth2 needs token_url and client_id")
		}
	}
	if s.Retry != nil {
		if err := s.Retry.Validate(); err != nil {
			return bad("%v", err)
		}
	}
	if !(s.MaxPerSecond >= 0 && s.MaxPerSecond <= maxPerSecondLimit) {
		return bad("max_per_second must be between 0 (no limit) and %d", maxPerSecondLimit)
	}
	if s.MaxInFlight < 0 {
		return bad("max_in_flight %d is negative (0 means the dispatcher's MaxInFlightPerSubscription)", s.MaxInFlight)
	}
	return nil
}

// unstorable names the first field of s that no store could keep, and
// why; both are "" when every field can be stored. It names fields that
// hold credentials without quoting them.
func (s *Subscription) unstorable() (field, problem string) {
	for _, f := range [...]struct{ name, v string }{
		{"id", s.ID}, {"tenant_id", s.TenantID},
	} {
		if len(f.v) > MaxIdentifierBytes {
			return f.name, fmt.Sprintf("is %d bytes long, limit %d", len(f.v), MaxIdentifierBytes)
		}
	}
	for _, f := range [...]struct{ name, v string }{
		{"id", s.ID}, {"tenant_id", s.TenantID}, {"name", s.Name}, {"url", s.URL}, {"handler", s.Handler},
		{"disabled_reason", s.DisabledReason}, {"form", string(s.Form)},
	} {
		if p := textProblem(f.v); p != "" {
			return f.name, p
		}
	}
	for _, f := range [...]struct {
		name string
		v    []string
	}{{"enabled_events", s.EnabledEvents}, {"event_groups", s.EventGroups}, {"types", s.Types}, {"secrets", s.Secrets}} {
		for i, v := range f.v {
			if p := textProblem(v); p != "" {
				return fmt.Sprintf("%s[%d]", f.name, i), p
			}
		}
	}
	for i, c := range s.Conditions {
		if p := textProblem(c.Field); p != "" {
			return fmt.Sprintf("conditions[%d].field", i), p
		}
		if p := textProblem(string(c.Op)); p != "" {
			return fmt.Sprintf("conditions[%d].op", i), p
		}
		for j, v := range c.Values {
			if p := textProblem(v); p != "" {
				return fmt.Sprintf("conditions[%d].values[%d]", i, j), p
			}
		}
	}
	for name, val := range s.Headers {
		if p := textProblem(name); p != "" {
			return "headers", "has a name that " + p
		}
		if p := textProblem(val); p != "" {
			return "the value of header " + quote(name), p
		}
	}
	if o := s.OAuth2; o != nil {
		for _, f := range [...]struct{ name, v string }{
			{"oauth2.token_url", o.TokenURL}, {"oauth2.client_id", o.ClientID}, {"oauth2.client_secret", o.ClientSecret},
		} {
			if p := textProblem(f.v); p != "" {
				return f.name, p
			}
		}
		for i, v := range o.Scopes {
			if p := textProblem(v); p != "" {
				return fmt.Sprintf("oauth2.scopes[%d]", i), p
			}
		}
		for name, val := range o.Params {
			if p := textProblem(name); p != "" {
				return "oauth2.params", "has a name that " + p
			}
			if p := textProblem(val); p != "" {
				return "the value of oauth2 param " + quote(name), p
			}
		}
	}
	return "", ""
}

// maxPerSecondLimit bounds Subscription.MaxPerSecond, beyond which the
// limiter's arithmetic would lose its meaning.
const maxPerSecondLimit = 1_000_000

// conditionFields are the fields [EventField] reads by name; it also reads
// metadata.KEY and event_data.KEY.
var conditionFields = []string{"id", "type", "source", "ref", "event_name", "event_group", "phase", "direction",
	"status", "carrier", "tracking_number", "tenant_id", "correlation_id", "transaction_id", "test_mode",
	"carrier_status.code"}

func (c Condition) validate() error {
	if c.Field == "" {
		return errors.New("condition with empty field")
	}
	if !slices.Contains(conditionFields, c.Field) {
		prefix, key, _ := strings.Cut(c.Field, ".")
		if (prefix != "metadata" && prefix != "event_data") || key == "" {
			// It would never be present: the condition would hold never
			// (or, negated, always).
			return fmt.Errorf("condition on %s: no event has that field (see Condition)", quote(c.Field))
		}
	}
	switch c.Op {
	case OpEq, OpNe, OpPrefix:
		if len(c.Values) != 1 {
			return fmt.Errorf("condition %s %s needs one value", quote(c.Field), c.Op)
		}
	case OpIn, OpNotIn:
		if len(c.Values) == 0 {
			return fmt.Errorf("condition %s %s needs values", quote(c.Field), c.Op)
		}
	case OpExists, OpMissing:
	default:
		return fmt.Errorf("condition %s: unknown op %s", quote(c.Field), quote(string(c.Op)))
	}
	return nil
}

// wants reports whether s would have received the stored event e when it
// was published: a pattern matches its ref, it passes the filters, and
// it is not late unless s takes late events.
func (s *Subscription) wants(e *Event, late bool) bool {
	if late && !s.IncludeLate {
		return false
	}
	for _, p := range s.patterns() {
		if MatchRef(p, e.Ref) {
			return s.Matches(e)
		}
	}
	return false
}

// everyRef is the pattern list of a subscription that filters by event
// group or type alone.
var everyRef = []string{"*"}

// patterns returns the ref patterns s is matched by: EnabledEvents, or
// every ref when it is empty and EventGroups or Types filter instead.
func (s *Subscription) patterns() []string {
	if len(s.EnabledEvents) == 0 && (len(s.EventGroups) > 0 || len(s.Types) > 0) {
		return everyRef
	}
	return s.EnabledEvents
}

// Matches reports whether e passes every filter of s after its ref pattern
// matched: not disabled, tenant, event groups, types and conditions. It
// does not look at EnabledEvents (the dispatcher's [RefIndex] does that).
func (s *Subscription) Matches(e *Event) bool {
	if s.Disabled {
		return false
	}
	if s.TenantID != "" && s.TenantID != e.TenantID {
		return false
	}
	if len(s.EventGroups) > 0 && !slices.Contains(s.EventGroups, e.EventGroup) {
		return false
	}
	if len(s.Types) > 0 && !slices.Contains(s.Types, e.Type) {
		return false
	}
	for _, c := range s.Conditions {
		if !c.Holds(e) {
			return false
		}
	}
	return true
}

// Holds reports whether the condition holds for e.
func (c Condition) Holds(e *Event) bool {
	v, ok := EventField(e, c.Field)
	switch c.Op {
	case OpExists:
		return ok
	case OpMissing:
		return !ok
	case OpEq:
		return ok && len(c.Values) == 1 && v == c.Values[0]
	case OpNe:
		return !ok || len(c.Values) != 1 || v != c.Values[0]
	case OpIn:
		return ok && slices.Contains(c.Values, v)
	case OpNotIn:
		return !ok || !slices.Contains(c.Values, v)
	case OpPrefix:
		return ok && len(c.Values) == 1 && strings.HasPrefix(v, c.Values[0])
	}
	return false
}

// EventField returns the string form of one field of e, as conditions see
// it; ok is false when the field is absent or empty.
func EventField(e *Event, field string) (string, bool) {
	var v string
	switch field {
	case "id":
		v = e.ID
	case "type":
		v = e.Type
	case "source":
		v = e.Source
	case "ref":
		v = e.Ref
	case "event_name":
		v = e.EventName
	case "event_group":
		v = e.EventGroup
	case "phase":
		v = string(e.Phase)
	case "direction":
		v = string(e.Direction)
	case "status":
		v = string(e.Status)
	case "carrier":
		v = e.Carrier
	case "tracking_number":
		v = e.TrackingNumber
	case "tenant_id":
		v = e.TenantID
	case "correlation_id":
		v = e.CorrelationID
	case "transaction_id":
		v = e.TransactionID
	case "test_mode":
		v = strconv.FormatBool(e.TestMode)
	case "carrier_status.code":
		if e.CarrierStatus != nil {
			v = e.CarrierStatus.Code
		}
	default:
		if key, ok := strings.CutPrefix(field, "metadata."); ok {
			v = e.Metadata[key]
		} else if key, ok := strings.CutPrefix(field, "event_data."); ok {
			v = eventDataField(&e.Data, key)
		}
	}
	return v, v != ""
}

func eventDataField(d *EventData, key string) string {
	switch key {
	case "description":
		return d.Description
	case "signed_by":
		return d.SignedBy
	case "service":
		return d.Service
	case "shipment_id":
		return d.ShipmentID
	case "order_id":
		return d.OrderID
	case "return_id":
		return d.ReturnID
	case "claim_id":
		return d.ClaimID
	case "reason":
		return d.Reason
	case "previous_status":
		return d.PreviousStatus
	case "location.country":
		if d.Location != nil {
			return d.Location.Country
		}
		return ""
	}
	switch x := d.Extra[key].(type) {
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return ""
}

// LogValue implements slog.LogValuer: the subscription without its
// secrets, header values or OAuth2 client secret.
func (s Subscription) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("id", s.ID), slog.Bool("disabled", s.Disabled)}
	if s.TenantID != "" {
		attrs = append(attrs, slog.String("tenant_id", s.TenantID))
	}
	if s.URL != "" {
		attrs = append(attrs, slog.String("url", redactURL(s.URL)))
	}
	if s.Handler != "" {
		attrs = append(attrs, slog.String("handler", s.Handler))
	}
	return slog.GroupValue(attrs...)
}

// redactURL returns the URL as logs and errors may show it: scheme, host
// and port. Userinfo, the query and the path are replaced or dropped:
// each often carries a token (chat webhooks such as
// https://hooks.slack.com/services/T000/B000/XXXX are authorised by their
// path alone).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(unparseable url)"
	}
	out := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.Opaque != "" {
		out += "/redacted"
	}
	if u.RawQuery != "" || u.ForceQuery {
		out += "?redacted"
	}
	return out
}

// Clone returns a deep copy of s: its slices and maps are not shared.
func (s Subscription) Clone() Subscription {
	c := s
	c.EnabledEvents = slices.Clone(s.EnabledEvents)
	c.EventGroups = slices.Clone(s.EventGroups)
	c.Types = slices.Clone(s.Types)
	c.Secrets = slices.Clone(s.Secrets)
	if s.Conditions != nil {
		c.Conditions = make([]Condition, len(s.Conditions))
		for i, cond := range s.Conditions {
			cond.Values = slices.Clone(cond.Values)
			c.Conditions[i] = cond
		}
	}
	if s.Headers != nil {
		c.Headers = make(map[string]string, len(s.Headers))
		for k, v := range s.Headers {
			c.Headers[k] = v
		}
	}
	if s.OAuth2 != nil {
		o := *s.OAuth2
		o.Scopes = slices.Clone(o.Scopes)
		if o.Params != nil {
			o.Params = make(map[string]string, len(s.OAuth2.Params))
			for k, v := range s.OAuth2.Params {
				o.Params[k] = v
			}
		}
		c.OAuth2 = &o
	}
	if s.Retry != nil {
		r := *s.Retry
		r.Schedule = slices.Clone(r.Schedule)
		c.Retry = &r
	}
	return c
}
