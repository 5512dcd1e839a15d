package shipevents

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tokenServer is a fake token endpoint handing out tok-1, tok-2, ….
type tokenServer struct {
	*httptest.Server
	hits      atomic.Int32
	expiresIn int
	// gate, when set, is waited on before answering.
	gate    chan struct{}
	entered chan struct{}
	// fail, when set, is the status to answer with.
	fail int

	mu   sync.Mutex
	errs []string
}

func newTokenServer(t *testing.T, expiresIn int) *tokenServer {
	t.Helper()
	ts := &tokenServer{expiresIn: expiresIn}
	ts.Server = httptest.NewServer(http.HandlerFunc(ts.serve))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) errorf(format string, args ...any) {
	ts.mu.Lock()
	ts.errs = append(ts.errs, fmt.Sprintf(format, args...))
	ts.mu.Unlock()
}

func (ts *tokenServer) check(t *testing.T) {
	t.Helper()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for _, e := range ts.errs {
		t.Error("token endpoint: " + e)
	}
}

func (ts *tokenServer) serve(w http.ResponseWriter, r *http.Request) {
	n := ts.hits.Add(1)
	if ts.entered != nil && n == 1 {
		close(ts.entered)
	}
	if ts.gate != nil {
		<-ts.gate
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		ts.errorf("%s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
	}
	user, pass, ok := r.BasicAuth()
	if !ok || user != url.QueryEscape("client id:1") || pass != url.QueryEscape("s3cr&t=") {
		ts.errorf("basic auth %q %q %v", user, pass, ok)
	}
	if err := r.ParseForm(); err != nil {
		ts.errorf("form: %v", err)
	}
	if g, s, a := r.PostForm.Get("grant_type"), r.PostForm.Get("scope"), r.PostForm.Get("audience"); g != "client_credentials" || s != "events:write events:read" || a != "https://api.example" {
		ts.errorf("form grant_type=%q scope=%q audience=%q", g, s, a)
	}
	w.Header().Set("Content-Type", "application/json")
	if ts.fail != 0 {
		w.WriteHeader(ts.fail)
		w.Write([]byte(`{"error":"invalid_client","error_description":"bad secret s3cr&t="}`))
		return
	}
	json.NewEncoder(w).Encode(map[string]any{
		"access_token": fmt.Sprintf("tok-%d", n),
		"token_type":   "Bearer",
		"expires_in":   ts.expiresIn,
	})
}

func (ts *tokenServer) config() *OAuth2 {
	return &OAuth2{
		TokenURL:     ts.URL + "/token",
		ClientID:     "client id:1",
		ClientSecret: "s3cr&t=",
		Scopes:       []string{"events:write", "events:read"},
		Params:       map[string]string{"audience": "https://api.example"},
	}
}

// authServer is a webhook endpoint recording the Authorization headers;
// it answers 401 to the tokens in reject.
type authServer struct {
	*httptest.Server
	mu     sync.Mutex
	auths  []string
	reject func(auth string) bool
}

func newAuthServer(t *testing.T, reject func(string) bool) *authServer {
	t.Helper()
	as := &authServer{reject: reject}
	as.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		as.mu.Lock()
		as.auths = append(as.auths, auth)
		as.mu.Unlock()
		if as.reject != nil && as.reject(auth) {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	t.Cleanup(as.Close)
	return as
}

func (as *authServer) seen() []string {
	as.mu.Lock()
	defer as.mu.Unlock()
	return append([]string(nil), as.auths...)
}

// testClock is a settable clock.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func oauthMessage(url string, o *OAuth2) *Message {
	m := testMessage(url)
	m.Subscription.OAuth2 = o
	return m
}

func TestOAuthTokenCached(t *testing.T) {
	ts := newTokenServer(t, 3600)
	hook := newAuthServer(t, nil)
	s := newTestSender(t, HTTPSenderConfig{})
	for i := range 10 {
		if _, err := s.Send(context.Background(), oauthMessage(hook.URL, ts.config())); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	ts.check(t)
	if n := ts.hits.Load(); n != 1 {
		t.Errorf("token endpoint hit %d times for 10 sends, want 1", n)
	}
	for _, a := range hook.seen() {
		if a != "Bearer tok-1" {
			t.Errorf("Authorization %q", a)
		}
	}
	// Another scope set is another token.
	o := ts.config()
	o.Scopes = []string{"events:read", "events:write"} // same set, other order
	if _, err := s.Send(context.Background(), oauthMessage(hook.URL, o)); err != nil {
		t.Fatal(err)
	}
	if n := ts.hits.Load(); n != 1 {
		t.Errorf("same scopes in another order fetched again (%d hits)", n)
	}
	o.Params = map[string]string{"audience": "https://other.example"}
	s.Send(context.Background(), oauthMessage(hook.URL, o)) // the server flags the audience; only the count matters
	if n := ts.hits.Load(); n != 2 {
		t.Errorf("another audience: %d hits, want 2", n)
	}
}

func TestOAuthTokenRefreshedAfterExpiry(t *testing.T) {
	clock := &testClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	ts := newTokenServer(t, 3600)
	hook := newAuthServer(t, nil)
	s := newTestSender(t, HTTPSenderConfig{Now: clock.Now})
	send := func() {
		t.Helper()
		if _, err := s.Send(context.Background(), oauthMessage(hook.URL, ts.config())); err != nil {
			t.Fatal(err)
		}
	}
	send()
	clock.Advance(3569 * time.Second) // 31 s before expiry: still good
	send()
	if n := ts.hits.Load(); n != 1 {
		t.Fatalf("%d fetches before the refresh margin, want 1", n)
	}
	clock.Advance(2 * time.Second) // within 30 s of expiry
	send()
	send()
	ts.check(t)
	if n := ts.hits.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2", n)
	}
	got := hook.seen()
	want := []string{"Bearer tok-1", "Bearer tok-1", "Bearer tok-2", "Bearer tok-2"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Authorization headers %v, want %v", got, want)
	}
}

func TestOAuthRetryOn401(t *testing.T) {
	ts := newTokenServer(t, 3600)
	hook := newAuthServer(t, func(auth string) bool { return auth == "Bearer tok-1" })
	s := newTestSender(t, HTTPSenderConfig{})
	if _, err := s.Send(context.Background(), oauthMessage(hook.URL, ts.config())); err != nil {
		t.Fatalf("Send: %v", err)
	}
	ts.check(t)
	if n := ts.hits.Load(); n != 2 {
		t.Errorf("%d token fetches, want 2", n)
	}
	if got := hook.seen(); strings.Join(got, ",") != "Bearer tok-1,Bearer tok-2" {
		t.Errorf("Authorization headers %v", got)
	}
	// The new token stays cached.
	if _, err := s.Send(context.Background(), oauthMessage(hook.URL, ts.config())); err != nil {
		t.Fatal(err)
	}
	if n := ts.hits.Load(); n != 2 {
		t.Errorf("%d token fetches after the retry, want 2", n)
	}

	// An endpoint that always answers 401: one refetch, one retry, then
	// the 401 is returned.
	ts2 := newTokenServer(t, 3600)
	always := newAuthServer(t, func(string) bool { return true })
	_, err := s.Send(context.Background(), oauthMessage(always.URL, ts2.config()))
	var he *HTTPError
	if !errors.As(err, &he) || he.StatusCode != http.StatusUnauthorized {
		t.Fatalf("Send = %v, want HTTP 401", err)
	}
	if n, m := ts2.hits.Load(), len(always.seen()); n != 2 || m != 2 {
		t.Errorf("%d token fetches and %d webhook requests, want 2 and 2", n, m)
	}

	// Without OAuth2 a 401 is not retried.
	plain := newAuthServer(t, func(string) bool { return true })
	if _, err := s.Send(context.Background(), testMessage(plain.URL)); !errors.As(err, &he) || len(plain.seen()) != 1 {
		t.Errorf("no OAuth2: %v after %d requests", err, len(plain.seen()))
	}
}

func TestOAuthConcurrentSendsFetchOnce(t *testing.T) {
	ts := newTokenServer(t, 3600)
	ts.gate = make(chan struct{})
	ts.entered = make(chan struct{})
	hook := newAuthServer(t, nil)
	s := newTestSender(t, HTTPSenderConfig{})

	const n = 20
	var started sync.WaitGroup
	var done sync.WaitGroup
	errs := make(chan error, n)
	started.Add(n)
	for range n {
		done.Add(1)
		go func() {
			defer done.Done()
			started.Done()
			_, err := s.Send(context.Background(), oauthMessage(hook.URL, ts.config()))
			errs <- err
		}()
	}
	started.Wait()
	<-ts.entered
	time.Sleep(20 * time.Millisecond) // let the others reach the cache
	close(ts.gate)
	done.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	ts.check(t)
	if h := ts.hits.Load(); h != 1 {
		t.Errorf("token endpoint hit %d times by %d concurrent sends, want 1", h, n)
	}
	if got := len(hook.seen()); got != n {
		t.Errorf("%d webhook requests, want %d", got, n)
	}
}

func TestOAuthTokenEndpointErrors(t *testing.T) {
	ts := newTokenServer(t, 3600)
	ts.fail = http.StatusUnauthorized
	hook := newAuthServer(t, nil)
	s := newTestSender(t, HTTPSenderConfig{})
	o := ts.config()
	o.TokenURL += "?key=sekrit"
	_, err := s.Send(context.Background(), oauthMessage(hook.URL, o))
	if err == nil {
		t.Fatal("Send succeeded without a token")
	}
	var he *HTTPError
	var pe *PermanentError
	if errors.As(err, &he) || errors.As(err, &pe) {
		t.Errorf("token failure should be a plain retryable error: %v", err)
	}
	msg := err.Error()
	if !strings.Contains(msg, "invalid_client") || !strings.Contains(msg, "401") {
		t.Errorf("error %q does not say what the endpoint answered", msg)
	}
	for _, secret := range []string{"s3cr", "sekrit", "bad secret"} {
		if strings.Contains(msg, secret) {
			t.Errorf("error %q contains %q", msg, secret)
		}
	}
	if len(hook.seen()) != 0 {
		t.Errorf("the webhook was called without a token")
	}
	// A failure is not cached: the next send asks again.
	s.Send(context.Background(), oauthMessage(hook.URL, o))
	if n := ts.hits.Load(); n != 2 {
		t.Errorf("%d token fetches, want 2", n)
	}

	// No access_token in a 200.
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"token_type":"Bearer"}`))
	}))
	defer empty.Close()
	o = ts.config()
	o.TokenURL = empty.URL
	if _, err := s.Send(context.Background(), oauthMessage(hook.URL, o)); err == nil || !strings.Contains(err.Error(), "access_token") {
		t.Errorf("no access_token: %v", err)
	}
}

func TestOAuthTokenEndpointUnderPolicy(t *testing.T) {
	ts := newTokenServer(t, 3600)
	s := NewHTTPSender(HTTPSenderConfig{}) // default policy: loopback refused
	defer s.CloseIdleConnections()
	_, err := s.Send(context.Background(), oauthMessage("https://example.com/hook", ts.config()))
	if !errors.Is(err, ErrDestinationRefused) {
		t.Fatalf("Send = %v, want ErrDestinationRefused", err)
	}
	var pe *PermanentError
	if !errors.As(err, &pe) {
		t.Errorf("a refused token endpoint is permanent: %v", err)
	}
	if n := ts.hits.Load(); n != 0 {
		t.Errorf("token endpoint reached %d times", n)
	}
}

func TestExpiresIn(t *testing.T) {
	for raw, want := range map[string]int64{`3600`: 3600, `"120"`: 120, `3600.0`: 3600, `null`: 0, `"soon"`: 0, ``: 0, `-5`: 0,
		// Huge lifetimes are clamped, so the refresh time cannot overflow.
		`9223372036854775807`: maxTokenLifetime, `99999999999999999999`: maxTokenLifetime, `1e300`: maxTokenLifetime} {
		if got := expiresIn(json.RawMessage(raw)); got != want {
			t.Errorf("expiresIn(%s) = %d, want %d", raw, got, want)
		}
	}
}
