// Package browsertest drives the operator console's dashboard in a real
// browser, headless Chromium (Debian's chromium package), with chromedp.
// It is a module of its own so that no published module depends on
// chromedp. Under CI (CI=true) a missing Chromium fails the tests;
// elsewhere it skips them.
package browsertest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/console"
)

var update = flag.Bool("update", false, "write the dashboard's screenshot to docs/console.png")

// hangGuard bounds every wait: far beyond what a loaded machine needs,
// short of hanging the suite.
const hangGuard = 60 * time.Second

// chromium returns the browser's path, or skips (fails under CI).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium on this machine: .ci/run installs Debian's chromium package")
	}
	t.Skip("no Chromium on this machine (apt-get install chromium): skipping the browser tests")
	return ""
}

// site is a dispatcher with the console in front, served over HTTP, and
// a browser tab on it.
type site struct {
	t   *testing.T
	d   *shipevents.Dispatcher
	srv *httptest.Server
	tab context.Context
}

func newSite(t *testing.T, setup func(d *shipevents.Dispatcher)) *site {
	t.Helper()
	path := chromium(t)
	d := shipevents.NewDispatcher(shipevents.DispatcherConfig{PollInterval: 20 * time.Millisecond,
		Retry:  shipevents.RetryPolicy{Schedule: []time.Duration{10 * time.Millisecond}, NoJitter: true},
		Logger: slog.New(slog.DiscardHandler), DisableDeliveryEvents: true})
	if setup != nil {
		setup(d)
	}
	c := console.New(d, console.Config{Prefix: "/ops", TailPoll: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler),
		Authorize: func(*http.Request) (console.Principal, error) {
			return console.Principal{Name: "operator", AllTenants: true}, nil
		}})
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = d.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1400, 1000))
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	tab, tcancel := chromedp.NewContext(actx)
	t.Cleanup(func() { tcancel(); acancel() })
	// The first call starts the browser, which lives as long as the
	// context of that call: no timeout on it.
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("starting Chromium: %v", err)
	}
	return &site{t: t, d: d, srv: srv, tab: tab}
}

// run runs browser actions under the hang guard.
func (s *site) run(what string, actions ...chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.tab, hangGuard)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		s.t.Fatalf("%s: %v", what, err)
	}
}

func (s *site) open(path string) {
	s.t.Helper()
	s.run("open "+path, chromedp.Navigate(s.srv.URL+"/ops"+path), chromedp.WaitReady("body"))
}

// waitJS evaluates a JavaScript condition until it is true.
func (s *site) waitJS(what, expr string) {
	s.t.Helper()
	deadline := time.Now().Add(hangGuard)
	for {
		ctx, cancel := context.WithTimeout(s.tab, hangGuard)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("timed out waiting for %s (%s): last error %v", what, expr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eval evaluates a JavaScript expression into out.
func eval[T any](s *site, expr string, out *T) {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(s.tab, hangGuard)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		s.t.Fatalf("evaluate %s: %v", expr, err)
	}
	*out = v
}

func (s *site) publish(events ...shipevents.Event) {
	s.t.Helper()
	if _, err := s.d.Publish(context.Background(), events...); err != nil {
		s.t.Fatal(err)
	}
}

var t0 = time.Date(2026, 11, 2, 8, 0, 0, 0, time.UTC)

func scan(tracking string, minutes int, eventName, description string) shipevents.Event {
	e, err := shipevents.NewShipmentEvent(eventName, shipevents.HostEvent{Carrier: "ups", TrackingNumber: tracking,
		OccurredAt: t0.Add(time.Duration(minutes) * time.Minute), Data: shipevents.EventData{Description: description}})
	if err != nil {
		panic(err)
	}
	return e
}

// rows is a JavaScript expression: the data-event-id of each row of a
// table, in order.
func rows(table string) string {
	return `Array.from(document.querySelectorAll("#` + table + ` tbody tr[data-event-id]")).map(r => r.dataset.eventId)`
}

func TestEventListAndSearch(t *testing.T) {
	s := newSite(t, nil)
	var want []string
	for i := range 6 {
		trk := "1ZLIST" + string(rune('A'+i%2))
		e := scan(trk, i, "IN_TRANSIT", fmt.Sprintf("scan %d of %s", i, trk))
		s.publish(e)
		want = append([]string{e.ID}, want...) // newest first
	}
	s.open("/events")
	var got []string
	eval(s, rows("events"), &got)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("the event list shows %v, want the stored events newest first %v", got, want)
	}
	var count string
	eval(s, `document.getElementById("event-count").textContent`, &count)
	if count != "6 events" {
		t.Errorf("count %q, want 6 events", count)
	}
	// A search by tracking number narrows the list to that shipment.
	s.run("search", chromedp.SendKeys(`input[name="tracking_number"]`, "1ZLISTB"), chromedp.Submit(`form.search`))
	s.waitJS("the narrowed list", rows("events")+`.length === 3 && document.getElementById("event-count").textContent === "3 events"`)
	var trks []string
	eval(s, `Array.from(document.querySelectorAll("#events tbody td.tracking")).map(td => td.textContent.trim())`, &trks)
	for _, trk := range trks {
		if trk != "1ZLISTB" {
			t.Errorf("the search for 1ZLISTB shows %q", trk)
		}
	}
	var loc string
	eval(s, `location.search`, &loc)
	if !strings.Contains(loc, "tracking_number=1ZLISTB") {
		t.Errorf("the search's URL %q does not carry the filter", loc)
	}
}

func TestLiveTailShowsNewEventsWithinTwoSeconds(t *testing.T) {
	s := newSite(t, nil)
	s.publish(scan("1ZOLD", 0, "IN_TRANSIT", "before the page"))
	s.open("/")
	s.waitJS("the tail to connect", `document.getElementById("tail-status").textContent === "live"`)
	// Two seconds is the promise; a load spike on a shared machine can
	// stall one try, so the best of three tries must keep it.
	best := time.Duration(1 << 62)
	for try := range 3 {
		e := scan(fmt.Sprintf("1ZLIVE%d", try), 10+try, "OUT_FOR_DELIVERY", "fresh")
		start := time.Now()
		s.publish(e)
		s.waitJS("the new event in the tail", `!!document.querySelector('#tail tr[data-event-id="`+e.ID+`"]')`)
		took := time.Since(start)
		t.Logf("try %d: the tail showed the event after %s", try+1, took)
		best = min(best, took)
		if best <= 2*time.Second {
			break
		}
	}
	if best > 2*time.Second {
		t.Errorf("the live tail took at least %s to show a new event, want at most 2 s", best)
	}
	var first string
	eval(s, `document.querySelector("#tail tbody tr td.tracking").textContent`, &first)
	if !strings.HasPrefix(first, "1ZLIVE") {
		t.Errorf("the newest row of the tail is %q, want the live event on top", first)
	}
}

func TestReplayDeadLetterFromItsButton(t *testing.T) {
	var fixed atomic.Bool
	var mu sync.Mutex
	var received []string
	s := newSite(t, func(d *shipevents.Dispatcher) {
		d.Handle("erp", func(_ context.Context, e shipevents.Event) error {
			if !fixed.Load() {
				return shipevents.Permanent(errors.New("erp rejected the event"))
			}
			mu.Lock()
			defer mu.Unlock()
			received = append(received, e.ID)
			return nil
		})
		if err := d.Subscribe(context.Background(), shipevents.Subscription{ID: "erp", Handler: "erp", EnabledEvents: []string{"shipments"}}); err != nil {
			t.Fatal(err)
		}
	})
	e := scan("1ZDEAD", 1, "IN_TRANSIT", "will die")
	s.publish(e)
	id := shipevents.DeliveryID(e.Key(), "erp")
	deadline := time.Now().Add(hangGuard)
	for {
		p, err := s.d.Deliveries(context.Background(), shipevents.DeliveryFilter{ID: id})
		if err == nil && len(p.Items) == 1 && p.Items[0].State == shipevents.DeliveryDead {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the delivery never died")
		}
		time.Sleep(10 * time.Millisecond)
	}
	fixed.Store(true)
	s.open("/dead-letters")
	row := `#dead-letters tr[data-delivery-id="` + id + `"]`
	var state string
	eval(s, `document.querySelector('`+row+` .state').textContent`, &state)
	if state != "dead" {
		t.Fatalf("the dead letter's row says %q, want dead", state)
	}
	s.run("click replay", chromedp.Click(row+` button.replay`))
	s.waitJS("the replayed row to show success", `(() => { const c = document.querySelector('#replayed tr[data-delivery-id="`+id+`"] .state'); return !!c && c.textContent === "succeeded"; })()`)
	mu.Lock()
	defer mu.Unlock()
	if len(received) != 1 || received[0] != e.ID {
		t.Errorf("the endpoint received %v after the replay, want the event once", received)
	}
	var notice string
	eval(s, `(document.querySelector(".notice") || {}).textContent || ""`, &notice)
	if !strings.Contains(notice, "Replay queued") {
		t.Errorf("notice %q after the replay", notice)
	}
}

func TestHostileTextStaysText(t *testing.T) {
	const trk = `1Z<img src=x onerror="window.__xss=1">`
	const desc = `<script>window.__xss=2</script><b>bold</b>`
	s := newSite(t, nil)
	s.publish(scan(trk, 1, "IN_TRANSIT", desc))
	s.open("/events")
	check := func(where, table string) {
		t.Helper()
		var out struct {
			XSS  bool     `json:"xss"`
			Tags int      `json:"tags"`
			Trk  []string `json:"trk"`
			Desc []string `json:"desc"`
		}
		eval(s, `({xss: window.__xss !== undefined,
			tags: document.querySelectorAll("#`+table+` tbody img, #`+table+` tbody script, #`+table+` tbody b").length,
			trk: Array.from(document.querySelectorAll("#`+table+` tbody td.tracking")).map(td => td.textContent.trim()),
			desc: Array.from(document.querySelectorAll("#`+table+` tbody td.description")).map(td => td.textContent)})`, &out)
		if out.XSS || out.Tags != 0 {
			t.Errorf("%s: the payload ran or became markup (script ran %v, %d elements)", where, out.XSS, out.Tags)
		}
		for _, got := range out.Trk {
			if got != trk {
				t.Errorf("%s: tracking number shown as %q, want the text %q", where, got, trk)
			}
		}
		for _, got := range out.Desc {
			if got != desc {
				t.Errorf("%s: description shown as %q, want the text %q", where, got, desc)
			}
		}
		if len(out.Trk) == 0 || len(out.Desc) == 0 {
			t.Errorf("%s: no row with the hostile event", where)
		}
	}
	check("the event list", "events")
	s.open("/")
	s.waitJS("the tail to connect", `document.getElementById("tail-status").textContent === "live"`)
	e := scan(trk, 2, "OUT_FOR_DELIVERY", desc)
	s.publish(e) // through the live tail's script this time
	s.waitJS("the hostile event in the tail", `!!document.querySelector('#tail tr[data-event-id="`+e.ID+`"]')`)
	check("the live tail", "tail")
}

// TestScreenshot renders the dashboard with the demo's kind of traffic;
// with -update it writes docs/console.png, which the README shows.
func TestScreenshot(t *testing.T) {
	s := newSite(t, func(d *shipevents.Dispatcher) {
		d.Handle("crm", func(context.Context, shipevents.Event) error { return nil })
		d.Handle("erp", func(context.Context, shipevents.Event) error { return errors.New("HTTP 503 from the ERP") })
		for _, sub := range []shipevents.Subscription{
			{ID: "crm", Name: "CRM", Handler: "crm", EnabledEvents: []string{"shipments"}},
			{ID: "erp", Name: "ERP", Handler: "erp", EnabledEvents: []string{"shipments/delivered"}},
		} {
			if err := d.Subscribe(context.Background(), sub); err != nil {
				t.Fatal(err)
			}
		}
	})
	steps := []string{"SHIPMENT_BOOKED", "PICKED_UP", "IN_TRANSIT", "OUT_FOR_DELIVERY", "SUCCESSFULLY_DELIVERED"}
	for i := range 20 {
		s.publish(scan(fmt.Sprintf("1Z999AA1%04d", i/5), i, steps[i%5], "Scan at the "+[]string{"origin", "hub", "depot"}[i%3]))
	}
	deadline := time.Now().Add(hangGuard)
	for st := s.d.Stats(); st.Succeeded < 20 || st.Dead < 4; st = s.d.Stats() { // the charts' bars
		if time.Now().After(deadline) {
			t.Fatalf("the deliveries did not settle: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.open("/")
	s.waitJS("the tail to connect", `document.getElementById("tail-status").textContent === "live"`)
	ctx, cancel := context.WithTimeout(s.tab, hangGuard)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100 is a PNG
	if err != nil {
		t.Fatal(err)
	}
	if len(png) < 1000 {
		t.Fatalf("screenshot of %d bytes", len(png))
	}
	out := filepath.Join("..", "..", "docs", "console.png")
	if *update {
		if err := os.WriteFile(out, png, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("%s is missing: run go test -update ./internal/browsertest/ (%v)", out, err)
	}
}
