package main_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/shipevents/shipevents"
)

// signedWebhook is a webhook as the dispatcher sends it, signed with the
// library.
type signedWebhook struct {
	secret    string
	id        string
	ts        time.Time
	body      []byte
	signature string
}

// signWebhook signs body at ts with a fresh secret, or with the given
// secrets (all of them, as during a rotation).
func signWebhook(t *testing.T, ts time.Time, body string, secrets ...string) signedWebhook {
	t.Helper()
	if len(secrets) == 0 {
		s, err := shipevents.GenerateSecret()
		if err != nil {
			t.Fatal(err)
		}
		secrets = []string{s}
	}
	w := signedWebhook{secret: secrets[0], id: "9a3c5f0e-2b1d-5e4f-8a7b-6c5d4e3f2a1b", ts: ts, body: []byte(body)}
	sig, err := shipevents.Sign(w.id, ts, w.body, secrets...)
	if err != nil {
		t.Fatal(err)
	}
	w.signature = sig
	return w
}

func (w signedWebhook) unix() string { return strconv.FormatInt(w.ts.Unix(), 10) }

// flags returns the header flags of verify.
func (w signedWebhook) flags() []string {
	return []string{"-id", w.id, "-timestamp", w.unix(), "-signature", w.signature}
}

// request returns the webhook as a raw HTTP request, with or without a
// Content-Length header.
func (w signedWebhook) request(contentLength bool) []byte {
	var b strings.Builder
	b.WriteString("POST /hooks/shipevents HTTP/1.1\r\nHost: oms.example.com\r\nContent-Type: application/json\r\n")
	if contentLength {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(w.body))
	}
	fmt.Fprintf(&b, "Webhook-Id: %s\r\nWebhook-Timestamp: %s\r\nWebhook-Signature: %s\r\n\r\n", w.id, w.unix(), w.signature)
	b.Write(w.body)
	return []byte(b.String())
}

func (w signedWebhook) env() []string { return []string{"SHIPEVENTS_WEBHOOK_SECRET=" + w.secret} }

const webhookBody = `{"id":"9a3c5f0e-2b1d-5e4f-8a7b-6c5d4e3f2a1b","type":"tracking.updated","ref":"shipments/delivered/SUCCESSFULLY_DELIVERED"}`

// checkNoSecret fails if the output shows the secret (or its key part).
func checkNoSecret(t *testing.T, r result, secret string) {
	t.Helper()
	key := strings.TrimPrefix(secret, shipevents.SecretPrefix)
	if strings.Contains(r.stdout+r.stderr, key) {
		t.Errorf("the output shows the secret:\n%s", r)
	}
}

func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestVerifyValid(t *testing.T) {
	signedAt := time.Date(2026, 3, 2, 8, 15, 0, 0, time.UTC)
	at := signedAt.Add(90 * time.Second).Format(time.RFC3339)
	w := signWebhook(t, signedAt, webhookBody)
	cases := []struct {
		name string
		cli  cli
	}{
		{"flags, body on stdin", cli{args: append([]string{"verify", "-at", at}, w.flags()...), stdin: w.body, env: w.env()}},
		{"flags, body file", cli{args: append([]string{"verify", "-at", at, "-body", writeFile(t, "body.json", w.body)}, w.flags()...), env: w.env()}},
		{"request file", cli{args: []string{"verify", "-at", at, "-request", writeFile(t, "req.http", w.request(true))}, env: w.env()}},
		{"request on stdin", cli{args: []string{"verify", "-request", "-", "-at", at}, stdin: w.request(true), env: w.env()}},
		{"request without Content-Length", cli{args: []string{"verify", "-at", at, "-request", "-"}, stdin: w.request(false), env: w.env()}},
		{"secret file", cli{args: []string{"verify", "-at", at, "-secret-file", writeFile(t, "secret", []byte(w.secret+"\n")), "-request", "-"}, stdin: w.request(true)}},
		{"at as unix seconds", cli{args: []string{"verify", "-at", strconv.FormatInt(signedAt.Unix()+60, 10), "-request", "-"}, stdin: w.request(true), env: w.env()}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.cli.run(t)
			wantExit(t, r, 0)
			if want := "valid: webhook-id " + w.id + ", signed at 2026-03-02T08:15:00Z"; !strings.HasPrefix(r.stdout, want) {
				t.Errorf("stdout %q, want it to start with %q", r.stdout, want)
			}
			if !strings.Contains(r.stdout, fmt.Sprintf("%d-byte body", len(w.body))) {
				t.Errorf("stdout %q does not give the body's size", r.stdout)
			}
			if r.stderr != "" {
				t.Errorf("stderr %q, want nothing", r.stderr)
			}
			checkNoSecret(t, r, w.secret)
		})
	}
}

// Without -at the receiver's clock is the current time.
func TestVerifyNow(t *testing.T) {
	w := signWebhook(t, time.Now(), webhookBody)
	r := cli{args: []string{"verify", "-request", "-"}, stdin: w.request(true), env: w.env()}.run(t)
	wantExit(t, r, 0)
	if !strings.Contains(r.stdout, "before now") {
		t.Errorf("stdout %q", r.stdout)
	}
	old := signWebhook(t, time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), webhookBody)
	r = cli{args: []string{"verify", "-request", "-"}, stdin: old.request(true), env: old.env()}.run(t)
	wantExit(t, r, 1)
	if !strings.Contains(r.stderr, shipevents.ErrTimestampOutOfRange.Error()) {
		t.Errorf("stderr %q, want the timestamp error", r.stderr)
	}
}

// A receiver rotating its secret holds both; the sender signed with the
// new one.
func TestVerifyRotatingSecrets(t *testing.T) {
	oldSecret, _ := shipevents.GenerateSecret()
	newSecret, _ := shipevents.GenerateSecret()
	signedAt := time.Date(2026, 3, 2, 8, 15, 0, 0, time.UTC)
	w := signWebhook(t, signedAt, webhookBody, newSecret)
	at := signedAt.Format(time.RFC3339)
	r := cli{args: []string{"verify", "-at", at, "-request", "-"}, stdin: w.request(true),
		env: []string{"SHIPEVENTS_WEBHOOK_SECRET=" + oldSecret + " " + newSecret}}.run(t)
	wantExit(t, r, 0)
	file := writeFile(t, "secrets", []byte(oldSecret+"\n"+newSecret+"\n"))
	r = cli{args: []string{"verify", "-at", at, "-secret-file", file, "-request", "-"}, stdin: w.request(true)}.run(t)
	wantExit(t, r, 0)
	// The old secret alone does not verify it.
	r = cli{args: []string{"verify", "-at", at, "-request", "-"}, stdin: w.request(true),
		env: []string{"SHIPEVENTS_WEBHOOK_SECRET=" + oldSecret}}.run(t)
	wantExit(t, r, 1)
}

func TestVerifyInvalid(t *testing.T) {
	signedAt := time.Date(2026, 3, 2, 8, 15, 0, 0, time.UTC)
	w := signWebhook(t, signedAt, webhookBody)
	other, _ := shipevents.GenerateSecret()
	at := func(d time.Duration) string { return signedAt.Add(d).Format(time.RFC3339) }
	tampered := signWebhook(t, signedAt, webhookBody, w.secret)
	tampered.body = []byte(strings.Replace(webhookBody, "DELIVERED", "RETURNED", 1))
	noSig := strings.Replace(string(w.request(true)), "Webhook-Signature", "X-Signature", 1)

	cases := []struct {
		name string
		cli  cli
		want error
	}{
		{"wrong secret", cli{args: []string{"verify", "-at", at(0), "-request", "-"}, stdin: w.request(true),
			env: []string{"SHIPEVENTS_WEBHOOK_SECRET=" + other}}, shipevents.ErrInvalidSignature},
		{"tampered body", cli{args: []string{"verify", "-at", at(0), "-request", "-"}, stdin: tampered.request(true), env: w.env()}, shipevents.ErrInvalidSignature},
		{"body with a final newline", cli{args: append([]string{"verify", "-at", at(0)}, w.flags()...), stdin: append(w.body, '\n'), env: w.env()}, shipevents.ErrInvalidSignature},
		{"expired", cli{args: []string{"verify", "-at", at(10 * time.Minute), "-request", "-"}, stdin: w.request(true), env: w.env()}, shipevents.ErrTimestampOutOfRange},
		{"from the future", cli{args: []string{"verify", "-at", at(-6 * time.Minute), "-request", "-"}, stdin: w.request(true), env: w.env()}, shipevents.ErrTimestampOutOfRange},
		{"expired for a shorter tolerance", cli{args: []string{"verify", "-at", at(2 * time.Minute), "-tolerance", "1m", "-request", "-"}, stdin: w.request(true), env: w.env()}, shipevents.ErrTimestampOutOfRange},
		{"no signature header", cli{args: []string{"verify", "-at", at(0), "-request", "-"}, stdin: []byte(noSig), env: w.env()}, shipevents.ErrMissingHeaders},
		{"timestamp not a number", cli{args: []string{"verify", "-at", at(0), "-id", w.id, "-timestamp", "soon", "-signature", w.signature}, stdin: w.body, env: w.env()}, shipevents.ErrMissingHeaders},
		{"not an HTTP request", cli{args: []string{"verify", "-request", "-"}, stdin: w.body, env: w.env()}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.cli.run(t)
			wantExit(t, r, 1)
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
			if !strings.HasPrefix(r.stderr, "shipevents verify: ") {
				t.Errorf("stderr %q", r.stderr)
			}
			if c.want != nil && !strings.Contains(r.stderr, "invalid: "+c.want.Error()) {
				t.Errorf("stderr %q, want the reason %q", r.stderr, c.want)
			}
			checkNoSecret(t, r, w.secret)
		})
	}
	// The tolerance admits what the default refuses.
	r := cli{args: []string{"verify", "-at", at(10 * time.Minute), "-tolerance", "15m", "-request", "-"}, stdin: w.request(true), env: w.env()}.run(t)
	wantExit(t, r, 0)
}

func TestVerifyUsageErrors(t *testing.T) {
	w := signWebhook(t, time.Now(), webhookBody)
	malformed := "whsec_" + strings.Repeat("Zm9v", 2) // 6 bytes: too short to be a key
	cases := []struct {
		name string
		cli  cli
		want string
	}{
		{"no secret", cli{args: []string{"verify", "-request", "-"}, stdin: w.request(true)}, "no signing secret: set SHIPEVENTS_WEBHOOK_SECRET"},
		{"empty secret file", cli{args: []string{"verify", "-secret-file", writeFile(t, "empty", nil), "-request", "-"}, stdin: w.request(true)}, "holds no secret"},
		{"malformed secret", cli{args: []string{"verify", "-request", "-"}, stdin: w.request(true), env: []string{"SHIPEVENTS_WEBHOOK_SECRET=" + malformed}}, shipevents.ErrInvalidSecret.Error()},
		{"request and header flags", cli{args: append([]string{"verify", "-request", "-"}, w.flags()...), env: w.env()}, "give it alone"},
		{"missing signature flag", cli{args: []string{"verify", "-id", w.id, "-timestamp", w.unix()}, env: w.env()}, "need -id, -timestamp and -signature"},
		{"bad -at", cli{args: []string{"verify", "-at", "teatime", "-request", "-"}, env: w.env()}, "is not a time"},
		{"bad -tolerance", cli{args: []string{"verify", "-tolerance", "-1m", "-request", "-"}, env: w.env()}, "want a positive duration"},
		{"argument", cli{args: []string{"verify", "body.json"}, env: w.env()}, "unexpected argument"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := c.cli.run(t)
			wantExit(t, r, 2)
			if !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "shipevents help verify") {
				t.Errorf("stderr %q, want %q and a pointer to the help", r.stderr, c.want)
			}
			checkNoSecret(t, r, malformed)
			checkNoSecret(t, r, w.secret)
		})
	}
	// A secret file that cannot be read: the command could not run.
	r := cli{args: []string{"verify", "-secret-file", filepath.Join(t.TempDir(), "none"), "-request", "-"}, stdin: w.request(true)}.run(t)
	wantExit(t, r, 3)
	if !strings.Contains(r.stderr, "the secret file") || !strings.Contains(r.stderr, "no such file") {
		t.Errorf("stderr %q", r.stderr)
	}
}
