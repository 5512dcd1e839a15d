package pgstore_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/shipevents/shipevents"
	"github.com/shipevents/shipevents/pgstore"
)

// newKey returns a random AES-256 key.
func newKey(tb testing.TB) []byte {
	tb.Helper()
	k := make([]byte, pgstore.KeySize)
	if _, err := rand.Read(k); err != nil {
		tb.Fatal(err)
	}
	return k
}

func keyring(tb testing.TB, keys ...[]byte) *pgstore.Keyring {
	tb.Helper()
	k, err := pgstore.NewKeyring(keys...)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// The secret values of secretSub, none of which may be stored in clear.
const (
	signingSecret = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0"
	clientSecret  = "client-secret-value"
	headerSecret  = "Bearer header-secret-value"
	urlSecret     = "url-token-value"
)

// secretSub is a subscription holding every kind of secret.
func secretSub(id string) shipevents.Subscription {
	sub := webhookSub(id, "https://hooks.example.com/in?token="+urlSecret)
	sub.TenantID = "tenant-" + id
	sub.Secrets = []string{signingSecret}
	sub.Headers = map[string]string{"Authorization": headerSecret}
	sub.OAuth2 = &shipevents.OAuth2{TokenURL: "https://auth.example.com/token", ClientID: "client-id", ClientSecret: clientSecret}
	return sub
}

// rawBody is one subscription row as PostgreSQL holds it: the body's
// text, its JSON type, and the tenant column.
type rawBody struct{ text, kind, tenant string }

func readRaw(tb testing.TB, s *pgstore.Store, id string) rawBody {
	tb.Helper()
	var r rawBody
	err := s.Pool().QueryRow(context.Background(), `SELECT body::text, jsonb_typeof(body), tenant_id FROM subscriptions WHERE id = $1`, id).
		Scan(&r.text, &r.kind, &r.tenant)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// wantSealed fails the test unless the row of id is sealed under key and
// holds no secret of secretSub.
func wantSealed(tb testing.TB, s *pgstore.Store, id string, key []byte) {
	tb.Helper()
	r := readRaw(tb, s, id)
	if want := `"enc:v1:` + pgstore.KeyID(key) + ":"; r.kind != "string" || !strings.HasPrefix(r.text, want) {
		tb.Errorf("subscription %s stored as a %s %.40s..., want a string starting %s", id, r.kind, r.text, want)
	}
	for _, secret := range []string{signingSecret, clientSecret, headerSecret, urlSecret, "client-id", "hooks.example.com"} {
		if strings.Contains(r.text, secret) {
			tb.Errorf("subscription %s: the stored body holds %q in clear", id, secret)
		}
	}
}

// listSubs lists the store's subscriptions by id, or fails the test.
func listSubs(tb testing.TB, s *pgstore.Store) map[string]shipevents.Subscription {
	tb.Helper()
	subs, err := s.ListSubscriptions(context.Background())
	if err != nil {
		tb.Fatalf("list subscriptions: %v", err)
	}
	out := map[string]shipevents.Subscription{}
	for _, sub := range subs {
		out[sub.ID] = sub
	}
	return out
}

func putSubs(tb testing.TB, s *pgstore.Store, subs ...shipevents.Subscription) {
	tb.Helper()
	for _, sub := range subs {
		if err := s.PutSubscription(context.Background(), sub); err != nil {
			tb.Fatalf("put %s: %v", sub.ID, err)
		}
	}
}

// wantFail checks that err wraps want and shows no secret.
func wantFail(tb testing.TB, what string, err, want error) {
	tb.Helper()
	if !errors.Is(err, want) {
		tb.Errorf("%s: %v, want an error wrapping %v", what, err, want)
		return
	}
	for _, secret := range []string{signingSecret, clientSecret, headerSecret, urlSecret} {
		if strings.Contains(err.Error(), secret) {
			tb.Errorf("%s: error %q shows a secret", what, err)
		}
	}
}

// TestSubscriptionEncryption: with a Keyring, a subscription reads back
// exactly as written, its stored body holds none of it in clear (each
// write with a fresh nonce), and its id and tenant columns stay clear.
func TestSubscriptionEncryption(t *testing.T) {
	key := newKey(t)
	s := schemaStores(t)(pgstore.Config{Keyring: keyring(t, key)})
	sub := secretSub("sub-enc")
	putSubs(t, s, sub)
	if got := listSubs(t, s)["sub-enc"]; !reflect.DeepEqual(got, sub) {
		t.Errorf("read back %+v, want %+v", got, sub)
	}
	wantSealed(t, s, "sub-enc", key)
	first := readRaw(t, s, "sub-enc")
	if first.tenant != sub.TenantID {
		t.Errorf("tenant_id column %q, want %q in clear", first.tenant, sub.TenantID)
	}
	putSubs(t, s, sub)
	if readRaw(t, s, "sub-enc").text == first.text {
		t.Error("writing the same subscription twice stored the same ciphertext: nonces repeat")
	}
}

// TestSubscriptionKeyRotation: a new key added first encrypts new writes
// while the old key still decrypts; RotateSubscriptionKeys moves every body
// (plaintext ones too) under the new key, after which the old key can go.
// A store without the key in use fails clearly.
func TestSubscriptionKeyRotation(t *testing.T) {
	open := schemaStores(t)
	k1, k2 := newKey(t), newKey(t)
	plain := open(pgstore.Config{})
	old := open(pgstore.Config{Keyring: keyring(t, k1)})
	both := open(pgstore.Config{Keyring: keyring(t, k2, k1)})
	putSubs(t, plain, secretSub("a-plain"))
	putSubs(t, old, secretSub("b-old"), secretSub("c-old"))
	putSubs(t, both, secretSub("d-new"))
	want := listSubs(t, both)
	if len(want) != 4 {
		t.Fatalf("the store with both keys lists %d subscriptions, want 4", len(want))
	}
	wantSealed(t, both, "b-old", k1)
	wantSealed(t, both, "d-new", k2)

	n, err := both.RotateSubscriptionKeys(t.Context())
	if err != nil || n != 3 {
		t.Fatalf("rotate: %d, %v; want the 3 bodies not under the new key", n, err)
	}
	for id := range want {
		wantSealed(t, both, id, k2)
	}
	if n, err := both.RotateSubscriptionKeys(t.Context()); err != nil || n != 0 {
		t.Errorf("second rotation: %d, %v; want nothing left to do", n, err)
	}
	onlyNew := open(pgstore.Config{Keyring: keyring(t, k2)})
	if got := listSubs(t, onlyNew); !reflect.DeepEqual(got, want) {
		t.Errorf("after rotation, the new key alone reads %v, want %v", got, want)
	}
	_, err = old.ListSubscriptions(t.Context())
	wantFail(t, "list with the old key only", err, pgstore.ErrMissingKey)
	if err != nil && !strings.Contains(err.Error(), pgstore.KeyID(k2)) {
		t.Errorf("missing key error %q does not name the key id it needs", err)
	}
	_, err = plain.ListSubscriptions(t.Context())
	wantFail(t, "list without a keyring", err, pgstore.ErrMissingKey)
	_, err = plain.RotateSubscriptionKeys(t.Context())
	wantFail(t, "rotate without a keyring", err, pgstore.ErrMissingKey)
}

// TestSubscriptionRotateBatches: rotation walks more rows than one batch.
func TestSubscriptionRotateBatches(t *testing.T) {
	open := schemaStores(t)
	plain := open(pgstore.Config{})
	const n = 450
	for i := range n {
		putSubs(t, plain, webhookSub(fmt.Sprintf("sub-%03d", i), "http://127.0.0.1/x"))
	}
	enc := open(pgstore.Config{Keyring: keyring(t, newKey(t))})
	if got, err := enc.RotateSubscriptionKeys(t.Context()); err != nil || got != n {
		t.Fatalf("rotate: %d, %v; want %d", got, err, n)
	}
	var left int
	if err := enc.Pool().QueryRow(t.Context(), `SELECT count(*) FROM subscriptions WHERE jsonb_typeof(body) <> 'string'`).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d plaintext bodies left after rotation (%v)", left, err)
	}
	if got := listSubs(t, enc); len(got) != n {
		t.Errorf("%d subscriptions listed, want %d", len(got), n)
	}
}

// TestSubscriptionPlaintextLegacy: a row written before encryption was
// turned on is read as it is, and written encrypted by the next
// PutSubscription.
func TestSubscriptionPlaintextLegacy(t *testing.T) {
	open := schemaStores(t)
	plain := open(pgstore.Config{})
	sub := secretSub("legacy")
	putSubs(t, plain, sub)
	if r := readRaw(t, plain, "legacy"); r.kind != "object" || !strings.Contains(r.text, signingSecret) {
		t.Fatalf("without a keyring the body is %s %.60s..., want the plain JSON object", r.kind, r.text)
	}
	key := newKey(t)
	enc := open(pgstore.Config{Keyring: keyring(t, key)})
	if got := listSubs(t, enc)["legacy"]; !reflect.DeepEqual(got, sub) {
		t.Fatalf("legacy row read %+v, want %+v", got, sub)
	}
	sub.Name = "renamed"
	putSubs(t, enc, sub)
	wantSealed(t, enc, "legacy", key)
	if got := listSubs(t, enc)["legacy"]; got.Name != "renamed" {
		t.Errorf("after the rewrite: %+v", got)
	}
}

// TestSubscriptionTampered: a body altered in the table, or moved to
// another subscription's row, does not authenticate; a body under an
// unknown key id is reported as a missing key.
func TestSubscriptionTampered(t *testing.T) {
	key := newKey(t)
	s := schemaStores(t)(pgstore.Config{Keyring: keyring(t, key)})
	ctx := t.Context()
	kid := pgstore.KeyID(key)
	for _, c := range []struct {
		name   string
		update string
		want   error
	}{
		// The first base64 digit of the ciphertext (the nonce's first 6
		// bits) replaced by another.
		{"altered", `UPDATE subscriptions SET body = to_jsonb(overlay(body #>> '{}' PLACING
			CASE WHEN substr(body #>> '{}', 25, 1) = 'A' THEN 'B' ELSE 'A' END FROM 25 FOR 1)) WHERE id = 'a'`, pgstore.ErrCiphertext},
		{"moved", `UPDATE subscriptions SET body = (SELECT body FROM subscriptions WHERE id = 'b') WHERE id = 'a'`, pgstore.ErrCiphertext},
		{"unknown key", `UPDATE subscriptions SET body = to_jsonb(replace(body #>> '{}', '` + kid + `', '0123456789abcdef')) WHERE id = 'a'`, pgstore.ErrMissingKey},
		{"not an envelope", `UPDATE subscriptions SET body = '"secret in a string"' WHERE id = 'a'`, pgstore.ErrCiphertext},
	} {
		putSubs(t, s, secretSub("a"), secretSub("b"))
		if _, err := s.Pool().Exec(ctx, c.update); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		_, err := s.ListSubscriptions(ctx)
		wantFail(t, c.name, err, c.want)
		if err != nil && !strings.Contains(err.Error(), `"a"`) {
			t.Errorf("%s: error %q does not name the subscription", c.name, err)
		}
	}
	// A valid body reads again once rewritten.
	putSubs(t, s, secretSub("a"))
	if got := listSubs(t, s); len(got) != 2 {
		t.Errorf("after rewriting the damaged row: %d subscriptions", len(got))
	}
}

// TestSubscriptionBodyJSON: without a Keyring the body stays the plain JSON
// of the subscription, as before (queries and tools that read it keep
// working).
func TestSubscriptionBodyJSON(t *testing.T) {
	s := newTestStore(t)
	sub := secretSub("clear")
	putSubs(t, s, sub)
	var got shipevents.Subscription
	if err := json.Unmarshal([]byte(readRaw(t, s, "clear").text), &got); err != nil || !reflect.DeepEqual(got, sub) {
		t.Errorf("plain body decodes to %+v, %v", got, err)
	}
}
