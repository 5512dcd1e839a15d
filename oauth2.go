package shipevents

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The OAuth2 client-credentials grant (RFC 6749 §4.4) for subscriptions
// with [OAuth2] set: the HTTP sender fetches a token from the token
// endpoint, caches it, refreshes it shortly before it expires and after the
// webhook endpoint answers 401.

// oauth2RefreshMargin is how long before its expiry a token is replaced.
const oauth2RefreshMargin = 30 * time.Second

// maxTokenResponse bounds the token endpoint's answer.
const maxTokenResponse = 64 << 10

// errOAuth2 starts every token error; they are ordinary (retryable)
// failures: a misconfigured client can be fixed without losing deliveries.
var errOAuth2 = errors.New("shipevents: oauth2 token")

// oauth2Key identifies a cached token: the same endpoint, client, secret,
// scopes and extra parameters share one token. The secret is hashed into
// the key so that a subscription naming a client without knowing its
// secret cannot borrow another's token.
type oauth2Key struct {
	tokenURL, clientID, scopes, params string
	secret                             [sha256.Size]byte
}

func oauth2KeyOf(c *OAuth2) oauth2Key {
	scopes := slices.Clone(c.Scopes)
	slices.Sort(scopes)
	k := oauth2Key{
		tokenURL: c.TokenURL,
		clientID: c.ClientID,
		scopes:   strings.Join(scopes, " "),
		secret:   sha256.Sum256([]byte(c.ClientSecret)),
	}
	if len(c.Params) > 0 {
		v := url.Values{}
		for name, val := range c.Params {
			v.Set(name, val)
		}
		k.params = v.Encode() // sorted by name
	}
	return k
}

// oauth2Token is a cached access token.
type oauth2Token struct {
	access string
	// refreshAt is when to fetch a new one; zero when the endpoint gave no
	// expiry (then only a 401 replaces it).
	refreshAt time.Time
}

// tokenFetch is one fetch in flight, shared by every caller that needs the
// token meanwhile.
type tokenFetch struct {
	done chan struct{}
	tok  oauth2Token
	err  error
}

type tokenEntry struct {
	tok      oauth2Token // access is empty when there is none
	inflight *tokenFetch
}

// tokenCache holds the tokens of one HTTP sender.
type tokenCache struct {
	client  *http.Client
	now     func() time.Time
	timeout time.Duration // bounds one fetch
	ua      string

	mu      sync.Mutex
	entries map[oauth2Key]*tokenEntry
}

// token returns a valid access token for c, fetching one when the cache
// has none (one fetch per key at a time; concurrent callers wait for it).
func (tc *tokenCache) token(ctx context.Context, c *OAuth2) (string, error) {
	key := oauth2KeyOf(c)
	tc.mu.Lock()
	if tc.entries == nil {
		tc.entries = make(map[oauth2Key]*tokenEntry)
	}
	e := tc.entries[key]
	if e == nil {
		e = &tokenEntry{}
		tc.entries[key] = e
	}
	if e.tok.access != "" && (e.tok.refreshAt.IsZero() || tc.now().Before(e.tok.refreshAt)) {
		tok := e.tok.access
		tc.mu.Unlock()
		return tok, nil
	}
	f := e.inflight
	if f == nil {
		f = &tokenFetch{done: make(chan struct{})}
		e.inflight = f
		// The fetch outlives a caller that gives up, so that the others
		// waiting for it still get the token.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), tc.timeout)
		cfg := *c
		go func() {
			defer cancel()
			f.tok, f.err = tc.fetch(fctx, &cfg)
			tc.mu.Lock()
			if f.err == nil {
				e.tok = f.tok
			}
			e.inflight = nil
			tc.mu.Unlock()
			close(f.done)
		}()
	}
	tc.mu.Unlock()
	select {
	case <-f.done:
		return f.tok.access, f.err
	case <-ctx.Done():
		return "", fmt.Errorf("%w: waiting for the token endpoint: %w", errOAuth2, ctx.Err())
	}
}

// invalidate forgets the cached token for c if it is still tok (a newer
// token fetched meanwhile is kept).
func (tc *tokenCache) invalidate(c *OAuth2, tok string) {
	tc.mu.Lock()
	defer tc.mu.Unlock()
	if e := tc.entries[oauth2KeyOf(c)]; e != nil && e.tok.access == tok {
		e.tok = oauth2Token{}
	}
}

// fetch asks the token endpoint for a token (client-credentials grant,
// client authentication with HTTP Basic per RFC 6749 §2.3.1). Its errors
// name the endpoint by scheme, host and port only and never quote the
// secret or the token.
func (tc *tokenCache) fetch(ctx context.Context, c *OAuth2) (oauth2Token, error) {
	where := redactURL(c.TokenURL)
	u, err := url.Parse(c.TokenURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return oauth2Token{}, fmt.Errorf("%w: token_url %s is not an absolute http or https URL", errOAuth2, where)
	}
	form := url.Values{}
	for name, val := range c.Params {
		form.Set(name, val)
	}
	form.Set("grant_type", "client_credentials")
	if len(c.Scopes) > 0 {
		form.Set("scope", strings.Join(c.Scopes, " "))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), strings.NewReader(form.Encode()))
	if err != nil {
		return oauth2Token{}, fmt.Errorf("%w: cannot build the request to %s", errOAuth2, where)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", tc.ua)
	req.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret))
	start := tc.now()
	resp, err := tc.client.Do(req)
	if err != nil {
		return oauth2Token{}, fmt.Errorf("%w: POST %s: %w", errOAuth2, where, unwrapURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	if err != nil {
		return oauth2Token{}, fmt.Errorf("%w: reading the answer of %s: %w", errOAuth2, where, err)
	}
	var tr struct {
		AccessToken string          `json:"access_token"`
		TokenType   string          `json:"token_type"`
		ExpiresIn   json.RawMessage `json:"expires_in"`
		Error       string          `json:"error"`
	}
	jsonErr := json.Unmarshal(body, &tr)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg := fmt.Sprintf("%s answered HTTP %d", where, resp.StatusCode)
		if code := tr.Error; jsonErr == nil && code != "" && len(code) <= 64 && isOAuth2ErrorCode(code) {
			msg += " (" + code + ")"
		}
		return oauth2Token{}, fmt.Errorf("%w: %s", errOAuth2, msg)
	}
	if jsonErr != nil || tr.AccessToken == "" {
		return oauth2Token{}, fmt.Errorf("%w: %s answered without an access_token", errOAuth2, where)
	}
	tok := oauth2Token{access: tr.AccessToken}
	if secs := expiresIn(tr.ExpiresIn); secs > 0 {
		life := time.Duration(secs) * time.Second
		tok.refreshAt = start.Add(life - min(oauth2RefreshMargin, life/2))
	}
	return tok, nil
}

// maxTokenLifetime bounds expires_in, in seconds (about 272 years), so
// that the refresh time computed from it cannot overflow a Duration.
const maxTokenLifetime = 1 << 33

// expiresIn reads expires_in, which some servers send as a string; a
// number too large is clamped to maxTokenLifetime, like any huge value.
func expiresIn(raw json.RawMessage) int64 {
	var n json.Number
	if len(raw) == 0 || json.Unmarshal(raw, &n) != nil {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return 0
		}
		n = json.Number(s)
	}
	if i, err := n.Int64(); err == nil {
		return max(0, min(i, maxTokenLifetime))
	}
	if f, err := n.Float64(); err == nil || errors.Is(err, strconv.ErrRange) {
		// Float64 reports a value beyond float64's range as ±Inf with
		// ErrRange.
		return int64(max(0, min(f, maxTokenLifetime)))
	}
	return 0
}

// isOAuth2ErrorCode reports whether s looks like an RFC 6749 error code
// (printable ASCII without quotes or backslashes), safe to quote.
func isOAuth2ErrorCode(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// unwrapURLError drops the *url.Error around a client error, whose text
// quotes the full URL (query and userinfo included).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
