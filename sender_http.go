package shipevents

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Defaults of [HTTPSenderConfig].
const (
	DefaultHTTPTimeout         = 10 * time.Second
	DefaultConnectTimeout      = 5 * time.Second
	DefaultMaxResponseBytes    = 64 << 10
	DefaultUserAgent           = "shipevents/1 (+https://github.com/shipevents/shipevents)"
	DefaultMaxRedirects        = 3
	DefaultMaxIdleConnsPerHost = 64
	// DefaultMaxResponseHeaderBytes bounds the response headers read (Go's
	// own default is 10 MiB, which concurrent hostile answers multiply).
	DefaultMaxResponseHeaderBytes = 64 << 10
)

const (
	// responseDrainBytes is how much of a response beyond
	// MaxResponseBytes is read and discarded to keep the connection.
	responseDrainBytes           = 4 << 10
	contentTypeJSON              = "application/json"
	contentTypeCloudEventsJSON   = "application/cloudevents+json"
	headerIdempotencyKey         = "Idempotency-Key"
	defaultIdleConnTimeout       = 90 * time.Second
	defaultExpectContinueTimeout = time.Second
)

// HTTPSenderConfig configures [NewHTTPSender]. The zero value is usable:
// every zero field means its default.
type HTTPSenderConfig struct {
	// Timeout bounds one attempt (connecting, sending, and reading the
	// answer), within the deadline of the context given to Send. Default
	// 10 s.
	Timeout time.Duration
	// ConnectTimeout bounds the TCP connect and the TLS handshake.
	// Default 5 s.
	ConnectTimeout time.Duration
	// MaxResponseBytes is how much of a response body is read (after
	// the transport's gzip decoding); the rest is discarded. Default 64 KiB.
	MaxResponseBytes int64
	// UserAgent is sent with every request; subscription headers may
	// replace it.
	UserAgent string
	// Policy decides which addresses may be connected to; the zero value
	// refuses loopback, private, link-local and other internal ranges.
	// It is checked on the resolved address at connect time, for
	// webhooks and OAuth2 token endpoints alike.
	Policy AddressPolicy
	// MaxRedirects bounds the redirects followed per attempt; default 3,
	// negative for none. Only 307 and 308 redirects to the same scheme,
	// host and port are followed (they keep the POST and its body);
	// others make the attempt fail (a retryable failure).
	MaxRedirects int
	// Transport, when set, replaces the sender's own transport. Policy,
	// ConnectTimeout, MaxIdleConnsPerHost and MaxResponseHeaderBytes then
	// do not apply: checking
	// destination addresses (and not using a proxy, which hides them) is
	// the responsibility of whoever provides the transport.
	Transport http.RoundTripper
	// Now is the clock for Retry-After dates and token expiry; default
	// time.Now.
	Now func() time.Time
	// MaxIdleConnsPerHost bounds the kept-alive connections per
	// destination. Default 64. Give it at least the dispatcher's Workers
	// when many deliveries go to one host: connections beyond it are
	// closed after each burst and the next sends dial new ones.
	MaxIdleConnsPerHost int
	// MaxResponseHeaderBytes bounds the response headers read (status
	// line included); an answer with more fails the attempt, retryably,
	// before the rest is read. Default 64 KiB. With MaxResponseBytes it
	// bounds what one attempt reads into memory whatever the endpoint
	// sends. It does not apply to a Transport given here.
	MaxResponseHeaderBytes int64
}

// HTTPSender delivers messages to webhook URLs with HTTP POST, signed per
// Standard Webhooks. It keeps connections alive across sends and caches
// OAuth2 tokens. It is safe for concurrent use; create one and share it.
//
// Each request carries:
//   - Content-Type application/json (application/cloudevents+json for
//     FormCloudEvents subscriptions) and User-Agent;
//   - webhook-id and Idempotency-Key: [MessageID] of the event's key (the
//     event id for an event without a tenant), the same on every attempt;
//   - webhook-timestamp: the message's Timestamp in unix seconds;
//   - webhook-signature, when the subscription has Secrets;
//   - the subscription's static Headers (which cannot replace the
//     headers above);
//   - Authorization: Bearer <token> when the subscription has OAuth2.
//
// Send returns nil for a 2xx answer, a [*HTTPError] for another status,
// an error wrapped with [Permanent] for a refused destination address, an
// invalid URL or secret, and a plain error for transport failures. Errors
// name the destination by scheme, host and port only (a URL's path, query
// and userinfo often carry tokens) and never quote secrets or header
// values.
type HTTPSender struct {
	cfg    HTTPSenderConfig
	client *http.Client
	tokens *tokenCache
}

var _ Sender = (*HTTPSender)(nil)

// errRedirect starts the errors of refused redirects.
var errRedirect = errors.New("shipevents: redirect refused")

// NewHTTPSender returns an HTTP sender with cfg's settings.
func NewHTTPSender(cfg HTTPSenderConfig) *HTTPSender {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultHTTPTimeout
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = DefaultUserAgent
	}
	if cfg.MaxRedirects == 0 {
		cfg.MaxRedirects = DefaultMaxRedirects
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxIdleConnsPerHost <= 0 {
		cfg.MaxIdleConnsPerHost = DefaultMaxIdleConnsPerHost
	}
	if cfg.MaxResponseHeaderBytes <= 0 {
		cfg.MaxResponseHeaderBytes = DefaultMaxResponseHeaderBytes
	}
	rt := cfg.Transport
	if rt == nil {
		dialer := &net.Dialer{
			Timeout:   cfg.ConnectTimeout,
			KeepAlive: 30 * time.Second,
			Control:   cfg.Policy.Control,
		}
		rt = &http.Transport{
			// No proxy: the address check would see the proxy's address,
			// not the destination's.
			Proxy:                  nil,
			DialContext:            dialer.DialContext,
			ForceAttemptHTTP2:      true,
			MaxIdleConnsPerHost:    cfg.MaxIdleConnsPerHost,
			IdleConnTimeout:        defaultIdleConnTimeout,
			TLSHandshakeTimeout:    cfg.ConnectTimeout,
			ExpectContinueTimeout:  defaultExpectContinueTimeout,
			MaxResponseHeaderBytes: cfg.MaxResponseHeaderBytes,
		}
	}
	maxRedirects := cfg.MaxRedirects
	s := &HTTPSender{
		cfg: cfg,
		client: &http.Client{
			Transport: rt,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				return checkRedirect(req, via, maxRedirects)
			},
		},
	}
	s.tokens = &tokenCache{
		client: &http.Client{
			Transport: rt,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse // a 3xx is a failure
			},
		},
		now:     cfg.Now,
		timeout: cfg.Timeout,
		ua:      cfg.UserAgent,
	}
	return s
}

// checkRedirect follows only method-preserving redirects (307, 308: a
// 301, 302 or 303 would turn the POST into a body-less GET) to the same
// origin, at most max of them.
func checkRedirect(req *http.Request, via []*http.Request, max int) error {
	if max < 0 {
		return fmt.Errorf("%w: redirects are not followed", errRedirect)
	}
	if len(via) > max {
		return fmt.Errorf("%w: more than %d redirects", errRedirect, max)
	}
	if req.Response != nil {
		if code := req.Response.StatusCode; code != http.StatusTemporaryRedirect && code != http.StatusPermanentRedirect {
			return fmt.Errorf("%w: HTTP %d would turn the POST into a GET (only 307 and 308 are followed)", errRedirect, code)
		}
	}
	if origin(req.URL) != origin(via[0].URL) {
		return fmt.Errorf("%w: to another host", errRedirect)
	}
	return nil
}

// origin is scheme://host:port with the default port made explicit.
func origin(u *url.URL) string {
	port := u.Port()
	if port == "" {
		switch u.Scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// CloseIdleConnections closes the kept-alive connections that are idle.
func (s *HTTPSender) CloseIdleConnections() { s.client.CloseIdleConnections() }

// Send delivers m to m.Subscription.URL; see [HTTPSender] for the request
// and the errors. It honours ctx's deadline and the configured Timeout,
// whichever comes first.
func (s *HTTPSender) Send(ctx context.Context, m *Message) (Response, error) {
	if m == nil || m.Subscription == nil || m.Event == nil {
		return Response{}, Permanent(errors.New("shipevents: message without subscription or event"))
	}
	sub := m.Subscription
	u, err := url.Parse(sub.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Response{}, Permanent(fmt.Errorf("shipevents: webhook url %s is not an absolute http or https URL", redactURL(sub.URL)))
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()

	header, err := s.headers(m)
	if err != nil {
		return Response{}, err
	}
	var token string
	if sub.OAuth2 != nil {
		if token, err = s.token(ctx, sub.OAuth2); err != nil {
			return Response{}, err
		}
		header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.post(ctx, u, header, m.Body)
	if err == nil || sub.OAuth2 == nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	// The token may have been revoked or expired early: fetch a new one
	// and try once more.
	s.tokens.invalidate(sub.OAuth2, token)
	if token, err = s.token(ctx, sub.OAuth2); err != nil {
		return Response{}, err
	}
	header.Set("Authorization", "Bearer "+token)
	return s.post(ctx, u, header, m.Body)
}

// token gets an OAuth2 token; token failures are retryable, except a
// token endpoint the address policy refuses.
func (s *HTTPSender) token(ctx context.Context, o *OAuth2) (string, error) {
	tok, err := s.tokens.token(ctx, o)
	if errors.Is(err, ErrDestinationRefused) {
		err = Permanent(err)
	}
	return tok, err
}

// headers builds the request headers of m, without Authorization.
func (s *HTTPSender) headers(m *Message) (http.Header, error) {
	sub := m.Subscription
	h := make(http.Header, 8+len(sub.Headers))
	h.Set("User-Agent", s.cfg.UserAgent)
	for name, val := range sub.Headers {
		h.Set(name, val)
	}
	ct := contentTypeJSON
	if sub.Form == FormCloudEvents {
		ct = contentTypeCloudEventsJSON
	}
	h.Set("Content-Type", ct)
	ts := m.Timestamp
	if ts.IsZero() {
		ts = s.cfg.Now()
	}
	msgID := MessageID(m.Event.Key())
	h.Set(HeaderWebhookID, msgID)
	h.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Del(HeaderWebhookSignature)
	if len(sub.Secrets) > 0 {
		sig, err := Sign(msgID, ts, m.Body, sub.Secrets...)
		if err != nil {
			return nil, Permanent(fmt.Errorf("shipevents: signing for subscription %s: %w", sub.ID, err))
		}
		h.Set(HeaderWebhookSignature, sig)
	}
	h.Set(headerIdempotencyKey, msgID)
	return h, nil
}

// validHeaderName reports whether name is an HTTP field name (a token,
// RFC 9110 section 5.1).
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue reports whether v can be sent as a field value: no
// control characters but horizontal tab (CR and LF would end the field,
// and net/http refuses the request).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// post sends one request (following allowed redirects) and reads the
// answer.
func (s *HTTPSender) post(ctx context.Context, u *url.URL, header http.Header, body []byte) (Response, error) {
	// The redacted URL is only for error messages; it is built on demand.
	where := func() string { return redactURL(u.String()) }
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return Response{}, Permanent(fmt.Errorf("shipevents: cannot build the request to %s", where()))
	}
	req.Header = header.Clone()
	resp, err := s.client.Do(req)
	if err != nil {
		var r Response
		if resp != nil { // a refused redirect: resp is the 3xx, body closed
			r.StatusCode = resp.StatusCode
		}
		err = unwrapURLError(err)
		err = fmt.Errorf("shipevents: POST %s: %w", where(), err)
		if errors.Is(err, ErrDestinationRefused) {
			err = Permanent(err)
		}
		return r, err
	}
	r := Response{StatusCode: resp.StatusCode}
	// Read at most MaxResponseBytes, then drain a little so a short
	// remainder does not cost the connection, and close. A read error
	// after the status line does not change the outcome: the status is
	// the endpoint's answer.
	r.Body, _ = io.ReadAll(io.LimitReader(resp.Body, s.cfg.MaxResponseBytes))
	_, _ = io.CopyN(io.Discard, resp.Body, responseDrainBytes)
	resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		return r, nil
	}
	return r, &HTTPError{
		StatusCode: resp.StatusCode,
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), s.cfg.Now()),
		Body:       truncateUTF8(r.Body, MaxStoredResponse),
	}
}

// maxRetryAfterSeconds bounds a parsed Retry-After (about 272 years, far
// beyond any policy's MaxRetryAfter, and far from overflowing a Duration).
const maxRetryAfterSeconds = 1 << 33

// retryAfter parses a Retry-After value, delay-seconds or an HTTP-date
// (relative to now); zero when absent, invalid or in the past. A number
// of seconds too large to parse is a huge delay, not an absent one: it is
// clamped like any other, and the retry policy clamps it further.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	secs, err := strconv.ParseInt(v, 10, 64)
	if errors.Is(err, strconv.ErrRange) && v[0] != '-' {
		secs, err = maxRetryAfterSeconds, nil
	}
	if err == nil {
		if secs <= 0 {
			return 0
		}
		return time.Duration(min(secs, maxRetryAfterSeconds)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// truncateUTF8 returns the first n bytes of b (fewer, to end on a rune
// boundary) as a string.
func truncateUTF8(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return string(b[:n])
}
