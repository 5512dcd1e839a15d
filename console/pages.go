package console

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/shipevents/shipevents"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed assets
var assetFiles embed.FS

// pages renders the dashboard.
type pages struct {
	c    *Console
	tmpl map[string]*template.Template
}

func newPages(c *Console) *pages {
	funcs := template.FuncMap{
		"url": func(p string) string { return c.cfg.Prefix + p },
		"time": func(t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.UTC().Format("2006-01-02 15:04:05Z")
		},
		"ms":      func(d time.Duration) string { return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 1, 64) },
		"percent": func(f *float64) string { return percent(f) },
		"count":   countText,
		"query":   func(v url.Values) string { return v.Encode() },
		"json": func(v any) (string, error) {
			b, err := json.MarshalIndent(v, "", "  ")
			return string(b), err
		},
		"shortURL": shortURL,
		"eventPath": func(e *shipevents.Event) string {
			p := "/events/" + url.PathEscape(e.ID)
			if e.TenantID != "" {
				p += "?tenant=" + url.QueryEscape(e.TenantID)
			}
			return c.cfg.Prefix + p
		},
		"journeyPath": func(tenant, carrier, tracking string) string {
			v := url.Values{"carrier": {carrier}, "tracking_number": {tracking}}
			if tenant != "" {
				v.Set("tenant", tenant)
			}
			return c.cfg.Prefix + "/journey?" + v.Encode()
		},
		"chart": chartOf,
		"seg":   url.PathEscape,
		"add":   func(a, b int64) int64 { return a + b },
		"deref": func(t *time.Time) time.Time {
			if t == nil {
				return time.Time{}
			}
			return *t
		},
	}
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html"))
	p := &pages{c: c, tmpl: map[string]*template.Template{}}
	names, _ := fs.Glob(templateFiles, "templates/*.html")
	for _, n := range names {
		name := path.Base(n)
		if name == "layout.html" {
			continue
		}
		p.tmpl[strings.TrimSuffix(name, ".html")] = template.Must(template.Must(base.Clone()).ParseFS(templateFiles, n))
	}
	return p
}

// view is what every page's template gets.
type view struct {
	Title     string
	Nav       string
	Principal Principal
	Notice    string
	Data      any
}

// render writes the named page.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) error {
	t := c.pages.tmpl[name]
	var buf bytes.Buffer
	v := view{Title: title, Nav: name, Principal: principalOf(r), Notice: notices[r.URL.Query().Get("notice")], Data: data}
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		return fmt.Errorf("rendering %s: %w", name, err)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// notices are the messages a form's redirect may ask a page to show:
// fixed texts, so that nothing from the URL is echoed.
var notices = map[string]string{
	"replayed":  "Replay queued: the delivery will be sent again shortly.",
	"replayall": "Dead letters queued for replay.",
	"event":     "Event replay queued to every subscription it went to.",
	"test":      "Test event queued for delivery.",
	"disabled":  "Subscription disabled.",
	"enabled":   "Subscription enabled.",
}

// pageHandler adapts a page handler: an error it returns is rendered as
// an error page.
func (c *Console) pageHandler(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := h(w, r)
		if err == nil {
			return
		}
		p := c.problemOf(r, err)
		if rerr := c.render(w, r, p.Status, "error", http.StatusText(p.Status), p); rerr != nil {
			c.log.Error("console: rendering an error page", "error", rerr)
			http.Error(w, http.StatusText(p.Status), p.Status)
		}
	})
}

func serveAsset(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	b, err := assetFiles.ReadFile("assets/" + name)
	if err != nil || strings.Contains(name, "/") {
		writeProblem(w, r, problem{Status: http.StatusNotFound, Detail: "no such asset"})
		return
	}
	w.Header().Set("Content-Type", mime.TypeByExtension(path.Ext(name)))
	w.Header().Set("Cache-Control", "private, max-age=300")
	_, _ = w.Write(b)
}

func percent(f *float64) string {
	if f == nil {
		return "–"
	}
	return strconv.FormatFloat(*f*100, 'f', 1, 64) + " %"
}

// countText says how many matched, and whether that is an estimate.
func countText(pi shipevents.PageInfo) string {
	n := groupThousands(pi.Count)
	if pi.CountEstimated {
		return "about " + n
	}
	return n
}

func groupThousands(n int) string {
	s := strconv.Itoa(n)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// shortURL shows where a webhook goes without what its URL may carry
// besides (credentials, tokens in the query).
func shortURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(not a URL)"
	}
	s := u.Scheme + "://" + u.Host + u.EscapedPath()
	if u.RawQuery != "" {
		s += "?…"
	}
	return s
}

// ---------------------------------------------------------------------------
// Pages

type homeData struct {
	Stats *statsView
	Chart chart
	// Recent are the newest events, which the tail continues from.
	Recent  []shipevents.StoredEvent
	TailURL string
}

// homeRecent is how many of the newest events the live page starts with.
const homeRecent = 20

func (c *Console) pageHome(w http.ResponseWriter, r *http.Request) error {
	pr := principalOf(r)
	var data homeData
	if pr.AllTenants {
		s := viewStats(c.d.Stats())
		data.Stats = &s
	}
	subs, err := c.subscriptions(r)
	if err != nil {
		return err
	}
	var sum []bucket
	for i := range subs {
		h, err := c.health(r.Context(), &subs[i])
		if err != nil {
			return err
		}
		if sum == nil {
			sum = h.Buckets
			continue
		}
		for j := range sum {
			sum[j].Succeeded += h.Buckets[j].Succeeded
			sum[j].Failed += h.Buckets[j].Failed
		}
	}
	data.Chart = chartOf(sum, 720, 160)
	recent, err := c.d.Events(r.Context(), shipevents.EventFilter{TenantID: pr.scope(), Limit: homeRecent})
	if err != nil {
		return err
	}
	data.Recent = recent.Items
	cursor := recent.PageInfo.StartCursor
	if cursor == "" {
		cursor = shipevents.EncodeCursor(0) // no event yet: the tail starts before the first
	}
	data.TailURL = c.cfg.Prefix + "/api/tail?" + url.Values{"cursor": {cursor}}.Encode()
	return c.render(w, r, http.StatusOK, "home", "Live", data)
}

type eventsData struct {
	Query  url.Values
	Filter shipevents.EventFilter
	Page   shipevents.Page[shipevents.StoredEvent]
	Newer  string // query of the newer page, "" when none
	Older  string
	Types  []string
	Groups []string
	States []shipevents.Status
	Scoped bool
}

func (c *Console) pageEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	for k, vs := range q { // an empty form field is no filter
		if len(vs) == 1 && vs[0] == "" {
			delete(q, k)
		}
	}
	pr := principalOf(r)
	data := eventsData{Query: q, Types: shipevents.EventTypes(), Groups: shipevents.EventGroups(), States: shipevents.Statuses(), Scoped: !pr.AllTenants}
	f, err := eventFilter(pr, q)
	if err != nil {
		return err
	}
	data.Filter = f
	if data.Page, err = c.d.Events(r.Context(), f); err != nil {
		return err
	}
	pi := data.Page.PageInfo
	page := func(key, cursor string) string {
		v := url.Values{}
		for k, vs := range q {
			if k != "after" && k != "before" && k != "offset" {
				v[k] = vs
			}
		}
		v.Set(key, cursor)
		return v.Encode()
	}
	if pi.HasPreviousPage && pi.StartCursor != "" {
		data.Newer = page("before", pi.StartCursor)
	}
	if pi.HasNextPage && pi.EndCursor != "" {
		data.Older = page("after", pi.EndCursor)
	}
	return c.render(w, r, http.StatusOK, "events", "Events", data)
}

func (c *Console) pageEvent(w http.ResponseWriter, r *http.Request) error {
	key, err := eventKey(r)
	if err != nil {
		return err
	}
	d, err := c.eventDetail(r.Context(), key)
	if err != nil {
		return err
	}
	return c.render(w, r, http.StatusOK, "event", "Event", d)
}

func (c *Console) pageJourney(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := &params{q: q}
	p.only([]string{"tenant", "carrier", "tracking_number"})
	if err := p.problem(); err != nil {
		return err
	}
	j, err := c.journey(r, q.Get("carrier"), q.Get("tracking_number"), url.Values{"tenant": q["tenant"]})
	if err != nil {
		return err
	}
	return c.render(w, r, http.StatusOK, "journey", "Journey", j)
}

type subscriptionRow struct {
	Sub    subscriptionView
	Health health
}

func (c *Console) pageSubscriptions(w http.ResponseWriter, r *http.Request) error {
	subs, err := c.subscriptions(r)
	if err != nil {
		return err
	}
	rows := make([]subscriptionRow, 0, len(subs))
	for i := range subs {
		h, err := c.health(r.Context(), &subs[i])
		if err != nil {
			return err
		}
		rows = append(rows, subscriptionRow{Sub: viewSubscription(&subs[i]), Health: h})
	}
	return c.render(w, r, http.StatusOK, "subscriptions", "Subscriptions", rows)
}

type subscriptionData struct {
	subscriptionRow
	Recent []shipevents.Delivery
}

func (c *Console) pageSubscription(w http.ResponseWriter, r *http.Request) error {
	s, err := c.subscription(r)
	if err != nil {
		return err
	}
	h, err := c.health(r.Context(), &s)
	if err != nil {
		return err
	}
	recent, err := c.d.Deliveries(r.Context(), shipevents.DeliveryFilter{SubscriptionID: s.ID, NewestFirst: true, Limit: 20})
	if err != nil {
		return err
	}
	return c.render(w, r, http.StatusOK, "subscription", "Subscription", subscriptionData{subscriptionRow{viewSubscription(&s), h}, recent.Items})
}

type deadLettersData struct {
	Replayed *shipevents.Delivery
	Page     shipevents.Page[shipevents.Delivery]
	Older    string
	// Subscriptions are those with dead letters on this page, for the
	// replay-all buttons.
	Subscriptions []string
}

func (c *Console) pageDeadLetters(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	p := &params{q: q}
	p.only([]string{"after", "replayed", "notice"})
	after, replayedID := p.one("after"), p.one("replayed")
	if err := p.problem(); err != nil {
		return err
	}
	pr := principalOf(r)
	var data deadLettersData
	if replayedID != "" {
		page, err := c.d.Deliveries(r.Context(), shipevents.DeliveryFilter{ID: replayedID, TenantID: pr.scope(), Limit: 1})
		if err != nil {
			return err
		}
		if len(page.Items) > 0 {
			data.Replayed = &page.Items[0]
		}
	}
	page, err := c.d.Deliveries(r.Context(), shipevents.DeliveryFilter{State: shipevents.DeliveryDead, TenantID: pr.scope(),
		NewestFirst: true, After: after, Limit: shipevents.DefaultPageSize})
	if err != nil {
		return err
	}
	data.Page = page
	if page.PageInfo.HasNextPage {
		data.Older = url.Values{"after": {page.PageInfo.EndCursor}}.Encode()
	}
	seen := map[string]bool{}
	for _, d := range page.Items {
		if !seen[d.SubscriptionID] {
			seen[d.SubscriptionID] = true
			data.Subscriptions = append(data.Subscriptions, d.SubscriptionID)
		}
	}
	if !pr.AllTenants { // replay-all only for the tenant's own subscriptions
		var own []string
		for _, id := range data.Subscriptions {
			if s, err := c.d.Subscription(r.Context(), id); err == nil && visible(pr, &s) {
				own = append(own, id)
			}
		}
		data.Subscriptions = own
	}
	return c.render(w, r, http.StatusOK, "deadletters", "Dead letters", data)
}

// ---------------------------------------------------------------------------
// Forms: each does what its API route does and sends the browser back.

// back returns where a form asks to go after posting, if it is a page
// of the console, and fallback otherwise.
func (c *Console) back(r *http.Request, fallback string) string {
	b := r.PostFormValue("back")
	if b == "" || !strings.HasPrefix(b, "/") || strings.HasPrefix(b, "//") || strings.ContainsAny(b, "\\\r\n") {
		return c.cfg.Prefix + fallback
	}
	return c.cfg.Prefix + b
}

// redirect sends the browser to target with a notice.
func redirect(w http.ResponseWriter, r *http.Request, target, notice string, extra url.Values) {
	u, err := url.Parse(target)
	if err != nil {
		u = &url.URL{Path: "/"}
	}
	q := u.Query()
	q.Set("notice", notice)
	for k, vs := range extra {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	http.Redirect(w, r, u.String(), http.StatusSeeOther)
}

func (c *Console) formReplayDelivery(w http.ResponseWriter, r *http.Request) error {
	d, err := c.delivery(r)
	if err != nil {
		return err
	}
	if err := c.d.ReplayDelivery(r.Context(), d.ID); err != nil {
		return err
	}
	redirect(w, r, c.back(r, "/dead-letters"), "replayed", url.Values{"replayed": {d.ID}})
	return nil
}

func (c *Console) formReplayDeadLetters(w http.ResponseWriter, r *http.Request) error {
	s, err := c.subscription(r)
	if err != nil {
		return err
	}
	if _, err := c.d.ReplayDeadLetters(r.Context(), s.ID); err != nil {
		return err
	}
	redirect(w, r, c.back(r, "/dead-letters"), "replayall", nil)
	return nil
}

func (c *Console) formReplayEvent(w http.ResponseWriter, r *http.Request) error {
	key, err := eventKey(r)
	if err != nil {
		return err
	}
	if _, err := c.d.ReplayEvent(r.Context(), key); err != nil {
		return err
	}
	redirect(w, r, c.back(r, "/events"), "event", nil)
	return nil
}

func (c *Console) formTestSubscription(w http.ResponseWriter, r *http.Request) error {
	s, err := c.subscription(r)
	if err != nil {
		return err
	}
	if _, _, err := c.sendTest(r.Context(), &s, principalOf(r).Name); err != nil {
		return err
	}
	redirect(w, r, c.back(r, "/subscriptions"), "test", nil)
	return nil
}

func (c *Console) formDisableSubscription(w http.ResponseWriter, r *http.Request) error {
	if _, err := c.setDisabled(r, true, c.disabledReason(r)); err != nil {
		return err
	}
	redirect(w, r, c.back(r, "/subscriptions"), "disabled", nil)
	return nil
}

func (c *Console) formEnableSubscription(w http.ResponseWriter, r *http.Request) error {
	if _, err := c.setDisabled(r, false, ""); err != nil {
		return err
	}
	redirect(w, r, c.back(r, "/subscriptions"), "enabled", nil)
	return nil
}

// ---------------------------------------------------------------------------
// Charts: bars drawn on the server as SVG.

type chart struct {
	W, H   int
	Bars   []bar
	Max    int
	Labels []label
	Empty  bool
}

type bar struct {
	X, W         int
	OkY, OkH     int
	FailY, FailH int
	Title        string
}

type label struct {
	X    int
	Text string
}

// chartOf lays out buckets as stacked bars (succeeded below, failed
// above) in a w×h box, the bottom 16 pixels left for the hour labels.
func chartOf(buckets []bucket, w, h int) chart {
	ch := chart{W: w, H: h}
	for _, b := range buckets {
		ch.Max = max(ch.Max, b.Succeeded+b.Failed)
	}
	ch.Empty = ch.Max == 0
	if len(buckets) == 0 {
		return ch
	}
	plot := h - 16
	slot := w / len(buckets)
	scale := func(n int) int {
		if ch.Max == 0 {
			return 0
		}
		return n * plot / ch.Max
	}
	for i, b := range buckets {
		okH, failH := scale(b.Succeeded), scale(b.Failed)
		x := i*slot + 1
		ch.Bars = append(ch.Bars, bar{X: x, W: max(slot-2, 1), OkY: plot - okH, OkH: okH, FailY: plot - okH - failH, FailH: failH,
			Title: fmt.Sprintf("%s: %d delivered, %d failed", b.Start.Format("Jan 2 15:04"), b.Succeeded, b.Failed)})
		if i%6 == 0 {
			ch.Labels = append(ch.Labels, label{X: x, Text: b.Start.Format("15:04")})
		}
	}
	return ch
}

//go:embed openapi.json
var openAPI []byte

func serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPI)
}
