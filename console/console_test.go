package console_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/console"
)

var t0 = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)

// fixture is a dispatcher on a MemoryStore with a console in front.
type fixture struct {
	t  *testing.T
	d  *shipevents.Dispatcher
	c  *console.Console
	mu sync.Mutex
	pr console.Principal // who requests act as
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{t: t, pr: console.Principal{Name: "ops", AllTenants: true}}
	f.d = shipevents.NewDispatcher(shipevents.DispatcherConfig{PollInterval: 10 * time.Millisecond,
		Retry:  shipevents.RetryPolicy{Schedule: []time.Duration{time.Millisecond}, NoJitter: true},
		Logger: slog.New(slog.DiscardHandler), DisableDeliveryEvents: true})
	f.c = console.New(f.d, console.Config{Prefix: "/ops", Challenge: `Basic realm="console"`, TailPoll: 10 * time.Millisecond,
		Logger: slog.New(slog.DiscardHandler), Authorize: func(r *http.Request) (console.Principal, error) {
			if r.Header.Get("Authorization") == "" {
				return console.Principal{}, console.ErrUnauthenticated
			}
			if r.Header.Get("Authorization") == "banned" {
				return console.Principal{}, console.ErrForbidden
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.pr, nil
		}})
	return f
}

// as makes later requests act as p.
func (f *fixture) as(p console.Principal) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pr = p
}

// run starts the dispatcher's workers until the test ends.
func (f *fixture) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.d.Run(ctx) }()
	f.t.Cleanup(func() { cancel(); <-done })
}

// do sends a request through the console, authorized, as the browser's
// own page would (same origin).
func (f *fixture) do(method, target string, body string) *httptest.ResponseRecorder {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	if strings.Contains(target, "/api/tail") { // a tail runs until its client leaves
		ctx, cancel := context.WithTimeout(r.Context(), 100*time.Millisecond)
		defer cancel()
		r = r.WithContext(ctx)
	}
	r.Header.Set("Authorization", "yes")
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	f.c.ServeHTTP(w, r)
	return w
}

func (f *fixture) getJSON(target string, v any) {
	f.t.Helper()
	w := f.do(http.MethodGet, target, "")
	if w.Code != http.StatusOK {
		f.t.Fatalf("GET %s: %d %s", target, w.Code, w.Body)
	}
	if err := json.Unmarshal(w.Body.Bytes(), v); err != nil {
		f.t.Fatalf("GET %s: %v", target, err)
	}
}

func (f *fixture) publish(events ...shipevents.Event) {
	f.t.Helper()
	if _, err := f.d.Publish(context.Background(), events...); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) subscribe(s shipevents.Subscription) {
	f.t.Helper()
	if err := f.d.Subscribe(context.Background(), s); err != nil {
		f.t.Fatal(err)
	}
}

// scan is a tracking event of tenant's shipment tracking at t0+minutes.
func scan(tenant, tracking string, minutes int, status shipevents.Status, description string) shipevents.Event {
	name := shipevents.DefaultEventName(status)
	e, err := shipevents.NewShipmentEvent(name, shipevents.HostEvent{TenantID: tenant, Carrier: "ups", TrackingNumber: tracking,
		OccurredAt: t0.Add(time.Duration(minutes) * time.Minute), Data: shipevents.EventData{Description: description}})
	if err != nil {
		panic(err)
	}
	return e
}

// waitFor polls cond until it holds, failing after a generous bound (the
// suite runs beside other work).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func problemOf(t *testing.T, w *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("Content-Type %q, want application/problem+json (%d %s)", ct, w.Code, w.Body)
	}
	var p map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if int(p["status"].(float64)) != w.Code {
		t.Errorf("problem status %v, response %d", p["status"], w.Code)
	}
	return p
}

// apiRoutes are the console's API routes, as the tests exercise them,
// with path values filled in.
var apiRoutes = []struct{ method, path, pattern string }{
	{"GET", "/api/openapi.json", "/api/openapi.json"},
	{"GET", "/api/events", "/api/events"},
	{"GET", "/api/events/e1", "/api/events/{id}"},
	{"POST", "/api/events/e1/replay", "/api/events/{id}/replay"},
	{"GET", "/api/tail", "/api/tail"},
	{"GET", "/api/journeys/ups/1Z", "/api/journeys/{carrier}/{tracking_number}"},
	{"GET", "/api/subscriptions", "/api/subscriptions"},
	{"POST", "/api/subscriptions", "/api/subscriptions"},
	{"GET", "/api/subscriptions/s1", "/api/subscriptions/{id}"},
	{"PUT", "/api/subscriptions/s1", "/api/subscriptions/{id}"},
	{"DELETE", "/api/subscriptions/s1", "/api/subscriptions/{id}"},
	{"POST", "/api/subscriptions/s1/disable", "/api/subscriptions/{id}/disable"},
	{"POST", "/api/subscriptions/s1/enable", "/api/subscriptions/{id}/enable"},
	{"GET", "/api/subscriptions/s1/health", "/api/subscriptions/{id}/health"},
	{"POST", "/api/subscriptions/s1/test", "/api/subscriptions/{id}/test"},
	{"POST", "/api/subscriptions/s1/replay", "/api/subscriptions/{id}/replay"},
	{"POST", "/api/subscriptions/s1/backfill", "/api/subscriptions/{id}/backfill"},
	{"GET", "/api/deliveries", "/api/deliveries"},
	{"GET", "/api/deliveries/d1", "/api/deliveries/{id}"},
	{"POST", "/api/deliveries/d1/replay", "/api/deliveries/{id}/replay"},
	{"GET", "/api/stats", "/api/stats"},
}

var pageRoutes = []struct{ method, path string }{
	{"GET", "/"}, {"GET", "/events"}, {"GET", "/events/e1"}, {"POST", "/events/e1/replay"}, {"GET", "/journey"},
	{"GET", "/subscriptions"}, {"GET", "/subscriptions/s1"}, {"POST", "/subscriptions/s1/test"},
	{"POST", "/subscriptions/s1/replay"}, {"POST", "/subscriptions/s1/disable"}, {"POST", "/subscriptions/s1/enable"},
	{"GET", "/dead-letters"}, {"POST", "/deliveries/d1/replay"}, {"GET", "/assets/console.js"},
}

// TestOpenAPIDocumentsEveryRoute checks the document against the
// handler both ways: every documented operation is served (not a 404 or
// 405 of the mux), and every route the console serves under /api/ is
// documented; apiRoutes is checked against Routes so that neither list
// can drift.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	f := newFixture(t)
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	f.getJSON("/ops/api/openapi.json", &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Errorf("openapi %q, want 3.1.0", doc.OpenAPI)
	}
	documented := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			documented[strings.ToUpper(m)+" "+p] = true
		}
	}
	served := map[string]bool{}
	for _, r := range console.Routes(f.c) {
		if strings.HasPrefix(r, "GET /api/") && strings.HasSuffix(r, "/") {
			continue // the API's fallback 404
		}
		if strings.Contains(r, " /api/") {
			served[r] = true
		}
	}
	for r := range served {
		if !documented[r] {
			t.Errorf("route %s is served but not in the OpenAPI document", r)
		}
	}
	for r := range documented {
		if !served[r] {
			t.Errorf("the OpenAPI document has %s, which the console does not serve", r)
		}
	}
	exercised := map[string]bool{}
	for _, r := range apiRoutes {
		exercised[r.method+" "+r.pattern] = true
		// Reaching the route: the mux's own 404 and 405 are plain text.
		w := f.do(r.method, "/ops"+r.path, "")
		if (w.Code == http.StatusNotFound || w.Code == http.StatusMethodNotAllowed) && !strings.Contains(w.Header().Get("Content-Type"), "json") {
			t.Errorf("%s %s: %d from the mux: the route is not served", r.method, r.path, w.Code)
		}
	}
	if !maps(exercised, served) {
		t.Errorf("the test's route list differs from the console's: %v vs %v", exercised, served)
	}
}

func maps(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

// TestEveryRouteNeedsTheAuthorizer sends each route without credentials,
// with refused ones, and to a console without an Authorizer.
func TestEveryRouteNeedsTheAuthorizer(t *testing.T) {
	f := newFixture(t)
	bare := console.New(f.d, console.Config{Logger: slog.New(slog.DiscardHandler)})
	var all []struct{ method, path string }
	for _, r := range apiRoutes {
		all = append(all, struct{ method, path string }{r.method, r.path})
	}
	all = append(all, pageRoutes...)
	for _, r := range all {
		req := httptest.NewRequest(r.method, "/ops"+r.path, nil)
		w := httptest.NewRecorder()
		f.c.ServeHTTP(w, req)
		if w.Code != http.StatusUnauthorized || w.Header().Get("WWW-Authenticate") != `Basic realm="console"` {
			t.Errorf("%s %s without credentials: %d (WWW-Authenticate %q), want 401 with the challenge", r.method, r.path, w.Code, w.Header().Get("WWW-Authenticate"))
		}
		problemOf(t, w)
		req = httptest.NewRequest(r.method, "/ops"+r.path, nil)
		req.Header.Set("Authorization", "banned")
		w = httptest.NewRecorder()
		f.c.ServeHTTP(w, req)
		if w.Code != http.StatusForbidden {
			t.Errorf("%s %s with refused credentials: %d, want 403", r.method, r.path, w.Code)
		}
		req = httptest.NewRequest(r.method, r.path, nil)
		req.Header.Set("Authorization", "yes")
		w = httptest.NewRecorder()
		bare.ServeHTTP(w, req)
		if w.Code != http.StatusInternalServerError {
			t.Errorf("%s %s on a console without an Authorizer: %d, want 500", r.method, r.path, w.Code)
		}
	}
}

// TestSecurityHeaders checks the CSP and friends on pages, the API and
// errors, and that no page has inline script or style.
func TestSecurityHeaders(t *testing.T) {
	f := newFixture(t)
	f.publish(scan("", "1Z1", 1, shipevents.StatusInTransit, "on its way"))
	inline := regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>[^<]|\son[a-z]+\s*=|\sstyle\s*=|javascript:`)
	for _, p := range []string{"/", "/events", "/subscriptions", "/dead-letters", "/api/events", "/api/nope", "/nope"} {
		w := f.do(http.MethodGet, "/ops"+p, "")
		csp := w.Header().Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "form-action 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: Content-Security-Policy %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
			t.Errorf("GET %s: Content-Security-Policy %q allows inline code", p, csp)
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no X-Content-Type-Options: nosniff", p)
		}
		if m := inline.FindString(w.Body.String()); m != "" && strings.HasPrefix(w.Header().Get("Content-Type"), "text/html") {
			t.Errorf("GET %s: inline script or style %q", p, m)
		}
	}
}

// TestCrossOriginRequestsRefused posts from another site (as a browser
// marks it) and from the console's own pages.
func TestCrossOriginRequestsRefused(t *testing.T) {
	f := newFixture(t)
	f.subscribe(shipevents.Subscription{ID: "s1", Handler: "h", EnabledEvents: []string{"shipments"}})
	for _, site := range []string{"cross-site", "same-site"} {
		r := httptest.NewRequest(http.MethodPost, "/ops/api/subscriptions/s1/disable", nil)
		r.Header.Set("Authorization", "yes")
		r.Header.Set("Sec-Fetch-Site", site)
		w := httptest.NewRecorder()
		f.c.ServeHTTP(w, r)
		if w.Code != http.StatusForbidden {
			t.Errorf("POST from a %s origin: %d, want 403", site, w.Code)
		}
	}
	s, _ := f.d.Subscription(context.Background(), "s1")
	if s.Disabled {
		t.Fatal("a cross-origin request disabled the subscription")
	}
	r := httptest.NewRequest(http.MethodPost, "/ops/subscriptions/s1/disable", strings.NewReader("back=/subscriptions"))
	r.Header.Set("Authorization", "yes")
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	f.c.ServeHTTP(w, r)
	if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/ops/subscriptions?") {
		t.Fatalf("same-origin form post: %d to %q, want 303 to /ops/subscriptions", w.Code, w.Header().Get("Location"))
	}
	if s, _ := f.d.Subscription(context.Background(), "s1"); !s.Disabled {
		t.Error("the same-origin form post did not disable the subscription")
	}
}

// TestBackRedirectStaysInTheConsole refuses to send the browser off the
// console after a form.
func TestBackRedirectStaysInTheConsole(t *testing.T) {
	f := newFixture(t)
	f.subscribe(shipevents.Subscription{ID: "s1", Handler: "h", EnabledEvents: []string{"shipments"}})
	for _, back := range []string{"//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)"} {
		r := httptest.NewRequest(http.MethodPost, "/ops/subscriptions/s1/enable", strings.NewReader(url.Values{"back": {back}}.Encode()))
		r.Header.Set("Authorization", "yes")
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		w := httptest.NewRecorder()
		f.c.ServeHTTP(w, r)
		if loc := w.Header().Get("Location"); !strings.HasPrefix(loc, "/ops/subscriptions?") {
			t.Errorf("back=%q: redirected to %q, want the console's subscriptions page", back, loc)
		}
	}
}

// TestEventSearchAPI checks the filters, page_info and paging of GET
// /api/events.
func TestEventSearchAPI(t *testing.T) {
	f := newFixture(t)
	var evs []shipevents.Event
	for i := range 30 {
		e := scan("acme", "1ZA", i, shipevents.StatusInTransit, "scan")
		if i%3 == 0 {
			e = scan("acme", "1ZB", i, shipevents.StatusDelivered, "delivered")
			e.Metadata = map[string]string{"shop": "north"}
			e.TestMode = true
		}
		evs = append(evs, e)
	}
	f.publish(evs...)
	type page struct {
		PageInfo shipevents.PageInfo `json:"page_info"`
		Events   []shipevents.Event  `json:"events"`
	}
	var p page
	f.getJSON("/ops/api/events?tracking_number=1ZB", &p)
	if p.PageInfo.Count != 10 || len(p.Events) != 10 || p.PageInfo.CountEstimated {
		t.Fatalf("tracking_number=1ZB: count %d, %d events; want 10", p.PageInfo.Count, len(p.Events))
	}
	for _, q := range []string{"status=DELIVERED", "metadata_key=shop&metadata_value=north", "test_mode=true", "event_group=shipment_delivered&tenant=acme"} {
		f.getJSON("/ops/api/events?"+q, &p)
		if p.PageInfo.Count != 10 {
			t.Errorf("%s: count %d, want 10", q, p.PageInfo.Count)
		}
	}
	f.getJSON("/ops/api/events?first=7&offset=14", &p)
	if len(p.Events) != 7 || p.Events[0].ID != evs[15].ID || !p.PageInfo.HasPreviousPage || !p.PageInfo.HasNextPage {
		t.Errorf("first=7&offset=14: %d events from %s, want 7 from the 15th newest", len(p.Events), p.Events[0].ID)
	}
	var next page
	f.getJSON("/ops/api/events?first=7&after="+url.QueryEscape(p.PageInfo.EndCursor), &next)
	if len(next.Events) != 7 || next.Events[0].ID != evs[8].ID {
		t.Errorf("after the offset page's end_cursor: starts at %v, want %s", next.Events, evs[8].ID)
	}
}

// TestBadParametersNameWhatIsWrong checks the 400s.
func TestBadParametersNameWhatIsWrong(t *testing.T) {
	f := newFixture(t)
	for q, names := range map[string][]string{
		"first=0":                  {"first"},
		"first=1001&offset=-1":     {"first", "offset"},
		"offset=10001":             {"offset"},
		"type=tracking.nope":       {"type"},
		"status=SHIPPED":           {"status"},
		"event_group=nope":         {"event_group"},
		"ref=shipments//x":         {"ref"},
		"occurred_after=yesterday": {"occurred_after"},
		"test_mode=yes":            {"test_mode"},
		"metadata_value=x":         {"metadata_value"},
		"tracking=1Z":              {"tracking"},
		"carrier=ups&carrier=dhl":  {"carrier"},
		"after=%25%25not":          {"after/before"},
		"occurred_after=2026-11-02T00:00:00Z&occurred_before=2026-11-01T00:00:00Z": {"occurred_before"},
	} {
		w := f.do(http.MethodGet, "/ops/api/events?"+q, "")
		if w.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", q, w.Code)
			continue
		}
		p := problemOf(t, w)
		var got []string
		for _, ip := range p["invalid_params"].([]any) {
			got = append(got, ip.(map[string]any)["name"].(string))
			if ip.(map[string]any)["reason"] == "" {
				t.Errorf("%s: a parameter without a reason", q)
			}
		}
		slices.Sort(got)
		if !slices.Equal(got, names) {
			t.Errorf("%s: invalid_params %v, want %v", q, got, names)
		}
	}
	if w := f.do(http.MethodGet, "/ops/api/deliveries?state=lost", ""); w.Code != http.StatusBadRequest {
		t.Errorf("state=lost: %d, want 400", w.Code)
	}
	if w := f.do(http.MethodPost, "/ops/api/subscriptions", `{"id": "x", "url": "ftp://nope", "enabled_events": ["shipments"]}`); w.Code != http.StatusBadRequest ||
		!strings.Contains(problemOf(t, w)["detail"].(string), "url") {
		t.Errorf("a subscription with a bad URL: %d %s, want 400 naming the url", w.Code, w.Body)
	}
	if w := f.do(http.MethodPost, "/ops/api/subscriptions", `{"id": `); w.Code != http.StatusBadRequest {
		t.Errorf("a body that is not JSON: %d, want 400", w.Code)
	}
}

// TestSecretsAreWriteOnly creates and updates a subscription with
// credentials and checks that no route returns them.
func TestSecretsAreWriteOnly(t *testing.T) {
	f := newFixture(t)
	secret, _ := shipevents.GenerateSecret()
	body := `{"id": "crm", "url": "https://crm.example/hooks", "enabled_events": ["shipments"], "secrets": ["` + secret + `"],
		"headers": {"Authorization": "Bearer header-value-secret"},
		"oauth2": {"token_url": "https://auth.example/token", "client_id": "cid", "client_secret": "oauth-client-secret", "params": {"audience": "aud-secret"}}}`
	w := f.do(http.MethodPost, "/ops/api/subscriptions", body)
	if w.Code != http.StatusCreated {
		t.Fatalf("create: %d %s", w.Code, w.Body)
	}
	secrets := []string{secret, strings.TrimPrefix(secret, "whsec_"), "header-value-secret", "oauth-client-secret", "aud-secret"}
	check := func(what, out string) {
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s returns a credential: %s", what, out)
			}
		}
	}
	check("POST /api/subscriptions", w.Body.String())
	var v map[string]any
	f.getJSON("/ops/api/subscriptions/crm", &v)
	if v["secret_count"].(float64) != 1 || !slices.Equal(v["header_names"].([]any), []any{"Authorization"}) {
		t.Errorf("GET: secret_count %v, header_names %v; want 1, [Authorization]", v["secret_count"], v["header_names"])
	}
	w = f.do(http.MethodPut, "/ops/api/subscriptions/crm", `{"url": "https://crm.example/v2", "enabled_events": ["shipments/delivered"]}`)
	if w.Code != http.StatusOK {
		t.Fatalf("update: %d %s", w.Code, w.Body)
	}
	check("PUT /api/subscriptions/crm", w.Body.String())
	s, _ := f.d.Subscription(context.Background(), "crm")
	if !slices.Equal(s.Secrets, []string{secret}) || s.Headers["Authorization"] != "Bearer header-value-secret" || s.OAuth2.ClientSecret != "oauth-client-secret" || s.URL != "https://crm.example/v2" {
		t.Errorf("an update without credentials must keep them and change the rest: %+v", s)
	}
	for _, p := range []string{"/api/subscriptions", "/api/subscriptions/crm", "/api/subscriptions/crm/health", "/subscriptions", "/subscriptions/crm"} {
		check("GET "+p, f.do(http.MethodGet, "/ops"+p, "").Body.String())
	}
}

// TestTenantPrincipal checks that a principal limited to a tenant sees
// and changes only that tenant's events, deliveries and subscriptions.
func TestTenantPrincipal(t *testing.T) {
	f := newFixture(t)
	f.d.Handle("fail", func(context.Context, shipevents.Event) error { return shipevents.Permanent(errors.New("refused")) })
	f.subscribe(shipevents.Subscription{ID: "acme-hook", TenantID: "acme", Handler: "fail", EnabledEvents: []string{"shipments"}})
	f.subscribe(shipevents.Subscription{ID: "globex-hook", TenantID: "globex", Handler: "fail", EnabledEvents: []string{"shipments"}})
	mine, theirs := scan("acme", "1ZACME", 1, shipevents.StatusInTransit, "acme parcel"), scan("globex", "1ZGLOBEX", 2, shipevents.StatusInTransit, "globex parcel")
	f.publish(mine, theirs)
	f.run()
	waitFor(t, "both dead letters", func() bool {
		p, _ := f.d.Deliveries(context.Background(), shipevents.DeliveryFilter{State: shipevents.DeliveryDead})
		return len(p.Items) == 2
	})
	theirDelivery := shipevents.DeliveryID(theirs.Key(), "globex-hook")
	f.as(console.Principal{Name: "acme-ops", TenantID: "acme"})

	var events struct {
		Events []shipevents.Event `json:"events"`
	}
	f.getJSON("/ops/api/events", &events)
	if len(events.Events) != 1 || events.Events[0].ID != mine.ID {
		t.Errorf("GET /api/events as acme: %d events, want acme's one", len(events.Events))
	}
	for target, want := range map[string]int{
		"GET /ops/api/events?tenant=globex":                     http.StatusForbidden,
		"GET /ops/api/events/" + theirs.ID + "?tenant=globex":   http.StatusForbidden,
		"GET /ops/api/events/" + theirs.ID:                      http.StatusNotFound,
		"GET /ops/api/events/" + mine.ID:                        http.StatusOK,
		"POST /ops/api/events/" + theirs.ID + "/replay":         http.StatusNotFound,
		"GET /ops/api/journeys/ups/1ZGLOBEX":                    http.StatusNotFound,
		"GET /ops/api/journeys/ups/1ZACME":                      http.StatusOK,
		"GET /ops/api/deliveries/" + theirDelivery:              http.StatusNotFound,
		"POST /ops/api/deliveries/" + theirDelivery + "/replay": http.StatusNotFound,
		"GET /ops/api/deliveries?tenant=globex":                 http.StatusForbidden,
		"GET /ops/api/subscriptions/globex-hook":                http.StatusNotFound,
		"PUT /ops/api/subscriptions/globex-hook":                http.StatusNotFound,
		"DELETE /ops/api/subscriptions/globex-hook":             http.StatusNotFound,
		"POST /ops/api/subscriptions/globex-hook/disable":       http.StatusNotFound,
		"POST /ops/api/subscriptions/globex-hook/test":          http.StatusNotFound,
		"POST /ops/api/subscriptions/globex-hook/replay":        http.StatusNotFound,
		"GET /ops/api/stats":                                    http.StatusForbidden,
		"GET /ops/events/" + theirs.ID + "?tenant=globex":       http.StatusForbidden,
		"POST /ops/deliveries/" + theirDelivery + "/replay":     http.StatusNotFound,
		"POST /ops/subscriptions/globex-hook/replay":            http.StatusNotFound,
		"GET /ops/subscriptions/globex-hook":                    http.StatusNotFound,
	} {
		method, path, _ := strings.Cut(target, " ")
		body := ""
		if method == http.MethodPut {
			body = `{"handler": "fail", "enabled_events": ["shipments"]}`
		}
		if w := f.do(method, path, body); w.Code != want {
			t.Errorf("%s as acme: %d, want %d (%s)", target, w.Code, want, w.Body)
		}
	}
	var subs struct {
		Subscriptions []map[string]any `json:"subscriptions"`
	}
	f.getJSON("/ops/api/subscriptions", &subs)
	if len(subs.Subscriptions) != 1 || subs.Subscriptions[0]["id"] != "acme-hook" {
		t.Errorf("GET /api/subscriptions as acme: %v, want acme-hook alone", subs.Subscriptions)
	}
	var dels struct {
		Deliveries []map[string]any `json:"deliveries"`
	}
	f.getJSON("/ops/api/deliveries?state=dead", &dels)
	if len(dels.Deliveries) != 1 || dels.Deliveries[0]["tenant_id"] != "acme" {
		t.Errorf("dead letters as acme: %v, want acme's one", dels.Deliveries)
	}
	if w := f.do(http.MethodPost, "/ops/api/subscriptions", `{"id": "x", "tenant_id": "globex", "handler": "fail", "enabled_events": ["shipments"]}`); w.Code != http.StatusForbidden {
		t.Errorf("creating a subscription for another tenant: %d, want 403", w.Code)
	}
	w := f.do(http.MethodPost, "/ops/api/subscriptions", `{"id": "acme-2", "handler": "fail", "enabled_events": ["shipments"]}`)
	if w.Code != http.StatusCreated {
		t.Fatalf("creating a subscription as acme: %d %s", w.Code, w.Body)
	}
	if s, _ := f.d.Subscription(context.Background(), "acme-2"); s.TenantID != "acme" {
		t.Errorf("a subscription created by acme has tenant %q, want acme", s.TenantID)
	}
	for _, p := range []string{"/", "/events", "/dead-letters", "/subscriptions"} {
		if body := f.do(http.MethodGet, "/ops"+p, "").Body.String(); strings.Contains(body, "globex") || strings.Contains(body, "1ZGLOBEX") {
			t.Errorf("GET %s as acme shows globex's data", p)
		}
	}
	// The other tenant's dead letter is untouched by all of this.
	p, _ := f.d.Deliveries(context.Background(), shipevents.DeliveryFilter{ID: theirDelivery})
	if len(p.Items) != 1 || p.Items[0].State != shipevents.DeliveryDead {
		t.Errorf("globex's dead letter changed: %+v", p.Items)
	}
	if s, _ := f.d.Subscription(context.Background(), "globex-hook"); s.Disabled {
		t.Error("acme disabled globex's subscription")
	}
	// A principal given neither a tenant nor every tenant sees nothing.
	f.as(console.Principal{Name: "forgot the tenant"})
	for _, p := range []string{"/ops/api/events", "/ops/api/deliveries", "/ops/api/subscriptions", "/ops/"} {
		if w := f.do(http.MethodGet, p, ""); w.Code != http.StatusForbidden {
			t.Errorf("GET %s as a principal without a tenant: %d, want 403", p, w.Code)
		}
	}
}

// TestHostileTextIsText renders events whose tracking numbers and
// descriptions are markup and script on every page that shows them.
func TestHostileTextIsText(t *testing.T) {
	f := newFixture(t)
	const trk = `1Z"><script>alert(1)</script>`
	const desc = `<img src=x onerror=alert(2)><b>bold</b>`
	e := scan("t<i>1", trk, 1, shipevents.StatusInTransit, desc)
	f.publish(e)
	f.subscribe(shipevents.Subscription{ID: "s1", Name: `<script>alert(3)</script>`, Handler: "h", EnabledEvents: []string{"shipments"}})
	for _, p := range []string{
		"/events",
		"/events/" + url.PathEscape(e.ID) + "?tenant=" + url.QueryEscape(e.TenantID),
		"/journey?" + url.Values{"carrier": {"ups"}, "tracking_number": {trk}, "tenant": {e.TenantID}}.Encode(),
		"/subscriptions",
	} {
		w := f.do(http.MethodGet, "/ops"+p, "")
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", p, w.Code, w.Body)
		}
		body := w.Body.String()
		for _, bad := range []string{"<script>alert", "<img src=x", "<b>bold", "<i>1"} {
			if strings.Contains(body, bad) {
				t.Errorf("GET %s renders %q as markup", p, bad)
			}
		}
	}
	body := f.do(http.MethodGet, "/ops/events", "").Body.String()
	if !strings.Contains(body, "&lt;img src=x onerror=alert(2)&gt;&lt;b&gt;bold&lt;/b&gt;") || !strings.Contains(body, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the event page does not show the hostile text as text")
	}
}

// TestTestSendReachesOneSubscription sends a test event from the console
// and checks that only the chosen subscription receives it.
func TestTestSendReachesOneSubscription(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	got := map[string][]shipevents.Event{}
	for _, name := range []string{"a", "b"} {
		f.d.Handle(name, func(_ context.Context, e shipevents.Event) error {
			mu.Lock()
			defer mu.Unlock()
			got[name] = append(got[name], e)
			return nil
		})
		f.subscribe(shipevents.Subscription{ID: name, Handler: name, EnabledEvents: []string{"*"}})
	}
	f.run()
	w := f.do(http.MethodPost, "/ops/api/subscriptions/a/test", "")
	if w.Code != http.StatusAccepted {
		t.Fatalf("test send: %d %s", w.Code, w.Body)
	}
	waitFor(t, "the test event at a", func() bool { mu.Lock(); defer mu.Unlock(); return len(got["a"]) == 1 })
	var detail struct {
		Deliveries []map[string]any `json:"deliveries"`
	}
	var sent map[string]string
	_ = json.Unmarshal(w.Body.Bytes(), &sent)
	f.getJSON("/ops/api/events/"+sent["event_id"], &detail)
	mu.Lock()
	defer mu.Unlock()
	if !got["a"][0].TestMode || len(got["b"]) != 0 || len(detail.Deliveries) != 1 {
		t.Errorf("test event: test_mode %v, %d at b, %d deliveries; want true, 0, 1", got["a"][0].TestMode, len(got["b"]), len(detail.Deliveries))
	}
}

// TestLiveTail reads the tail's Server-Sent Events and resumes it.
func TestLiveTail(t *testing.T) {
	f := newFixture(t)
	f.publish(scan("", "OLD", 1, shipevents.StatusInTransit, "before the tail"))
	srv := httptest.NewServer(f.c)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/ops/api/tail?tracking_number=NEW", nil)
	req.Header.Set("Authorization", "yes")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("Content-Type %q", resp.Header.Get("Content-Type"))
	}
	lines := make(chan string)
	go func() {
		defer close(lines)
		buf := make([]byte, 64<<10)
		var acc string
		for {
			n, err := resp.Body.Read(buf)
			acc += string(buf[:n])
			for {
				i := strings.Index(acc, "\n\n")
				if i < 0 {
					break
				}
				lines <- acc[:i]
				acc = acc[i+2:]
			}
			if err != nil {
				return
			}
		}
	}()
	next := func(what string) string {
		t.Helper()
		timeout := time.After(30 * time.Second)
		for {
			select {
			case m, ok := <-lines:
				if !ok {
					t.Fatalf("the tail ended while waiting for %s", what)
				}
				if strings.Contains(m, "event: event") {
					return m
				}
			case <-timeout:
				t.Fatalf("timed out waiting for %s", what)
			}
		}
	}
	// The tail starts from now: wait for its opening comment first.
	select {
	case m := <-lines:
		if !strings.Contains(m, "tail from") {
			t.Fatalf("first message %q", m)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("no opening message")
	}
	f.publish(scan("", "OTHER", 2, shipevents.StatusInTransit, "filtered out"), scan("", "NEW", 3, shipevents.StatusDelivered, "fresh <b>"))
	m := next("the new event")
	if !strings.Contains(m, `"tracking_number":"NEW"`) || strings.Contains(m, "OLD") || strings.Contains(m, "OTHER") || !strings.Contains(m, "\nid: ") && !strings.HasPrefix(m, "id: ") {
		t.Errorf("tail message %q: want the NEW event alone, with an id", m)
	}
}

// TestEventDetailHasEveryAttempt fails a delivery twice, then lets it
// through, and reads the event's attempts from the API and the page.
func TestEventDetailHasEveryAttempt(t *testing.T) {
	f := newFixture(t)
	var mu sync.Mutex
	calls := 0
	f.d.Handle("flaky", func(context.Context, shipevents.Event) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls <= 2 {
			return errors.New("upstream 503 <em>busy</em>")
		}
		return nil
	})
	f.subscribe(shipevents.Subscription{ID: "flaky", Handler: "flaky", EnabledEvents: []string{"shipments"},
		Retry: &shipevents.RetryPolicy{Schedule: []time.Duration{time.Millisecond, time.Millisecond, time.Millisecond}, NoJitter: true}})
	e := scan("", "1ZF", 1, shipevents.StatusInTransit, "x")
	f.publish(e)
	f.run()
	var detail struct {
		PendingWebhooks int `json:"pending_webhooks"`
		Deliveries      []struct {
			State       string `json:"state"`
			AttemptList []struct {
				Number int    `json:"number"`
				Error  string `json:"error"`
			} `json:"attempt_list"`
		} `json:"deliveries"`
	}
	waitFor(t, "the third attempt", func() bool {
		f.getJSON("/ops/api/events/"+e.ID, &detail)
		return len(detail.Deliveries) == 1 && detail.Deliveries[0].State == "succeeded"
	})
	if a := detail.Deliveries[0].AttemptList; len(a) != 3 || a[0].Error == "" || a[2].Error != "" || detail.PendingWebhooks != 0 {
		t.Errorf("attempts %+v, pending %d; want 3 (two failed), 0 pending", a, detail.PendingWebhooks)
	}
	page := f.do(http.MethodGet, "/ops/events/"+e.ID, "").Body.String()
	if strings.Count(page, "upstream 503 &lt;em&gt;busy&lt;/em&gt;") < 2 {
		t.Error("the event page does not list the failed attempts' errors")
	}
}

func TestBasicAuth(t *testing.T) {
	auth := console.BasicAuth("ops", "s3cret", console.Principal{Name: "ops", AllTenants: true})
	for _, c := range []struct {
		user, pass string
		set, ok    bool
	}{{"ops", "s3cret", true, true}, {"ops", "wrong", true, false}, {"other", "s3cret", true, false}, {"", "", false, false}} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if c.set {
			r.SetBasicAuth(c.user, c.pass)
		}
		p, err := auth(r)
		if c.ok != (err == nil) || c.ok && p.Name != "ops" || !c.ok && !errors.Is(err, console.ErrUnauthenticated) {
			t.Errorf("%q/%q: %+v, %v", c.user, c.pass, p, err)
		}
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth("", "")
	if _, err := console.BasicAuth("", "", console.Principal{})(r); err == nil {
		t.Error("an empty password lets requests in")
	}
}
