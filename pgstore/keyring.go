package pgstore

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the length of a subscription key: AES-256.
const KeySize = 32

// Errors of subscription encryption; test with [errors.Is]. Their messages
// name subscription ids and key ids, never key bytes or plaintext.
var (
	// ErrInvalidKey: NewKeyring was given no key, or a key that is not
	// KeySize bytes long.
	ErrInvalidKey = errors.New("pgstore: invalid subscription key")
	// ErrMissingKey: a subscription is encrypted under a key the store's
	// Keyring does not hold, or the store has no Keyring.
	ErrMissingKey = errors.New("pgstore: subscription key missing")
	// ErrCiphertext: an encrypted subscription does not authenticate (its
	// ciphertext was altered or moved to another row) or is malformed.
	ErrCiphertext = errors.New("pgstore: subscription ciphertext does not authenticate")
)

// sealedPrefix starts every encrypted body: format version 1 is AES-256-GCM
// with a random 12-byte nonce, the subscription id as additional data.
const sealedPrefix = "enc:v1:"

// Keyring holds the keys that encrypt subscription bodies at rest. The
// first key encrypts; every key decrypts, so that keys can be rotated. A
// Keyring is immutable and safe for concurrent use.
type Keyring struct {
	keys []ringKey // keys[0] encrypts
}

type ringKey struct {
	id   string // KeyID of the key
	aead cipher.AEAD
}

// NewKeyring returns a Keyring of the given AES-256 keys (KeySize random
// bytes each, e.g. from crypto/rand), newest first: the first encrypts,
// all decrypt. A key given twice counts once. The error wraps
// ErrInvalidKey.
func NewKeyring(keys ...[]byte) (*Keyring, error) {
	if len(keys) == 0 {
		return nil, fmt.Errorf("%w: no key given", ErrInvalidKey)
	}
	k := &Keyring{}
	seen := map[string][]byte{}
	for i, key := range keys {
		if len(key) != KeySize {
			return nil, fmt.Errorf("%w: key %d is %d bytes, want %d (AES-256)", ErrInvalidKey, i, len(key), KeySize)
		}
		id := KeyID(key)
		if prev, ok := seen[id]; ok {
			if bytes.Equal(prev, key) {
				continue
			}
			return nil, fmt.Errorf("%w: keys with the same id %s", ErrInvalidKey, id)
		}
		seen[id] = key
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("%w: key %d: %v", ErrInvalidKey, i, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("%w: key %d: %v", ErrInvalidKey, i, err)
		}
		k.keys = append(k.keys, ringKey{id: id, aead: aead})
	}
	return k, nil
}

// KeyID returns the identifier stored with what key encrypts: 16 hex
// digits of a SHA-256 hash of the key (under a label of its own), which
// tells keys apart without revealing anything usable about them.
func KeyID(key []byte) string {
	h := sha256.New()
	h.Write([]byte("shipevents/pgstore subscription key id\x00"))
	h.Write(key)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// IDs returns the key ids of the keyring, the encrypting key first.
func (k *Keyring) IDs() []string {
	ids := make([]string, len(k.keys))
	for i, rk := range k.keys {
		ids[i] = rk.id
	}
	return ids
}

// additionalData binds a ciphertext to its subscription id, so that a
// body moved to another row does not authenticate.
func additionalData(id string) []byte {
	return []byte("shipevents/pgstore subscription\x00" + id)
}

// seal encrypts a subscription's JSON under the first key and returns the
// body to store: a JSON string "enc:v1:KEYID:BASE64(nonce|ciphertext)".
func (k *Keyring) seal(id string, plain []byte) ([]byte, error) {
	rk := &k.keys[0]
	nonce := make([]byte, rk.aead.NonceSize(), rk.aead.NonceSize()+len(plain)+rk.aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("subscription %q: reading a random nonce: %w", id, err)
	}
	sealed := rk.aead.Seal(nonce, nonce, plain, additionalData(id))
	return json.Marshal(sealedPrefix + rk.id + ":" + base64.RawStdEncoding.EncodeToString(sealed))
}

// open returns a stored body's subscription JSON: decrypted if the body is
// sealed, as it is if it is a plaintext JSON object (written before
// encryption was turned on). k may be nil (no Keyring): then only
// plaintext bodies can be read.
func (k *Keyring) open(id string, body []byte) ([]byte, error) {
	kid, data, sealed, err := parseSealed(body)
	if err != nil {
		return nil, wrapSealed(id, err)
	}
	if !sealed {
		return body, nil
	}
	rk := k.key(kid)
	if rk == nil {
		if k == nil {
			return nil, fmt.Errorf("subscription %q is encrypted (key id %s) and Config.Keyring is not set: %w", id, kid, ErrMissingKey)
		}
		return nil, fmt.Errorf("subscription %q is encrypted under key id %s, which the keyring (%s) does not hold: %w",
			id, kid, strings.Join(k.IDs(), ", "), ErrMissingKey)
	}
	raw, err := base64.RawStdEncoding.DecodeString(data)
	if err != nil || len(raw) < rk.aead.NonceSize()+rk.aead.Overhead() {
		return nil, wrapSealed(id, fmt.Errorf("%w: malformed ciphertext", ErrCiphertext))
	}
	n := rk.aead.NonceSize()
	plain, err := rk.aead.Open(nil, raw[:n], raw[n:], additionalData(id))
	if err != nil {
		return nil, wrapSealed(id, fmt.Errorf("%w (key id %s)", ErrCiphertext, kid))
	}
	return plain, nil
}

func wrapSealed(id string, err error) error {
	return fmt.Errorf("subscription %q: %w", id, err)
}

// key returns the key with the given id, or nil.
func (k *Keyring) key(id string) *ringKey {
	if k == nil {
		return nil
	}
	for i := range k.keys {
		if k.keys[i].id == id {
			return &k.keys[i]
		}
	}
	return nil
}

// current reports whether body is sealed under the encrypting key.
func (k *Keyring) current(body []byte) bool {
	kid, _, sealed, err := parseSealed(body)
	return err == nil && sealed && kid == k.keys[0].id
}

// parseSealed splits a stored body. A JSON object is a plaintext body
// (sealed false); a JSON string must be a sealed one.
func parseSealed(body []byte) (kid, data string, sealed bool, err error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '"' {
		return "", "", false, nil
	}
	var s string
	if err := json.Unmarshal(body, &s); err != nil {
		return "", "", true, fmt.Errorf("%w: the body is not a JSON string", ErrCiphertext)
	}
	rest, ok := strings.CutPrefix(s, sealedPrefix)
	kid, data, ok2 := strings.Cut(rest, ":")
	if !ok || !ok2 || kid == "" {
		return "", "", true, fmt.Errorf("%w: unknown encrypted body format", ErrCiphertext)
	}
	return kid, data, true, nil
}
