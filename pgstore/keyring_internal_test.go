package pgstore

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/shipevents/shipevents"
)

func randomKey(t *testing.T) []byte {
	t.Helper()
	k := make([]byte, KeySize)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return k
}

func mustKeyring(t *testing.T, keys ...[]byte) *Keyring {
	t.Helper()
	k, err := NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// noLeak fails the test if err's message holds any of the secrets, or a
// key in hex or base64.
func noLeak(t *testing.T, err error, secrets []string, keys ...[]byte) {
	t.Helper()
	for _, k := range keys {
		secrets = append(secrets, hex.EncodeToString(k), base64.StdEncoding.EncodeToString(k), base64.RawStdEncoding.EncodeToString(k), string(k))
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error %q leaks secret material", err)
		}
	}
}

func TestNewKeyring(t *testing.T) {
	short := []byte("sixteen byte key")
	for _, keys := range [][][]byte{nil, {short}, {randomKey(t), append(randomKey(t), 0)}} {
		_, err := NewKeyring(keys...)
		if !errors.Is(err, ErrInvalidKey) {
			t.Fatalf("NewKeyring of %d keys: %v, want ErrInvalidKey", len(keys), err)
		}
		noLeak(t, err, nil, keys...)
	}
	a, b := randomKey(t), randomKey(t)
	k := mustKeyring(t, a, b, a)
	if got, want := k.IDs(), []string{KeyID(a), KeyID(b)}; !slicesEqual(got, want) {
		t.Errorf("IDs %v, want %v (the repeated key once, the first first)", got, want)
	}
	if len(KeyID(a)) != 16 || KeyID(a) == KeyID(b) {
		t.Errorf("key ids %s, %s: want 16 hex digits each, distinct", KeyID(a), KeyID(b))
	}
}

func slicesEqual(a, b []string) bool { return strings.Join(a, "\n") == strings.Join(b, "\n") }

const testPlain = `{"id":"sub-1","secrets":["whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"],"oauth2":{"client_secret":"client-secret-value"}}`

var testSecrets = []string{"whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0", "client-secret-value", testPlain}

// TestSealOpen: a sealed body opens with its keyring (and any keyring
// holding its key), to the same bytes; it names its key and holds no
// plaintext; two seals differ (random nonces).
func TestSealOpen(t *testing.T) {
	oldKey, newKey := randomKey(t), randomKey(t)
	old := mustKeyring(t, oldKey)
	both := mustKeyring(t, newKey, oldKey)
	sealed, err := old.seal("sub-1", []byte(testPlain))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := old.seal("sub-1", []byte(testPlain))
	if bytes.Equal(sealed, again) {
		t.Error("two seals of one body are equal: the nonce is not random")
	}
	if want := `"enc:v1:` + KeyID(oldKey) + `:`; !strings.HasPrefix(string(sealed), want) {
		t.Errorf("sealed body %s does not start with %s", sealed, want)
	}
	for _, s := range testSecrets {
		if strings.Contains(string(sealed), s) {
			t.Errorf("sealed body holds %q", s)
		}
	}
	for _, k := range []*Keyring{old, both} {
		plain, err := k.open("sub-1", sealed)
		if err != nil || string(plain) != testPlain {
			t.Errorf("open with keys %v: %q, %v", k.IDs(), plain, err)
		}
	}
	if !old.current(sealed) || both.current(sealed) {
		t.Errorf("current: %v under its own key, %v under a keyring with a newer first key; want true, false",
			old.current(sealed), both.current(sealed))
	}
}

// TestOpenPlaintext: a body stored before encryption (a JSON object) is
// read as it is, with or without a keyring, and never counts as current.
func TestOpenPlaintext(t *testing.T) {
	k := mustKeyring(t, randomKey(t))
	for _, ring := range []*Keyring{nil, k} {
		plain, err := ring.open("sub-1", []byte(testPlain))
		if err != nil || string(plain) != testPlain {
			t.Errorf("open plaintext: %q, %v", plain, err)
		}
	}
	if k.current([]byte(testPlain)) {
		t.Error("a plaintext body counts as current")
	}
}

// TestOpenFailures: a missing key and every kind of damage fail with the
// right sentinel and without secret material in the message.
func TestOpenFailures(t *testing.T) {
	key, other := randomKey(t), randomKey(t)
	k := mustKeyring(t, key)
	sealed, err := k.seal("sub-1", []byte(testPlain))
	if err != nil {
		t.Fatal(err)
	}
	var s string
	if err := json.Unmarshal(sealed, &s); err != nil {
		t.Fatal(err)
	}
	data := s[strings.LastIndexByte(s, ':')+1:]
	// altered returns the sealed body with one bit of the decoded bytes
	// (nonce, then ciphertext and tag) flipped.
	altered := func(i int) []byte {
		raw, err := base64.RawStdEncoding.DecodeString(data)
		if err != nil {
			t.Fatal(err)
		}
		raw[(i+len(raw))%len(raw)] ^= 1
		return []byte(strings.Replace(string(sealed), data, base64.RawStdEncoding.EncodeToString(raw), 1))
	}
	str := func(v string) []byte { b, _ := json.Marshal(v); return b }
	cases := []struct {
		name string
		ring *Keyring
		id   string
		body []byte
		want error
	}{
		{"no keyring", nil, "sub-1", sealed, ErrMissingKey},
		{"key not held", mustKeyring(t, other), "sub-1", sealed, ErrMissingKey},
		{"other row's id", k, "sub-2", sealed, ErrCiphertext},
		{"nonce altered", k, "sub-1", altered(0), ErrCiphertext},
		{"ciphertext altered", k, "sub-1", altered(20), ErrCiphertext},
		{"tag altered", k, "sub-1", altered(-1), ErrCiphertext},
		{"truncated", k, "sub-1", []byte(strings.Replace(string(sealed), data, data[:10], 1)), ErrCiphertext},
		{"not base64", k, "sub-1", []byte(strings.Replace(string(sealed), data, "!!"+data[2:], 1)), ErrCiphertext},
		{"unknown format", k, "sub-1", str("enc:v9"), ErrCiphertext},
		{"a string that is no envelope", k, "sub-1", str("hello"), ErrCiphertext},
		{"invalid JSON string", k, "sub-1", []byte(`"unterminated`), ErrCiphertext},
	}
	for _, c := range cases {
		_, err := c.ring.open(c.id, c.body)
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
			continue
		}
		noLeak(t, err, testSecrets, key, other)
	}
}

// TestSealedBodyFailsOldDecoder: the previous release decodes a body
// straight into a Subscription. A sealed body is a JSON string, so that
// decode fails (its ListSubscriptions errors, and its dispatcher keeps
// the subscriptions it had) instead of yielding an empty subscription
// whose deliveries it would dead-letter.
func TestSealedBodyFailsOldDecoder(t *testing.T) {
	sealed, err := mustKeyring(t, randomKey(t)).seal("sub-1", []byte(testPlain))
	if err != nil {
		t.Fatal(err)
	}
	var sub shipevents.Subscription
	if err := json.Unmarshal(sealed, &sub); err == nil {
		t.Errorf("the previous release's decoder accepted a sealed body as %+v", sub)
	}
}
