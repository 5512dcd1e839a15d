package shipevents

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers every webhook request carries.
const (
	// HeaderWebhookID is the message id, the same on every attempt, so
	// receivers use it as their idempotency key: [MessageID] of the
	// event's key, which is the event id for an event without a tenant.
	HeaderWebhookID = "webhook-id"
	// HeaderWebhookTimestamp is the signing time in unix seconds.
	HeaderWebhookTimestamp = "webhook-timestamp"
	// HeaderWebhookSignature is a space-separated list of "v1,<base64>"
	// signatures, one per signing secret.
	HeaderWebhookSignature = "webhook-signature"
)

// SecretPrefix starts the text form of a signing secret.
const SecretPrefix = "whsec_"

// DefaultVerifyTolerance is how far a webhook-timestamp may be from the
// receiver's clock, in either direction, when [VerifyOptions] does not say.
const DefaultVerifyTolerance = 5 * time.Minute

// Secret sizes accepted by [Verify], [Sign] and subscriptions (Standard
// Webhooks asks for 24 to 64 random bytes; a little more latitude is
// allowed on both sides).
const (
	minSecretBytes = 16
	maxSecretBytes = 128
)

// The verification and secret errors; test them with errors.Is.
var (
	ErrMissingHeaders      = errors.New("shipevents: missing or malformed webhook headers")
	ErrInvalidSignature    = errors.New("shipevents: no valid webhook signature")
	ErrTimestampOutOfRange = errors.New("shipevents: webhook timestamp outside the tolerance")
	ErrInvalidSecret       = errors.New("shipevents: invalid webhook secret")
)

// decodeSecret returns the key bytes of a secret written as "whsec_" and
// standard, padded base64 (or bare base64). Unpadded base64 is refused:
// the Standard Webhooks reference libraries cannot decode it, so their
// receivers could never verify what it signs. Its errors never quote the
// secret.
func decodeSecret(s string) ([]byte, error) {
	s = strings.TrimPrefix(strings.TrimSpace(s), SecretPrefix)
	if s == "" {
		return nil, fmt.Errorf("%w: empty", ErrInvalidSecret)
	}
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		if _, rawErr := base64.RawStdEncoding.DecodeString(s); rawErr == nil {
			return nil, fmt.Errorf("%w: base64 without its = padding, which Standard Webhooks receivers cannot decode; "+
				"pad it to a multiple of 4 characters (GenerateSecret makes valid secrets)", ErrInvalidSecret)
		}
		return nil, fmt.Errorf("%w: not standard base64", ErrInvalidSecret)
	}
	if len(key) < minSecretBytes || len(key) > maxSecretBytes {
		return nil, fmt.Errorf("%w: %d bytes, want %d to %d", ErrInvalidSecret, len(key), minSecretBytes, maxSecretBytes)
	}
	return key, nil
}

// GenerateSecret returns a new random signing secret: "whsec_" and the
// standard base64 of 32 bytes from crypto/rand.
func GenerateSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("shipevents: generate secret: %w", err)
	}
	return SecretPrefix + base64.StdEncoding.EncodeToString(b), nil
}

// signatureMAC returns HMAC-SHA256(key, id "." unix "." body).
func signatureMAC(key []byte, id, unix string, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(id))
	m.Write([]byte{'.'})
	m.Write([]byte(unix))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Sign returns the webhook-signature header value for a message: one
// "v1,<base64 HMAC-SHA256(key, id.timestamp.body)>" per secret, separated
// by spaces, so that during a key rotation receivers holding either the
// old or the new secret can verify. The timestamp is ts in unix seconds,
// as sent in webhook-timestamp. Standard Webhooks asks that id contain no
// ".". Sign fails when no secret is given or a secret is malformed; the
// error never quotes a secret.
func Sign(id string, ts time.Time, body []byte, secrets ...string) (string, error) {
	if len(secrets) == 0 {
		return "", fmt.Errorf("%w: no secret to sign with", ErrInvalidSecret)
	}
	unix := strconv.FormatInt(ts.Unix(), 10)
	var b strings.Builder
	for i, sec := range secrets {
		key, err := decodeSecret(sec)
		if err != nil {
			return "", fmt.Errorf("secret %d: %w", i, err)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString("v1,")
		b.WriteString(base64.StdEncoding.EncodeToString(signatureMAC(key, id, unix, body)))
	}
	return b.String(), nil
}

// VerifyOptions tunes [Verify]; a nil *VerifyOptions means the defaults.
type VerifyOptions struct {
	// Tolerance is how far webhook-timestamp may be from Now, either way;
	// zero or negative means DefaultVerifyTolerance.
	Tolerance time.Duration
	// Now is the receiver's clock; nil means time.Now.
	Now func() time.Time
}

// Verify checks a webhook request a receiver got: the webhook-id,
// webhook-timestamp and webhook-signature headers and the raw body, with
// the receiver's secret ("whsec_…"). It returns nil when one of the "v1"
// signatures in the header matches (compared in constant time; other
// versions are ignored) and the timestamp is within the tolerance of the
// receiver's clock. Otherwise the error wraps ErrMissingHeaders,
// ErrInvalidSignature, ErrTimestampOutOfRange or ErrInvalidSecret. The
// body must be the bytes as received, before any JSON decoding.
//
// After Verify, use webhook-id as the idempotency key: a retried delivery
// carries the same id (and a new timestamp and signature).
func Verify(secret string, header http.Header, body []byte, opts *VerifyOptions) error {
	return VerifyAny([]string{secret}, header, body, opts)
}

// VerifyAny is [Verify] for a receiver that holds several secrets (during
// a rotation on its side): the request is accepted when a signature
// matches any of them.
func VerifyAny(secrets []string, header http.Header, body []byte, opts *VerifyOptions) error {
	id := header.Get(HeaderWebhookID)
	tsText := header.Get(HeaderWebhookTimestamp)
	sigs := header.Get(HeaderWebhookSignature)
	if id == "" || tsText == "" || sigs == "" {
		return fmt.Errorf("%w: need %s, %s and %s", ErrMissingHeaders, HeaderWebhookID, HeaderWebhookTimestamp, HeaderWebhookSignature)
	}
	ts, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s is not an integer", ErrMissingHeaders, HeaderWebhookTimestamp)
	}
	if len(secrets) == 0 {
		return fmt.Errorf("%w: no secret to verify with", ErrInvalidSecret)
	}
	keys := make([][]byte, len(secrets))
	for i, sec := range secrets {
		if keys[i], err = decodeSecret(sec); err != nil {
			return err
		}
	}
	unix := strconv.FormatInt(ts, 10)
	matched := false
	for _, key := range keys {
		want := signatureMAC(key, id, unix, body)
		for field := range strings.FieldsSeq(sigs) {
			version, sig, ok := strings.Cut(field, ",")
			if !ok || version != "v1" {
				continue
			}
			got, err := base64.StdEncoding.DecodeString(sig)
			if err != nil {
				continue
			}
			if hmac.Equal(got, want) {
				matched = true
			}
		}
	}
	if !matched {
		return ErrInvalidSignature
	}
	// The timestamp is checked after the signature so that a stale error
	// means an authentic but old (or replayed) message.
	tol := DefaultVerifyTolerance
	now := time.Now
	if opts != nil {
		if opts.Tolerance > 0 {
			tol = opts.Tolerance
		}
		if opts.Now != nil {
			now = opts.Now
		}
	}
	skew := now().Sub(time.Unix(ts, 0))
	if skew > tol || skew < -tol {
		return fmt.Errorf("%w: %s is %v from now (tolerance %v)", ErrTimestampOutOfRange, HeaderWebhookTimestamp, skew.Truncate(time.Second), tol)
	}
	return nil
}
