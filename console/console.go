// Package console is the operator console of a shipevents Dispatcher: a
// JSON API (documented by the OpenAPI 3.1 document it serves at
// /api/openapi.json) and a server-rendered dashboard, as one
// http.Handler that a host mounts on its own mux, behind its own
// authorization:
//
//	mux.Handle("/console/", console.New(d, console.Config{Prefix: "/console", Authorize: auth}))
//
// Every request goes through Config.Authorize first; a principal limited
// to a tenant sees and changes only that tenant's events, deliveries and
// subscriptions. State-changing requests from other origins are refused
// (http.CrossOriginProtection), and every response carries a strict
// Content-Security-Policy: the dashboard runs no inline script, and the
// one script it has (the live tail) is served by the console itself.
// Every string from a carrier is rendered as text.
package console

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/shipevents/shipevents"
)

// Principal is who a request acts as, as the host's Authorizer says.
// The zero value sees nothing: a principal sees one tenant (TenantID) or,
// with AllTenants, every tenant and the dispatcher as a whole, so that an
// Authorizer that forgets to say grants too little rather than too much.
type Principal struct {
	// Name identifies the principal in the dashboard and the logs; it
	// grants nothing.
	Name string
	// TenantID is the one tenant whose events, deliveries and
	// subscriptions the principal lists, reads, replays and changes,
	// unless AllTenants is set.
	TenantID string
	// AllTenants lets the principal see and change every tenant's, the
	// events without a tenant, and what covers them all (stats,
	// subscriptions without a tenant).
	AllTenants bool
	// ReadOnly refuses every state-changing request.
	ReadOnly bool
}

// scope is the tenant the principal is limited to, "" when it sees all.
func (p *Principal) scope() string {
	if p.AllTenants {
		return ""
	}
	return p.TenantID
}

// Authorizer returns the principal a request acts as, or refuses it with
// an error: one wrapping ErrUnauthenticated answers 401 (with
// Config.Challenge), any other 403; the error's text is not sent. It is
// called for every request, assets included, and may be called
// concurrently.
type Authorizer func(r *http.Request) (Principal, error)

// Errors an Authorizer returns; test with errors.Is.
var (
	// ErrUnauthenticated: the request carries no credentials, or wrong
	// ones (401).
	ErrUnauthenticated = errors.New("console: credentials required")
	// ErrForbidden: the credentials are good but may not use the console
	// (403).
	ErrForbidden = errors.New("console: forbidden")
)

// Config configures a [Console]. Authorize is required: without it every
// request is refused. The other fields' zero values are good defaults.
type Config struct {
	// Authorize decides who each request acts as.
	Authorize Authorizer
	// Challenge is the WWW-Authenticate header sent with a 401, such as
	// `Basic realm="shipevents console"`; empty sends none.
	Challenge string
	// Prefix is the path the console is mounted under, such as
	// "/console" (no trailing slash); empty for the root. The console
	// strips it from requests and puts it in front of its links.
	Prefix string
	// TrustedOrigins are origins (scheme://host[:port]) allowed to make
	// state-changing requests besides the console's own.
	TrustedOrigins []string
	// Tail is where the live tail reads new events; nil polls
	// Dispatcher.Events every TailPoll.
	Tail Tail
	// TailPoll is how often the default Tail looks for new events;
	// default 500 ms.
	TailPoll time.Duration
	// Now is the clock (charts, test events); nil means time.Now.
	Now func() time.Time
	// Logger receives the console's own errors (a store failing, a
	// template failing); nil means slog.Default().
	Logger *slog.Logger
}

// Console is the operator console's http.Handler.
type Console struct {
	d      *shipevents.Dispatcher
	cfg    Config
	now    func() time.Time
	log    *slog.Logger
	mux    *http.ServeMux
	cop    *http.CrossOriginProtection
	tail   Tail
	pages  *pages
	copErr error
}

// contentSecurityPolicy allows the console's own scripts, styles and
// connections (the live tail) and nothing else: no inline script or
// style, no plugins, no framing, forms posting to the console only.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// New returns the console of d.
func New(d *shipevents.Dispatcher, cfg Config) *Console {
	c := &Console{d: d, cfg: cfg, now: cfg.Now, log: cfg.Logger, cop: http.NewCrossOriginProtection(), tail: cfg.Tail}
	c.cfg.Prefix = strings.TrimSuffix(cfg.Prefix, "/")
	if c.now == nil {
		c.now = time.Now
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.tail == nil {
		poll := cfg.TailPoll
		if poll <= 0 {
			poll = 500 * time.Millisecond
		}
		c.tail = &PollingTail{Dispatcher: d, Interval: poll}
	}
	for _, o := range cfg.TrustedOrigins {
		if err := c.cop.AddTrustedOrigin(o); err != nil {
			c.copErr = err // every request is refused: a console half-configured is not served
		}
	}
	c.pages = newPages(c)
	c.mux = http.NewServeMux()
	for _, rt := range c.routes() {
		c.mux.Handle(rt.method+" "+rt.path, rt.handler)
	}
	return c
}

// ServeHTTP implements http.Handler: security headers, the prefix, the
// authorizer, cross-origin protection, then the route.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	if c.cfg.Authorize == nil || c.copErr != nil {
		c.log.Error("console: not configured: no Authorize function, or an invalid trusted origin", "error", c.copErr)
		writeProblem(w, r, problem{Status: http.StatusInternalServerError, Detail: "the console is not configured"})
		return
	}
	path := r.URL.Path
	if c.cfg.Prefix != "" {
		rest, ok := strings.CutPrefix(path, c.cfg.Prefix)
		if !ok || rest != "" && rest[0] != '/' {
			writeProblem(w, r, problem{Status: http.StatusNotFound, Detail: "no such page"})
			return
		}
		if rest == "" {
			http.Redirect(w, r, c.cfg.Prefix+"/", http.StatusMovedPermanently)
			return
		}
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		u.Path, u.RawPath = rest, ""
		r2.URL = &u
		r = r2
	}
	p, err := c.cfg.Authorize(r)
	if err != nil {
		if !errors.Is(err, ErrUnauthenticated) {
			writeProblem(w, r, problem{Status: http.StatusForbidden, Detail: "these credentials may not use the console"})
			return
		}
		if c.cfg.Challenge != "" {
			h.Set("WWW-Authenticate", c.cfg.Challenge)
		}
		writeProblem(w, r, problem{Status: http.StatusUnauthorized, Detail: "credentials required"})
		return
	}
	if !p.AllTenants && p.TenantID == "" {
		writeProblem(w, r, problem{Status: http.StatusForbidden, Detail: "the principal is given no tenant (TenantID) and not every tenant (AllTenants)"})
		return
	}
	if err := c.cop.Check(r); err != nil {
		writeProblem(w, r, problem{Status: http.StatusForbidden, Detail: "cross-origin request refused"})
		return
	}
	if p.ReadOnly && !safeMethod(r.Method) {
		writeProblem(w, r, problem{Status: http.StatusForbidden, Detail: "this principal is read-only"})
		return
	}
	c.mux.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), principalKey{}, p)))
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

type principalKey struct{}

// principalOf returns the request's principal (set by ServeHTTP).
func principalOf(r *http.Request) Principal {
	p, _ := r.Context().Value(principalKey{}).(Principal)
	return p
}

// route is one handler of the console; api marks the JSON API's routes,
// which the OpenAPI document describes.
type route struct {
	method, path string
	api          bool
	handler      http.Handler
}

// routes lists every route the console serves.
func (c *Console) routes() []route {
	a := func(method, path string, h func(http.ResponseWriter, *http.Request) error) route {
		return route{method, path, true, c.apiHandler(h)}
	}
	p := func(method, path string, h func(http.ResponseWriter, *http.Request) error) route {
		return route{method, path, false, c.pageHandler(h)}
	}
	return []route{
		{http.MethodGet, "/api/openapi.json", true, http.HandlerFunc(serveOpenAPI)},
		a(http.MethodGet, "/api/events", c.apiListEvents),
		a(http.MethodGet, "/api/events/{id}", c.apiGetEvent),
		a(http.MethodPost, "/api/events/{id}/replay", c.apiReplayEvent),
		{http.MethodGet, "/api/tail", true, http.HandlerFunc(c.serveTail)},
		a(http.MethodGet, "/api/journeys/{carrier}/{tracking_number}", c.apiJourney),
		a(http.MethodGet, "/api/subscriptions", c.apiListSubscriptions),
		a(http.MethodPost, "/api/subscriptions", c.apiCreateSubscription),
		a(http.MethodGet, "/api/subscriptions/{id}", c.apiGetSubscription),
		a(http.MethodPut, "/api/subscriptions/{id}", c.apiUpdateSubscription),
		a(http.MethodDelete, "/api/subscriptions/{id}", c.apiDeleteSubscription),
		a(http.MethodPost, "/api/subscriptions/{id}/disable", c.apiDisableSubscription),
		a(http.MethodPost, "/api/subscriptions/{id}/enable", c.apiEnableSubscription),
		a(http.MethodGet, "/api/subscriptions/{id}/health", c.apiSubscriptionHealth),
		a(http.MethodPost, "/api/subscriptions/{id}/test", c.apiTestSubscription),
		a(http.MethodPost, "/api/subscriptions/{id}/replay", c.apiReplayDeadLetters),
		a(http.MethodPost, "/api/subscriptions/{id}/backfill", c.apiBackfill),
		a(http.MethodGet, "/api/deliveries", c.apiListDeliveries),
		a(http.MethodGet, "/api/deliveries/{id}", c.apiGetDelivery),
		a(http.MethodPost, "/api/deliveries/{id}/replay", c.apiReplayDelivery),
		a(http.MethodGet, "/api/stats", c.apiStats),
		{http.MethodGet, "/api/", false, c.apiHandler(func(http.ResponseWriter, *http.Request) error {
			return problem{Status: http.StatusNotFound, Detail: "no such API route (see /api/openapi.json)"}
		})},

		{http.MethodGet, "/assets/{file}", false, http.HandlerFunc(serveAsset)},
		p(http.MethodGet, "/{$}", c.pageHome),
		p(http.MethodGet, "/events", c.pageEvents),
		p(http.MethodGet, "/events/{id}", c.pageEvent),
		p(http.MethodPost, "/events/{id}/replay", c.formReplayEvent),
		p(http.MethodGet, "/journey", c.pageJourney),
		p(http.MethodGet, "/subscriptions", c.pageSubscriptions),
		p(http.MethodGet, "/subscriptions/{id}", c.pageSubscription),
		p(http.MethodPost, "/subscriptions/{id}/test", c.formTestSubscription),
		p(http.MethodPost, "/subscriptions/{id}/replay", c.formReplayDeadLetters),
		p(http.MethodPost, "/subscriptions/{id}/disable", c.formDisableSubscription),
		p(http.MethodPost, "/subscriptions/{id}/enable", c.formEnableSubscription),
		p(http.MethodGet, "/dead-letters", c.pageDeadLetters),
		p(http.MethodPost, "/deliveries/{id}/replay", c.formReplayDelivery),
		p(http.MethodGet, "/", func(http.ResponseWriter, *http.Request) error {
			return problem{Status: http.StatusNotFound, Detail: "no such page"}
		}),
	}
}
