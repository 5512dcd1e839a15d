package console

import (
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/shipevents/shipevents"
)

// subscriptionView is a subscription as the API shows it. Credentials
// are write-only: the signing secrets are counted, headers named without
// their values, and OAuth2 shown without its client secret and extra
// parameters.
type subscriptionView struct {
	ID             string                  `json:"id"`
	TenantID       string                  `json:"tenant_id,omitempty"`
	Name           string                  `json:"name,omitempty"`
	URL            string                  `json:"url,omitempty"`
	Handler        string                  `json:"handler,omitempty"`
	EnabledEvents  []string                `json:"enabled_events"`
	EventGroups    []string                `json:"event_groups,omitempty"`
	Types          []string                `json:"types,omitempty"`
	Conditions     []shipevents.Condition  `json:"conditions,omitempty"`
	Disabled       bool                    `json:"disabled"`
	DisabledReason string                  `json:"disabled_reason,omitempty"`
	IncludeLate    bool                    `json:"include_late,omitempty"`
	Form           shipevents.PayloadForm  `json:"form,omitempty"`
	HeaderNames    []string                `json:"header_names,omitempty"`
	SecretCount    int                     `json:"secret_count"`
	OAuth2         *oauth2View             `json:"oauth2,omitempty"`
	Retry          *shipevents.RetryPolicy `json:"retry,omitempty"`
	MaxPerSecond   float64                 `json:"max_per_second,omitempty"`
	CreatedAt      time.Time               `json:"created_at,omitzero"`
	UpdatedAt      time.Time               `json:"updated_at,omitzero"`
}

type oauth2View struct {
	TokenURL string   `json:"token_url"`
	ClientID string   `json:"client_id"`
	Scopes   []string `json:"scopes,omitempty"`
}

func viewSubscription(s *shipevents.Subscription) subscriptionView {
	v := subscriptionView{ID: s.ID, TenantID: s.TenantID, Name: s.Name, URL: s.URL, Handler: s.Handler,
		EnabledEvents: s.EnabledEvents, EventGroups: s.EventGroups, Types: s.Types, Conditions: s.Conditions,
		Disabled: s.Disabled, DisabledReason: s.DisabledReason, IncludeLate: s.IncludeLate, Form: s.Form,
		HeaderNames: sortedKeys(s.Headers), SecretCount: len(s.Secrets), Retry: s.Retry, MaxPerSecond: s.MaxPerSecond,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
	if v.EnabledEvents == nil {
		v.EnabledEvents = []string{}
	}
	if s.OAuth2 != nil {
		v.OAuth2 = &oauth2View{TokenURL: s.OAuth2.TokenURL, ClientID: s.OAuth2.ClientID, Scopes: s.OAuth2.Scopes}
	}
	return v
}

// subscriptionInput is the body of a create or an update. On update, the
// credentials (secrets, headers, oauth2) are kept when left out, since
// they are never shown to be sent back.
type subscriptionInput struct {
	ID            string                  `json:"id"`
	TenantID      string                  `json:"tenant_id"`
	Name          string                  `json:"name"`
	URL           string                  `json:"url"`
	Handler       string                  `json:"handler"`
	EnabledEvents []string                `json:"enabled_events"`
	EventGroups   []string                `json:"event_groups"`
	Types         []string                `json:"types"`
	Conditions    []shipevents.Condition  `json:"conditions"`
	IncludeLate   bool                    `json:"include_late"`
	Form          shipevents.PayloadForm  `json:"form"`
	Headers       map[string]string       `json:"headers"`
	Secrets       []string                `json:"secrets"`
	OAuth2        *shipevents.OAuth2      `json:"oauth2"`
	Retry         *shipevents.RetryPolicy `json:"retry"`
	MaxPerSecond  float64                 `json:"max_per_second"`
	Disabled      *bool                   `json:"disabled"`
}

// apply writes in onto s.
func (in *subscriptionInput) apply(s *shipevents.Subscription) {
	s.Name, s.URL, s.Handler = in.Name, in.URL, in.Handler
	s.EnabledEvents, s.EventGroups, s.Types, s.Conditions = in.EnabledEvents, in.EventGroups, in.Types, in.Conditions
	s.IncludeLate, s.Form, s.Retry, s.MaxPerSecond = in.IncludeLate, in.Form, in.Retry, in.MaxPerSecond
	if in.Headers != nil {
		s.Headers = in.Headers
	}
	if in.Secrets != nil {
		s.Secrets = in.Secrets
	}
	if in.OAuth2 != nil {
		s.OAuth2 = in.OAuth2
	}
	if in.Disabled != nil {
		s.Disabled = *in.Disabled
		if !s.Disabled {
			s.DisabledReason = ""
		}
	}
}

// visible reports whether the principal may see and change s: a
// principal limited to a tenant sees that tenant's subscriptions only
// (not those without a tenant, which receive every tenant's events).
func visible(pr Principal, s *shipevents.Subscription) bool {
	return pr.AllTenants || s.TenantID == pr.TenantID
}

// subscription returns the subscription with the path's id, if the
// principal may see it (another tenant's is not found).
func (c *Console) subscription(r *http.Request) (shipevents.Subscription, error) {
	p := &params{q: r.URL.Query()}
	p.only(nil)
	id := p.text("id", r.PathValue("id"))
	if err := p.problem(); err != nil {
		return shipevents.Subscription{}, err
	}
	s, err := c.d.Subscription(r.Context(), id)
	if err != nil {
		return s, err
	}
	if !visible(principalOf(r), &s) {
		return shipevents.Subscription{}, fmt.Errorf("subscription: %w", shipevents.ErrNotFound)
	}
	return s, nil
}

// subscriptions returns the subscriptions the principal may see.
func (c *Console) subscriptions(r *http.Request) ([]shipevents.Subscription, error) {
	all, err := c.d.Subscriptions(r.Context())
	if err != nil {
		return nil, err
	}
	pr := principalOf(r)
	out := all[:0]
	for i := range all {
		if visible(pr, &all[i]) {
			out = append(out, all[i])
		}
	}
	return out, nil
}

func (c *Console) apiListSubscriptions(w http.ResponseWriter, r *http.Request) error {
	p := &params{q: r.URL.Query()}
	p.only(nil)
	if err := p.problem(); err != nil {
		return err
	}
	subs, err := c.subscriptions(r)
	if err != nil {
		return err
	}
	out := make([]subscriptionView, 0, len(subs))
	for i := range subs {
		out = append(out, viewSubscription(&subs[i]))
	}
	writeJSON(w, http.StatusOK, map[string]any{"subscriptions": out})
	return nil
}

func (c *Console) apiGetSubscription(w http.ResponseWriter, r *http.Request) error {
	s, err := c.subscription(r)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewSubscription(&s))
	return nil
}

func (c *Console) apiCreateSubscription(w http.ResponseWriter, r *http.Request) error {
	var in subscriptionInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	pr := principalOf(r)
	tenant, err := tenantFor(pr, in.TenantID)
	if err != nil {
		return err
	}
	if in.ID == "" {
		in.ID = "sub_" + uuid.NewString()
	}
	switch _, err := c.d.Subscription(r.Context(), in.ID); {
	case err == nil:
		return problem{Status: http.StatusConflict, Detail: "a subscription with this id exists: update it with PUT"}
	case !errors.Is(err, shipevents.ErrNotFound):
		return err
	}
	s := shipevents.Subscription{ID: in.ID, TenantID: tenant}
	in.apply(&s)
	if err := c.d.Subscribe(r.Context(), s); err != nil {
		return err
	}
	s, err = c.d.Subscription(r.Context(), s.ID)
	if err != nil {
		return err
	}
	w.Header().Set("Location", c.cfg.Prefix+"/api/subscriptions/"+s.ID)
	writeJSON(w, http.StatusCreated, viewSubscription(&s))
	return nil
}

func (c *Console) apiUpdateSubscription(w http.ResponseWriter, r *http.Request) error {
	s, err := c.subscription(r)
	if err != nil {
		return err
	}
	var in subscriptionInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if in.ID != "" && in.ID != s.ID {
		return badParams(invalidParam{"id", "the body's id differs from the path's"})
	}
	if in.TenantID != "" && in.TenantID != s.TenantID {
		return badParams(invalidParam{"tenant_id", "a subscription's tenant does not change: create another"})
	}
	in.apply(&s)
	if err := c.d.Subscribe(r.Context(), s); err != nil {
		return err
	}
	if s, err = c.d.Subscription(r.Context(), s.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewSubscription(&s))
	return nil
}

func (c *Console) apiDeleteSubscription(w http.ResponseWriter, r *http.Request) error {
	s, err := c.subscription(r)
	if err != nil {
		return err
	}
	if err := c.d.Unsubscribe(r.Context(), s.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// setDisabled disables or enables the subscription with the path's id.
func (c *Console) setDisabled(r *http.Request, disabled bool, reason string) (shipevents.Subscription, error) {
	s, err := c.subscription(r)
	if err != nil {
		return s, err
	}
	s.Disabled, s.DisabledReason = disabled, ""
	if disabled {
		s.DisabledReason = reason
	}
	if err := c.d.Subscribe(r.Context(), s); err != nil {
		return s, err
	}
	return c.d.Subscription(r.Context(), s.ID)
}

func (c *Console) disabledReason(r *http.Request) string {
	name := principalOf(r).Name
	if name == "" {
		return "disabled from the console"
	}
	return "disabled from the console by " + name
}

func (c *Console) apiDisableSubscription(w http.ResponseWriter, r *http.Request) error {
	s, err := c.setDisabled(r, true, c.disabledReason(r))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewSubscription(&s))
	return nil
}

func (c *Console) apiEnableSubscription(w http.ResponseWriter, r *http.Request) error {
	s, err := c.setDisabled(r, false, "")
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, viewSubscription(&s))
	return nil
}

func (c *Console) apiSubscriptionHealth(w http.ResponseWriter, r *http.Request) error {
	s, err := c.subscription(r)
	if err != nil {
		return err
	}
	h, err := c.health(r.Context(), &s)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}
