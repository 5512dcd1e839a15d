package console

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/shipevents/shipevents"
)

// eventPage is the answer of GET /api/events.
type eventPage struct {
	PageInfo shipevents.PageInfo `json:"page_info"`
	Events   []shipevents.Event  `json:"events"`
}

func (c *Console) apiListEvents(w http.ResponseWriter, r *http.Request) error {
	f, err := eventFilter(principalOf(r), r.URL.Query())
	if err != nil {
		return err
	}
	page, err := c.d.Events(r.Context(), f)
	if err != nil {
		return err
	}
	out := eventPage{PageInfo: page.PageInfo, Events: make([]shipevents.Event, 0, len(page.Items))}
	for _, se := range page.Items {
		out.Events = append(out.Events, se.Event)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// deliveryView is a delivery as the API shows it.
type deliveryView struct {
	ID             string     `json:"id"`
	TenantID       string     `json:"tenant_id,omitempty"`
	EventID        string     `json:"event_id"`
	SubscriptionID string     `json:"subscription_id"`
	State          string     `json:"state"`
	Attempts       int        `json:"attempts"`
	NextAttemptAt  time.Time  `json:"next_attempt_at"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	LastError      string     `json:"last_error,omitempty"`
	LastStatusCode int        `json:"last_status_code,omitempty"`
	LeaseExpiresAt *time.Time `json:"lease_expires_at,omitempty"`
	// AttemptList is set where attempts are asked for (an event, a
	// delivery).
	AttemptList []attemptView `json:"attempt_list,omitempty"`
}

func viewDelivery(d shipevents.Delivery) deliveryView {
	v := deliveryView{ID: d.ID, TenantID: d.TenantID, EventID: d.EventID, SubscriptionID: d.SubscriptionID, State: string(d.State),
		Attempts: d.Attempts, NextAttemptAt: d.NextAttemptAt, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt,
		LastError: d.LastError, LastStatusCode: d.LastStatusCode}
	if !d.LeaseExpiresAt.IsZero() {
		t := d.LeaseExpiresAt
		v.LeaseExpiresAt = &t
	}
	return v
}

// attemptView is one attempt as the API shows it.
type attemptView struct {
	Number     int       `json:"number"`
	StartedAt  time.Time `json:"started_at"`
	DurationMS float64   `json:"duration_ms"`
	StatusCode int       `json:"status_code,omitempty"`
	Error      string    `json:"error,omitempty"`
	Response   string    `json:"response,omitempty"`
}

func viewAttempts(as []shipevents.Attempt) []attemptView {
	out := make([]attemptView, 0, len(as))
	for _, a := range as {
		out = append(out, attemptView{Number: a.Number, StartedAt: a.StartedAt, DurationMS: float64(a.Duration.Microseconds()) / 1000,
			StatusCode: a.StatusCode, Error: a.Error, Response: a.Response})
	}
	return out
}

// eventDetail is an event with its deliveries and their attempts.
type eventDetail struct {
	Event           shipevents.Event `json:"event"`
	Late            bool             `json:"late"`
	StoredAt        time.Time        `json:"stored_at"`
	PendingWebhooks int              `json:"pending_webhooks"`
	Deliveries      []deliveryView   `json:"deliveries"`
}

// maxEventDeliveries bounds the deliveries an event's page reads.
const maxEventDeliveries = shipevents.MaxPageSize

// eventKey reads an event's key from the request: its id from the path
// and its tenant from ?tenant= (implied for a principal limited to one).
func eventKey(r *http.Request) (shipevents.EventKey, error) {
	p := &params{q: r.URL.Query()}
	p.only([]string{"tenant"})
	tenant := p.one("tenant")
	id := p.text("id", r.PathValue("id"))
	if err := p.problem(); err != nil {
		return shipevents.EventKey{}, err
	}
	t, err := tenantFor(principalOf(r), tenant)
	return shipevents.EventKey{TenantID: t, ID: id}, err
}

func (c *Console) eventDetail(ctx context.Context, key shipevents.EventKey) (eventDetail, error) {
	se, err := c.d.Event(ctx, key)
	if err != nil {
		return eventDetail{}, err
	}
	out := eventDetail{Event: se.Event, Late: se.Late, StoredAt: se.StoredAt, PendingWebhooks: se.PendingDeliveries, Deliveries: []deliveryView{}}
	page, err := c.d.Deliveries(ctx, shipevents.DeliveryFilter{TenantID: key.TenantID, EventID: key.ID, Limit: maxEventDeliveries})
	if err != nil {
		return out, err
	}
	for _, d := range page.Items {
		v := viewDelivery(d)
		as, err := c.d.Attempts(ctx, d.ID)
		if err != nil && !errors.Is(err, shipevents.ErrNotFound) {
			return out, err
		}
		v.AttemptList = viewAttempts(as)
		out.Deliveries = append(out.Deliveries, v)
	}
	return out, nil
}

func (c *Console) apiGetEvent(w http.ResponseWriter, r *http.Request) error {
	key, err := eventKey(r)
	if err != nil {
		return err
	}
	out, err := c.eventDetail(r.Context(), key)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// replayed is the answer of the replay routes.
type replayed struct {
	Requeued int `json:"requeued"`
}

func (c *Console) apiReplayEvent(w http.ResponseWriter, r *http.Request) error {
	key, err := eventKey(r)
	if err != nil {
		return err
	}
	n, err := c.d.ReplayEvent(r.Context(), key)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, replayed{Requeued: n})
	return nil
}

// journeyView is a shipment's timeline as the API shows it.
type journeyView struct {
	TenantID       string        `json:"tenant_id,omitempty"`
	Carrier        string        `json:"carrier"`
	TrackingNumber string        `json:"tracking_number"`
	Current        *stateView    `json:"current,omitempty"`
	Steps          []journeyStep `json:"steps"`
}

type stateView struct {
	Status     shipevents.Status `json:"status"`
	EventName  string            `json:"event_name"`
	EventID    string            `json:"event_id"`
	OccurredAt time.Time         `json:"occurred_at"`
}

type journeyStep struct {
	EventID       string                    `json:"event_id"`
	EventName     string                    `json:"event_name"`
	Status        shipevents.Status         `json:"status"`
	OccurredAt    time.Time                 `json:"occurred_at"`
	Description   string                    `json:"description,omitempty"`
	Location      *shipevents.Location      `json:"location,omitempty"`
	CarrierStatus *shipevents.CarrierStatus `json:"carrier_status,omitempty"`
	Late          bool                      `json:"late,omitempty"`
	Current       bool                      `json:"current,omitempty"`
}

func (c *Console) journey(r *http.Request, carrier, tracking string, q map[string][]string) (journeyView, error) {
	p := &params{q: q}
	tenant := p.one("tenant")
	carrier, tracking = p.text("carrier", carrier), p.text("tracking_number", tracking)
	if carrier == "" {
		p.fail("carrier", "required")
	}
	if tracking == "" {
		p.fail("tracking_number", "required")
	}
	if err := p.problem(); err != nil {
		return journeyView{}, err
	}
	t, err := tenantFor(principalOf(r), tenant)
	if err != nil {
		return journeyView{}, err
	}
	j, err := c.d.Journey(r.Context(), shipevents.ShipmentKey{TenantID: t, Carrier: carrier, TrackingNumber: tracking})
	if err != nil {
		return journeyView{}, err
	}
	out := journeyView{TenantID: t, Carrier: carrier, TrackingNumber: tracking, Steps: []journeyStep{}}
	if j.Current != nil {
		out.Current = &stateView{Status: j.Current.Status, EventName: j.Current.EventName, EventID: j.Current.EventID, OccurredAt: j.Current.OccurredAt}
	}
	for _, s := range j.Steps {
		out.Steps = append(out.Steps, journeyStep{EventID: s.EventID, EventName: s.EventName, Status: s.Status, OccurredAt: s.OccurredAt,
			Description: s.Description, Location: s.Location, CarrierStatus: s.CarrierStatus, Late: s.Late, Current: s.Current})
	}
	return out, nil
}

func (c *Console) apiJourney(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := &params{q: q}
	p.only([]string{"tenant"})
	if err := p.problem(); err != nil {
		return err
	}
	j, err := c.journey(r, r.PathValue("carrier"), r.PathValue("tracking_number"), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, j)
	return nil
}

// deliveryPage is the answer of GET /api/deliveries.
type deliveryPage struct {
	PageInfo   shipevents.PageInfo `json:"page_info"`
	Deliveries []deliveryView      `json:"deliveries"`
}

func (c *Console) apiListDeliveries(w http.ResponseWriter, r *http.Request) error {
	f, err := deliveryFilter(principalOf(r), r.URL.Query())
	if err != nil {
		return err
	}
	page, err := c.d.Deliveries(r.Context(), f)
	if err != nil {
		return err
	}
	out := deliveryPage{PageInfo: page.PageInfo, Deliveries: make([]deliveryView, 0, len(page.Items))}
	for _, d := range page.Items {
		out.Deliveries = append(out.Deliveries, viewDelivery(d))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// delivery returns the delivery with the path's id, if the principal may
// see it (another tenant's is not found).
func (c *Console) delivery(r *http.Request) (shipevents.Delivery, error) {
	p := &params{q: r.URL.Query()}
	p.only(nil)
	id := p.text("id", r.PathValue("id"))
	if err := p.problem(); err != nil {
		return shipevents.Delivery{}, err
	}
	pr := principalOf(r)
	page, err := c.d.Deliveries(r.Context(), shipevents.DeliveryFilter{ID: id, TenantID: pr.scope(), Limit: 1})
	if err != nil {
		return shipevents.Delivery{}, err
	}
	if len(page.Items) == 0 {
		return shipevents.Delivery{}, fmt.Errorf("delivery: %w", shipevents.ErrNotFound)
	}
	return page.Items[0], nil
}

func (c *Console) apiGetDelivery(w http.ResponseWriter, r *http.Request) error {
	d, err := c.delivery(r)
	if err != nil {
		return err
	}
	as, err := c.d.Attempts(r.Context(), d.ID)
	if err != nil {
		return err
	}
	v := viewDelivery(d)
	v.AttemptList = viewAttempts(as)
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (c *Console) apiReplayDelivery(w http.ResponseWriter, r *http.Request) error {
	d, err := c.delivery(r)
	if err != nil {
		return err
	}
	if err := c.d.ReplayDelivery(r.Context(), d.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, replayed{Requeued: 1})
	return nil
}

func (c *Console) apiStats(w http.ResponseWriter, r *http.Request) error {
	if !principalOf(r).AllTenants {
		return problem{Status: http.StatusForbidden, Detail: "the dispatcher's stats cover every tenant"}
	}
	writeJSON(w, http.StatusOK, viewStats(c.d.Stats()))
	return nil
}

// statsView is Stats with the API's names.
type statsView struct {
	Published      int64 `json:"published"`
	Duplicates     int64 `json:"duplicates"`
	Late           int64 `json:"late"`
	Claimed        int64 `json:"claimed"`
	Attempts       int64 `json:"attempts"`
	Succeeded      int64 `json:"succeeded"`
	Retried        int64 `json:"retried"`
	Dead           int64 `json:"dead"`
	DeadUnsent     int64 `json:"dead_unsent"`
	Released       int64 `json:"released"`
	LeaseLost      int64 `json:"lease_lost"`
	RecordFailures int64 `json:"record_failures"`
	RateLimited    int64 `json:"rate_limited"`
}

func viewStats(s shipevents.Stats) statsView {
	return statsView{s.Published, s.Duplicates, s.Late, s.Claimed, s.Attempts, s.Succeeded, s.Retried, s.Dead,
		s.DeadUnsent, s.Released, s.LeaseLost, s.RecordFailures, s.RateLimited}
}

// maxBody bounds a request body.
const maxBody = 1 << 20

// decodeBody reads a JSON body into v; unknown fields are tolerated.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody+1))
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return problem{Status: http.StatusBadRequest, Detail: "the request needs a JSON body"}
		}
		return problem{Status: http.StatusBadRequest, Detail: "the body is not valid JSON for this request: " + clip(err.Error())}
	}
	return nil
}

// testEvent is the event a test send delivers to one subscription: a
// record event in test mode, in the subscription's tenant.
func (c *Console) testEvent(sub *shipevents.Subscription, by string) (shipevents.Event, error) {
	now := c.now().UTC()
	return shipevents.NewRecordEvent("shipments/updated", shipevents.HostEvent{
		ID: "test-" + uuid.NewString(), TenantID: sub.TenantID, TestMode: true, OccurredAt: now, TriggeredAt: now,
		Data:     shipevents.EventData{Description: "Test event sent from the operator console"},
		Metadata: map[string]string{"console_test": "true", "sent_by": by},
	})
}

// sendTest stores a test event with one delivery, to sub alone: Publish
// would deliver it to every subscription that matches it.
func (c *Console) sendTest(ctx context.Context, sub *shipevents.Subscription, by string) (shipevents.Event, string, error) {
	if sub.Disabled {
		return shipevents.Event{}, "", problem{Status: http.StatusConflict, Detail: "the subscription is disabled: enable it first"}
	}
	e, err := c.testEvent(sub, by)
	if err != nil {
		return e, "", err
	}
	id := shipevents.DeliveryID(e.Key(), sub.ID)
	_, err = c.d.Store().AppendEvents(ctx, []shipevents.AppendRecord{{Event: e,
		Deliveries: []shipevents.NewDelivery{{ID: id, SubscriptionID: sub.ID, NextAttemptAt: c.now().UTC()}}}})
	return e, id, err
}

func (c *Console) apiTestSubscription(w http.ResponseWriter, r *http.Request) error {
	sub, err := c.subscription(r)
	if err != nil {
		return err
	}
	e, id, err := c.sendTest(r.Context(), &sub, principalOf(r).Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]string{"event_id": e.ID, "tenant_id": e.TenantID, "delivery_id": id})
	return nil
}

func (c *Console) apiReplayDeadLetters(w http.ResponseWriter, r *http.Request) error {
	sub, err := c.subscription(r)
	if err != nil {
		return err
	}
	n, err := c.d.ReplayDeadLetters(r.Context(), sub.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, replayed{Requeued: n})
	return nil
}

// backfillRequest selects the events a backfill sends.
type backfillRequest struct {
	Types          []string  `json:"types,omitempty"`
	RefPattern     string    `json:"ref,omitempty"`
	OccurredAfter  time.Time `json:"occurred_after,omitzero"`
	OccurredBefore time.Time `json:"occurred_before,omitzero"`
}

func (c *Console) apiBackfill(w http.ResponseWriter, r *http.Request) error {
	sub, err := c.subscription(r)
	if err != nil {
		return err
	}
	var req backfillRequest
	if err := decodeBody(r, &req); err != nil {
		return err
	}
	if req.RefPattern != "" {
		if err := shipevents.ValidatePattern(req.RefPattern); err != nil {
			return badParams(invalidParam{"ref", "not a ref pattern"})
		}
	}
	pr := principalOf(r)
	f := shipevents.EventFilter{Types: req.Types, RefPattern: req.RefPattern, OccurredAfter: req.OccurredAfter,
		OccurredBefore: req.OccurredBefore, TenantID: pr.scope()}
	n, err := c.d.Backfill(r.Context(), sub.ID, f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]int{"created": n})
	return nil
}

// sortedKeys returns the keys of m, sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
