package shipevents

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// A secret from the Standard Webhooks examples (24 bytes).
const testSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

func signedHeader(t *testing.T, id string, ts time.Time, body []byte, secrets ...string) http.Header {
	t.Helper()
	sig, err := Sign(id, ts, body, secrets...)
	if err != nil {
		t.Fatalf("Sign: %v", err)
	}
	h := http.Header{}
	h.Set(HeaderWebhookID, id)
	h.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderWebhookSignature, sig)
	return h
}

func fixedNow(t time.Time) *VerifyOptions {
	return &VerifyOptions{Now: func() time.Time { return t }}
}

func TestDecodeSecret(t *testing.T) {
	raw := []byte("0123456789abcdef0123456789abcdef")
	b64 := base64.StdEncoding.EncodeToString(raw)
	for _, s := range []string{"whsec_" + b64, b64, " whsec_" + b64 + " ", "whsec_" + base64.StdEncoding.EncodeToString(raw[:31])} {
		key, err := decodeSecret(s)
		if err != nil {
			t.Errorf("decodeSecret(%q): %v", s, err)
			continue
		}
		if !strings.HasPrefix(string(raw), string(key)) {
			t.Errorf("decodeSecret(%q) = %q", s, key)
		}
	}
	bad := []string{
		"", "whsec_", "whsec_!!!notbase64!!!",
		"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 15)),  // too short
		"whsec_" + base64.StdEncoding.EncodeToString(make([]byte, 129)), // too long
	}
	for _, s := range bad {
		_, err := decodeSecret(s)
		if !errors.Is(err, ErrInvalidSecret) {
			t.Errorf("decodeSecret(%q) = %v, want ErrInvalidSecret", s, err)
		}
		if err != nil && len(s) > len("whsec_") && strings.Contains(err.Error(), strings.TrimPrefix(s, "whsec_")) {
			t.Errorf("error %q quotes the secret", err)
		}
	}
}

// TestUnpaddedSecretRefused: receivers using the Standard Webhooks
// reference libraries decode secrets as padded base64 and cannot verify a
// signature made with an unpadded one, so Subscribe, Sign and Verify
// refuse it, saying why, without quoting it.
func TestUnpaddedSecretRefused(t *testing.T) {
	unpadded := "whsec_" + strings.TrimRight(base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcde")), "=")
	_, err := decodeSecret(unpadded)
	if !errors.Is(err, ErrInvalidSecret) || !strings.Contains(err.Error(), "padding") {
		t.Errorf("decodeSecret(unpadded) = %v, want ErrInvalidSecret naming the padding", err)
	}
	if err != nil && strings.Contains(err.Error(), strings.TrimPrefix(unpadded, "whsec_")) {
		t.Errorf("error %q quotes the secret", err)
	}
	sub := Subscription{ID: "s", URL: "https://example.com/h", EnabledEvents: []string{"*"}, Secrets: []string{unpadded}}
	if err := sub.Validate(); !errors.Is(err, ErrInvalidSecret) && !errors.Is(err, ErrInvalidSubscription) {
		t.Errorf("Validate of a subscription with an unpadded secret = %v", err)
	}
	if _, err := Sign("id", time.Now(), []byte("{}"), unpadded); !errors.Is(err, ErrInvalidSecret) {
		t.Errorf("Sign with an unpadded secret = %v", err)
	}
}

func TestGenerateSecret(t *testing.T) {
	a, err := GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := GenerateSecret()
	if a == b || !strings.HasPrefix(a, SecretPrefix) {
		t.Fatalf("GenerateSecret: %q, %q", a, b)
	}
	key, err := decodeSecret(a)
	if err != nil || len(key) != 32 {
		t.Fatalf("decodeSecret(generated) = %d bytes, %v", len(key), err)
	}
}

// TestSignVector checks Sign against an HMAC computed here directly, and
// against the example of the Standard Webhooks documentation.
func TestSignVector(t *testing.T) {
	id := "msg_p5jXN8AQM9LWM0D4loKWxJek"
	ts := time.Unix(1614265330, 0)
	body := []byte(`{"test": 2432232314}`)

	key, _ := base64.StdEncoding.DecodeString("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	m := hmac.New(sha256.New, key)
	m.Write([]byte("msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330." + string(body)))
	want := "v1," + base64.StdEncoding.EncodeToString(m.Sum(nil))

	got, err := Sign(id, ts, body, testSecret)
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("Sign = %q, want %q", got, want)
	}
	if published := "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="; got != published {
		t.Fatalf("Sign = %q, want the published %q", got, published)
	}
}

func TestSignErrors(t *testing.T) {
	if _, err := Sign("id", time.Now(), nil); !errors.Is(err, ErrInvalidSecret) {
		t.Errorf("Sign without secrets: %v", err)
	}
	if _, err := Sign("id", time.Now(), nil, testSecret, "whsec_short"); !errors.Is(err, ErrInvalidSecret) {
		t.Errorf("Sign with a bad secret: %v", err)
	} else if strings.Contains(err.Error(), "short") {
		t.Errorf("error %q quotes the secret", err)
	}
}

func TestSignVerifyRoundTrip(t *testing.T) {
	now := time.Unix(1700000000, 0)
	body := []byte(`{"id":"evt_1","type":"shipment.delivered"}`)
	h := signedHeader(t, "evt_1", now, body, testSecret)
	if err := Verify(testSecret, h, body, fixedNow(now)); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// Bare base64 secret on the receiver's side.
	if err := Verify(strings.TrimPrefix(testSecret, SecretPrefix), h, body, fixedNow(now)); err != nil {
		t.Fatalf("Verify with bare base64: %v", err)
	}
	// Default options use the real clock.
	h = signedHeader(t, "evt_1", time.Now(), body, testSecret)
	if err := Verify(testSecret, h, body, nil); err != nil {
		t.Fatalf("Verify(nil opts): %v", err)
	}
}

func TestSignVerifyRotation(t *testing.T) {
	other, err := GenerateSecret()
	if err != nil {
		t.Fatal(err)
	}
	third, _ := GenerateSecret()
	now := time.Unix(1700000000, 0)
	body := []byte(`{}`)
	h := signedHeader(t, "evt_2", now, body, other, testSecret)
	if n := len(strings.Fields(h.Get(HeaderWebhookSignature))); n != 2 {
		t.Fatalf("%d signatures, want 2", n)
	}
	for _, sec := range []string{other, testSecret} {
		if err := Verify(sec, h, body, fixedNow(now)); err != nil {
			t.Errorf("Verify with one of the signing secrets: %v", err)
		}
	}
	if err := Verify(third, h, body, fixedNow(now)); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("Verify with another secret: %v", err)
	}
	if err := VerifyAny([]string{third, testSecret}, h, body, fixedNow(now)); err != nil {
		t.Errorf("VerifyAny: %v", err)
	}
	if err := VerifyAny(nil, h, body, fixedNow(now)); !errors.Is(err, ErrInvalidSecret) {
		t.Errorf("VerifyAny(nil): %v", err)
	}
}

func TestVerifyTampered(t *testing.T) {
	now := time.Unix(1700000000, 0)
	body := []byte(`{"status":"DELIVERED"}`)
	good := signedHeader(t, "evt_3", now, body, testSecret)

	tamper := func(name, value string) http.Header {
		h := good.Clone()
		h.Set(name, value)
		return h
	}
	cases := map[string]struct {
		h    http.Header
		body []byte
	}{
		"body":      {good, []byte(`{"status":"RETURNED"}`)},
		"id":        {tamper(HeaderWebhookID, "evt_4"), body},
		"timestamp": {tamper(HeaderWebhookTimestamp, strconv.FormatInt(now.Unix()+1, 10)), body},
		"signature": {tamper(HeaderWebhookSignature, "v1,"+base64.StdEncoding.EncodeToString(make([]byte, 32))), body},
		"version":   {tamper(HeaderWebhookSignature, "v2,"+strings.TrimPrefix(good.Get(HeaderWebhookSignature), "v1,")), body},
		"no comma":  {tamper(HeaderWebhookSignature, strings.TrimPrefix(good.Get(HeaderWebhookSignature), "v1,")), body},
		"not b64":   {tamper(HeaderWebhookSignature, "v1,@@@"), body},
	}
	for name, c := range cases {
		err := Verify(testSecret, c.h, c.body, fixedNow(now))
		if !errors.Is(err, ErrInvalidSignature) {
			t.Errorf("%s: Verify = %v, want ErrInvalidSignature", name, err)
		}
	}
	// Garbage and other versions around a valid signature are ignored.
	h := tamper(HeaderWebhookSignature, "v1a,xyz v1,@@@ "+good.Get(HeaderWebhookSignature)+" v2,abc")
	if err := Verify(testSecret, h, body, fixedNow(now)); err != nil {
		t.Errorf("mixed list: %v", err)
	}
}

func TestVerifyTolerance(t *testing.T) {
	ts := time.Unix(1700000000, 0)
	body := []byte(`{}`)
	h := signedHeader(t, "evt_5", ts, body, testSecret)
	cases := []struct {
		now time.Time
		tol time.Duration
		ok  bool
	}{
		{ts, 0, true},
		{ts.Add(5 * time.Minute), 0, true},
		{ts.Add(-5 * time.Minute), 0, true},
		{ts.Add(5*time.Minute + time.Second), 0, false},
		{ts.Add(-5*time.Minute - time.Second), 0, false},
		{ts.Add(30 * time.Second), 30 * time.Second, true},
		{ts.Add(31 * time.Second), 30 * time.Second, false},
		{ts.Add(-31 * time.Second), 30 * time.Second, false},
		{ts.Add(time.Hour), 2 * time.Hour, true},
	}
	for _, c := range cases {
		err := Verify(testSecret, h, body, &VerifyOptions{Tolerance: c.tol, Now: func() time.Time { return c.now }})
		switch {
		case c.ok && err != nil:
			t.Errorf("now=ts%+v tol=%v: %v", c.now.Sub(ts), c.tol, err)
		case !c.ok && !errors.Is(err, ErrTimestampOutOfRange):
			t.Errorf("now=ts%+v tol=%v: %v, want ErrTimestampOutOfRange", c.now.Sub(ts), c.tol, err)
		}
	}
}

func TestVerifyMalformedHeaders(t *testing.T) {
	now := time.Unix(1700000000, 0)
	body := []byte(`{}`)
	good := signedHeader(t, "evt_6", now, body, testSecret)
	for _, name := range []string{HeaderWebhookID, HeaderWebhookTimestamp, HeaderWebhookSignature} {
		h := good.Clone()
		h.Del(name)
		if err := Verify(testSecret, h, body, fixedNow(now)); !errors.Is(err, ErrMissingHeaders) {
			t.Errorf("without %s: %v", name, err)
		}
	}
	for _, ts := range []string{"abc", "1700000000.5", "1.7e9", " "} {
		h := good.Clone()
		h.Set(HeaderWebhookTimestamp, ts)
		if err := Verify(testSecret, h, body, fixedNow(now)); !errors.Is(err, ErrMissingHeaders) {
			t.Errorf("timestamp %q: %v", ts, err)
		}
	}
	if err := Verify(testSecret, http.Header{}, body, nil); !errors.Is(err, ErrMissingHeaders) {
		t.Errorf("no headers: %v", err)
	}
	// Whitespace-only signature list.
	h := good.Clone()
	h.Set(HeaderWebhookSignature, "   ")
	if err := Verify(testSecret, h, body, fixedNow(now)); !errors.Is(err, ErrInvalidSignature) && !errors.Is(err, ErrMissingHeaders) {
		t.Errorf("blank signature: %v", err)
	}
	// A bad receiver secret is reported without quoting it.
	err := Verify("whsec_tooShortSecret", good, body, fixedNow(now))
	if !errors.Is(err, ErrInvalidSecret) || strings.Contains(err.Error(), "tooShortSecret") {
		t.Errorf("bad secret: %v", err)
	}
}
