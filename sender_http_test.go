package shipevents

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// loopbackPolicy lets the sender reach httptest servers.
var loopbackPolicy = AddressPolicy{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}}

func newTestSender(t *testing.T, cfg HTTPSenderConfig) *HTTPSender {
	t.Helper()
	if !cfg.Policy.AllowPrivate && cfg.Policy.Allow == nil {
		cfg.Policy = loopbackPolicy
	}
	s := NewHTTPSender(cfg)
	t.Cleanup(s.CloseIdleConnections)
	return s
}

func testMessage(url string) *Message {
	return &Message{
		DeliveryID:   "dlv_1",
		Attempt:      1,
		Event:        &Event{ID: "evt_123", Type: "shipment.delivered"},
		Subscription: &Subscription{ID: "sub_1", URL: url, Secrets: []string{testSecret}},
		Body:         []byte(`{"id":"evt_123","type":"shipment.delivered"}`),
		Timestamp:    time.Now(),
	}
}

// captured is what a test server saw of one request.
type captured struct {
	method string
	path   string
	header http.Header
	body   []byte
}

// recordingServer answers 200 "ok" and records the requests.
func recordingServer(t *testing.T) (*httptest.Server, func() []captured) {
	t.Helper()
	var mu sync.Mutex
	var reqs []captured
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, captured{r.Method, r.URL.Path, r.Header.Clone(), b})
		mu.Unlock()
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	return srv, func() []captured {
		mu.Lock()
		defer mu.Unlock()
		return append([]captured(nil), reqs...)
	}
}

func TestHTTPSenderHeaders(t *testing.T) {
	srv, requests := recordingServer(t)
	s := newTestSender(t, HTTPSenderConfig{})
	m := testMessage(srv.URL + "/hook")
	m.Subscription.Headers = map[string]string{
		"X-Api-Key":         "static-key",
		"webhook-id":        "forged",
		"Webhook-Signature": "v1,forged",
		"Idempotency-Key":   "forged",
		"Content-Type":      "text/plain",
	}
	resp, err := s.Send(context.Background(), m)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if resp.StatusCode != 200 || string(resp.Body) != "ok" {
		t.Fatalf("Response = %d %q", resp.StatusCode, resp.Body)
	}
	reqs := requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.method != http.MethodPost || r.path != "/hook" || !bytes.Equal(r.body, m.Body) {
		t.Errorf("request %s %s %q", r.method, r.path, r.body)
	}
	want := map[string]string{
		"Content-Type":         "application/json",
		"User-Agent":           DefaultUserAgent,
		HeaderWebhookID:        "evt_123",
		"Idempotency-Key":      "evt_123",
		HeaderWebhookTimestamp: strconv.FormatInt(m.Timestamp.Unix(), 10),
		"X-Api-Key":            "static-key",
	}
	for name, v := range want {
		if got := r.header.Get(name); got != v {
			t.Errorf("%s = %q, want %q", name, got, v)
		}
	}
	if n := len(r.header.Values(HeaderWebhookID)); n != 1 {
		t.Errorf("%d webhook-id values", n)
	}
	if err := Verify(testSecret, r.header, r.body, nil); err != nil {
		t.Errorf("Verify: %v", err)
	}

	// CloudEvents form; no secrets means no signature.
	m = testMessage(srv.URL)
	m.Subscription.Form = FormCloudEvents
	m.Subscription.Secrets = nil
	if _, err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	r = requests()[1]
	if ct := r.header.Get("Content-Type"); ct != "application/cloudevents+json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if sig := r.header.Get(HeaderWebhookSignature); sig != "" {
		t.Errorf("unexpected signature %q", sig)
	}
}

func TestHTTPSenderSameIDAcrossAttempts(t *testing.T) {
	srv, requests := recordingServer(t)
	s := newTestSender(t, HTTPSenderConfig{})
	first := time.Unix(1700000000, 0)
	for i, ts := range []time.Time{first, first.Add(15 * time.Second)} {
		m := testMessage(srv.URL)
		m.Attempt = i + 1
		m.Timestamp = ts
		if _, err := s.Send(context.Background(), m); err != nil {
			t.Fatal(err)
		}
	}
	reqs := requests()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	if a, b := reqs[0].header.Get(HeaderWebhookID), reqs[1].header.Get(HeaderWebhookID); a != "evt_123" || a != b {
		t.Errorf("webhook-id %q then %q", a, b)
	}
	if a, b := reqs[0].header.Get(HeaderWebhookTimestamp), reqs[1].header.Get(HeaderWebhookTimestamp); a != "1700000000" || b != "1700000015" {
		t.Errorf("webhook-timestamp %q then %q", a, b)
	}
	for i, r := range reqs {
		opts := fixedNow(first.Add(time.Duration(i) * 15 * time.Second))
		if err := Verify(testSecret, r.header, r.body, opts); err != nil {
			t.Errorf("attempt %d: Verify: %v", i+1, err)
		}
	}
}

func TestHTTPSenderErrorStatus(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	long := strings.Repeat("é", 2000) // 4000 bytes
	cases := []struct {
		status     int
		retryAfter string
		body       string
		wantRA     time.Duration
		wantBody   string
	}{
		{500, "", "boom", 0, "boom"},
		{429, "7", "slow down", 7 * time.Second, "slow down"},
		{503, now.Add(2 * time.Minute).Format(http.TimeFormat), "", 2 * time.Minute, ""},
		{503, now.Add(-time.Minute).Format(http.TimeFormat), "", 0, ""},
		{429, "soon", "", 0, ""},
		{410, "", "gone", 0, "gone"},
		{400, "", long, 0, long[:MaxStoredResponse]},
	}
	for _, c := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c.retryAfter != "" {
				w.Header().Set("Retry-After", c.retryAfter)
			}
			w.WriteHeader(c.status)
			io.WriteString(w, c.body)
		}))
		s := newTestSender(t, HTTPSenderConfig{Now: func() time.Time { return now }})
		resp, err := s.Send(context.Background(), testMessage(srv.URL))
		srv.Close()
		var he *HTTPError
		if !errors.As(err, &he) {
			t.Errorf("%d: err = %v, want *HTTPError", c.status, err)
			continue
		}
		if he.StatusCode != c.status || he.RetryAfter != c.wantRA || he.Body != c.wantBody {
			t.Errorf("%d: HTTPError{%d, %v, %d bytes}, want {%d, %v, %d bytes}", c.status, he.StatusCode, he.RetryAfter, len(he.Body), c.status, c.wantRA, len(c.wantBody))
		}
		if resp.StatusCode != c.status || string(resp.Body) != c.body {
			t.Errorf("%d: Response = %d, %d bytes", c.status, resp.StatusCode, len(resp.Body))
		}
	}
}

func TestRetryAfterParse(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Duration{
		"":                               0,
		"0":                              0,
		"-5":                             0,
		" 120 ":                          2 * time.Minute,
		"Sun, 01 Mar 2026 12:00:30 GMT":  30 * time.Second,
		"Sunday, 01-Mar-26 12:01:00 GMT": time.Minute,
		"Sun Mar  1 12:00:10 2026":       10 * time.Second,
		"Sun, 01 Mar 2026 11:00:00 GMT":  0,
		"1.5":                            0,
		// Overflowing delay-seconds is still a (huge) delay, clamped
		// like any other, not an absent header.
		"99999999999999999999999": time.Duration(1<<33) * time.Second,
		"9223372036854775808":     time.Duration(1<<33) * time.Second,
	}
	for v, want := range cases {
		if got := retryAfter(v, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestHTTPSenderResponseLimit: the sender reads MaxResponseBytes of a 10
// MB response and stops. On the in-memory network a write blocks until the
// reader takes it, so what the server managed to write shows what the
// sender read.
func TestHTTPSenderResponseLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := newPipeNet()
		var written atomic.Int64
		srv := pn.server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			chunk := bytes.Repeat([]byte("x"), 64<<10)
			for range 160 { // 10 MB
				n, err := w.Write(chunk)
				written.Add(int64(n))
				if err != nil {
					return
				}
			}
		}))
		s := pn.sender(t, HTTPSenderConfig{MaxResponseBytes: 1000})
		resp, err := s.Send(context.Background(), testMessage(srv.URL))
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Body) != 1000 {
			t.Errorf("read %d bytes, want 1000", len(resp.Body))
		}
		srv.Close() // waits for the handler
		if n := written.Load(); n > 256<<10 {
			t.Errorf("the server wrote %d bytes of its 10 MB: the sender read on past its 1000", n)
		}
	})
}

func TestHTTPSenderGzipLimit(t *testing.T) {
	plain := bytes.Repeat([]byte("a"), 200<<10)
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	zw.Write(plain)
	zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Compressed whatever the client asked for.
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(zipped.Bytes())
	}))
	defer srv.Close()
	s := newTestSender(t, HTTPSenderConfig{MaxResponseBytes: 5000})

	// Negotiated by the transport: decompressed, then limited.
	resp, err := s.Send(context.Background(), testMessage(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Body) != 5000 || !bytes.Equal(resp.Body, plain[:5000]) {
		t.Errorf("negotiated gzip: %d bytes %q…", len(resp.Body), resp.Body[:min(10, len(resp.Body))])
	}

	// Not negotiated (the subscription asks for identity): kept as sent.
	m := testMessage(srv.URL)
	m.Subscription.Headers = map[string]string{"Accept-Encoding": "identity"}
	resp, err = s.Send(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	want := zipped.Bytes()[:min(5000, zipped.Len())]
	if !bytes.Equal(resp.Body, want) {
		t.Errorf("unnegotiated gzip: got %d bytes, want the %d raw bytes", len(resp.Body), len(want))
	}
}

// TestHTTPSenderTimeout runs in a synctest bubble on an in-memory
// network, so the timeouts are measured in virtual time: exact, and the
// same on a busy machine.
func TestHTTPSenderTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		pn := newPipeNet()
		release := make(chan struct{})
		srv := pn.server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}))
		defer close(release)

		s := pn.sender(t, HTTPSenderConfig{Timeout: 150 * time.Millisecond})
		start := time.Now()
		_, err := s.Send(context.Background(), testMessage(srv.URL))
		d := time.Since(start)
		if err == nil || !isTimeout(err) {
			t.Fatalf("Send = %v, want a timeout", err)
		}
		var pe *PermanentError
		if errors.As(err, &pe) {
			t.Errorf("a timeout is not permanent: %v", err)
		}
		if d != 150*time.Millisecond {
			t.Errorf("timed out after %v, want 150ms", d)
		}

		// The caller's deadline applies when it is shorter.
		s = pn.sender(t, HTTPSenderConfig{Timeout: 10 * time.Second})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start = time.Now()
		_, err = s.Send(ctx, testMessage(srv.URL))
		if d := time.Since(start); err == nil || !isTimeout(err) || d != 50*time.Millisecond {
			t.Errorf("Send with a 50ms context = %v after %v, want a timeout after 50ms", err, d)
		}
	})
}

func TestHTTPSenderConnectionReset(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			tc.SetLinger(0) // RST rather than FIN
		}
		conn.Close()
	}))
	defer srv.Close()
	s := newTestSender(t, HTTPSenderConfig{})
	resp, err := s.Send(context.Background(), testMessage(srv.URL))
	if err == nil {
		t.Fatal("Send succeeded on a reset connection")
	}
	var he *HTTPError
	var pe *PermanentError
	if errors.As(err, &he) || errors.As(err, &pe) || resp.StatusCode != 0 {
		t.Errorf("reset: %v (status %d), want a transient transport error", err, resp.StatusCode)
	}
}

func TestHTTPSenderRedirect(t *testing.T) {
	var otherHits atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		otherHits.Add(1)
	}))
	defer other.Close()

	var mu sync.Mutex
	var final *captured
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/final", http.StatusTemporaryRedirect)
		case "/permanent":
			http.Redirect(w, r, "/final", http.StatusPermanentRedirect)
		case "/found":
			http.Redirect(w, r, "/final", http.StatusFound)
		case "/other":
			http.Redirect(w, r, other.URL+"/final", http.StatusTemporaryRedirect)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusTemporaryRedirect)
		case "/final":
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			final = &captured{r.Method, r.URL.Path, r.Header.Clone(), b}
			mu.Unlock()
		}
	}))
	defer srv.Close()
	s := newTestSender(t, HTTPSenderConfig{})

	for _, path := range []string{"/same", "/permanent"} {
		mu.Lock()
		final = nil
		mu.Unlock()
		m := testMessage(srv.URL + path)
		if _, err := s.Send(context.Background(), m); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		mu.Lock()
		f := final
		mu.Unlock()
		if f == nil || f.method != http.MethodPost || !bytes.Equal(f.body, m.Body) {
			t.Fatalf("%s: final request %+v", path, f)
		}
		if err := Verify(testSecret, f.header, f.body, nil); err != nil {
			t.Errorf("%s: Verify after redirect: %v", path, err)
		}
	}

	for _, path := range []string{"/other", "/found", "/loop"} {
		resp, err := s.Send(context.Background(), testMessage(srv.URL+path))
		if !errors.Is(err, errRedirect) {
			t.Errorf("%s: err = %v, want a refused redirect", path, err)
			continue
		}
		var pe *PermanentError
		if errors.As(err, &pe) {
			t.Errorf("%s: a refused redirect is retryable: %v", path, err)
		}
		if resp.StatusCode < 300 || resp.StatusCode > 399 {
			t.Errorf("%s: status %d", path, resp.StatusCode)
		}
	}
	if n := otherHits.Load(); n != 0 {
		t.Errorf("the other host got %d requests", n)
	}

	none := newTestSender(t, HTTPSenderConfig{MaxRedirects: -1})
	if _, err := none.Send(context.Background(), testMessage(srv.URL+"/same")); !errors.Is(err, errRedirect) {
		t.Errorf("MaxRedirects -1: %v", err)
	}
}

func TestHTTPSenderDefaultPolicyRefuses(t *testing.T) {
	var conns, hits atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())

	s := NewHTTPSender(HTTPSenderConfig{})
	defer s.CloseIdleConnections()
	for _, u := range []string{
		srv.URL + "/hook?token=sekrit",
		"http://user:hunter2@127.0.0.1:" + port + "/hook",
		"http://localhost:" + port + "/hook",
		"http://[::ffff:127.0.0.1]:" + port + "/hook",
	} {
		_, err := s.Send(context.Background(), testMessage(u))
		if !errors.Is(err, ErrDestinationRefused) {
			t.Errorf("%s: err = %v, want ErrDestinationRefused", redactURL(u), err)
			continue
		}
		var pe *PermanentError
		if !errors.As(err, &pe) {
			t.Errorf("%s: a refused destination is permanent: %v", redactURL(u), err)
		}
		if msg := err.Error(); strings.Contains(msg, "sekrit") || strings.Contains(msg, "hunter2") {
			t.Errorf("error quotes the URL's secrets: %q", msg)
		}
	}
	if hits.Load() != 0 || conns.Load() != 0 {
		t.Errorf("the server saw %d connections and %d requests", conns.Load(), hits.Load())
	}
}

func TestHTTPSenderErrorsRedacted(t *testing.T) {
	// A closed port: connection refused, with secrets in the URL.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s := newTestSender(t, HTTPSenderConfig{})
	m := testMessage("http://user:hunter2@" + addr + "/hook?token=sekrit")
	m.Subscription.Headers = map[string]string{"X-Api-Key": "static-key"}
	_, err = s.Send(context.Background(), m)
	if err == nil {
		t.Fatal("Send to a closed port succeeded")
	}
	for _, secret := range []string{"sekrit", "hunter2", "static-key", strings.TrimPrefix(testSecret, SecretPrefix)} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q contains %q", err, secret)
		}
	}
	var pe *PermanentError
	if errors.As(err, &pe) {
		t.Errorf("connection refused is transient: %v", err)
	}

	// Invalid URL and invalid secret: permanent, without the secrets.
	for _, m := range []*Message{testMessage("ftp://example.com/x?token=sekrit"), testMessage("http://[bad?token=sekrit")} {
		_, err := s.Send(context.Background(), m)
		if !errors.As(err, &pe) || strings.Contains(err.Error(), "sekrit") {
			t.Errorf("invalid url: %v", err)
		}
	}
	m = testMessage("http://" + addr)
	m.Subscription.Secrets = []string{"whsec_c2hvcnQ="}
	if _, err := s.Send(context.Background(), m); !errors.As(err, &pe) || !errors.Is(err, ErrInvalidSecret) || strings.Contains(err.Error(), "c2hvcnQ") {
		t.Errorf("invalid secret: %v", err)
	}
	if _, err := s.Send(context.Background(), &Message{}); !errors.As(err, &pe) {
		t.Errorf("empty message: %v", err)
	}
}

func TestHTTPSenderConnectionReuse(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, strings.Repeat("r", 3000))
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	s := newTestSender(t, HTTPSenderConfig{MaxResponseBytes: 1000}) // the rest is drained
	for i := range 20 {
		if _, err := s.Send(context.Background(), testMessage(srv.URL)); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("%d connections for 20 sequential sends, want 1", n)
	}
}

func TestHTTPSenderCustomTransport(t *testing.T) {
	srv, requests := recordingServer(t)
	var used atomic.Int32
	base := &http.Transport{}
	defer base.CloseIdleConnections()
	rt := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		used.Add(1)
		return base.RoundTrip(r)
	})
	// The default policy is not applied: the transport is the host's.
	s := NewHTTPSender(HTTPSenderConfig{Transport: rt, UserAgent: "custom/1"})
	if _, err := s.Send(context.Background(), testMessage(srv.URL)); err != nil {
		t.Fatal(err)
	}
	if used.Load() != 1 || requests()[0].header.Get("User-Agent") != "custom/1" {
		t.Errorf("transport used %d times, UA %q", used.Load(), requests()[0].header.Get("User-Agent"))
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// isTimeout reports whether err is a timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// TestURLPathRedacted: chat-style webhook URLs carry their token in the
// path (https://hooks.slack.com/services/T000/B000/XXXX), so errors and
// log values show only scheme, host and port, whatever the failure.
func TestURLPathRedacted(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	const token = "XXXXsecretpathtoken"
	for _, u := range []string{
		"http://" + addr + "/services/T000/B000/" + token,
		"http://" + addr + "/services/T000/B000/" + token + "?q=" + token + "#" + token,
	} {
		for name, s := range map[string]*HTTPSender{
			"refused by the policy": NewHTTPSender(HTTPSenderConfig{}),
			"connection refused":    newTestSender(t, HTTPSenderConfig{}),
		} {
			_, err := s.Send(context.Background(), testMessage(u))
			if err == nil {
				t.Fatalf("%s: Send succeeded", name)
			}
			if strings.Contains(err.Error(), token) || strings.Contains(err.Error(), "T000") {
				t.Errorf("%s: error %q shows the URL's path", name, err)
			}
			if !strings.Contains(err.Error(), addr) {
				t.Errorf("%s: error %q does not name the destination", name, err)
			}
		}
		m := testMessage(u)
		m.Subscription.OAuth2 = &OAuth2{TokenURL: u, ClientID: "c", ClientSecret: "x"}
		if _, err := newTestSender(t, HTTPSenderConfig{}).Send(context.Background(), m); err == nil || strings.Contains(err.Error(), token) {
			t.Errorf("token endpoint failure: %v", err)
		}
		var b strings.Builder
		slog.New(slog.NewTextHandler(&b, nil)).Info("x", "subscription", Subscription{ID: "s", URL: u})
		if strings.Contains(b.String(), token) || !strings.Contains(b.String(), addr) {
			t.Errorf("LogValue: %s", b.String())
		}
	}
}
