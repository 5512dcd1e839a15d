package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/shipevents/shipevents"
)

// Input bounds of verify: a webhook body or a captured request larger
// than this is not something a sender of ours produced.
const (
	maxBodyBytes   = 16 << 20
	maxSecretBytes = 64 << 10
)

func init() {
	register(&command{
		name:     "verify",
		synopsis: "[-secret-file FILE] (-request FILE | -id ID -timestamp UNIX -signature SIG [-body FILE]) [-at TIME] [-tolerance D]",
		summary:  "check a received webhook's signature",
		details: `
Verify checks a webhook request as a receiver got it: the webhook-id,
webhook-timestamp and webhook-signature headers and the raw body, with the
receiver's signing secret, as shipevents.Verify does. It prints "valid" and exits 0
when a v1 signature matches and the timestamp is within -tolerance of -at (default:
now); otherwise it says why on standard error and exits 1.

The secret ("whsec_..."; several separated by spaces or newlines during a rotation)
comes from -secret-file, or else from SHIPEVENTS_WEBHOOK_SECRET, so that it never
appears in the command line or the shell history. The secret is never printed.

The headers come from -id, -timestamp and -signature, and the body from -body (a
file; "-" or none: standard input); or both from -request, a raw HTTP/1.1 request
as captured ("POST /hooks HTTP/1.1", the headers, a blank line, the body). Its body
is Content-Length bytes (or the chunks of a chunked request) or, without either,
the rest of the file as it is: an editor's final newline would be part of it.
The body must be the bytes as sent, before any JSON reformatting.

Examples:

	export SHIPEVENTS_WEBHOOK_SECRET=whsec_...   # or -secret-file /run/secrets/hook
	shipevents verify -request captured.http
	shipevents verify -id "$ID" -timestamp 1767225600 -signature "v1,K5o..." -body body.json
	shipevents verify -request old.http -at 2026-01-01T00:00:30Z   # as of when it arrived`,
		define: defineVerify,
	})
}

func defineVerify(fs *flag.FlagSet) runFunc {
	secretFile := fs.String("secret-file", "", "read the signing secret(s) from `file` instead of "+envSecret)
	request := fs.String("request", "", "a raw HTTP request `file` (\"-\": standard input) holding the headers and the body")
	id := fs.String("id", "", "the webhook-id header `value`")
	ts := fs.String("timestamp", "", "the webhook-timestamp header: `unix` seconds")
	sig := fs.String("signature", "", "the webhook-signature header `value` (\"v1,<base64>\", several separated by spaces)")
	body := fs.String("body", "", "the body `file` (\"-\": standard input, the default without -request)")
	at := &timeFlag{now: time.Now}
	fs.Var(at, "at", "check the timestamp against this `time` instead of now (RFC 3339, unix seconds), for a request captured earlier")
	tolerance := fs.Duration("tolerance", shipevents.DefaultVerifyTolerance, "how far the timestamp may be from -at, either way")
	return func(ctx context.Context, e *env, args []string) error {
		if len(args) > 0 {
			return usageError("unexpected argument %q: give the body with -body or -request", args[0])
		}
		if *tolerance <= 0 {
			return usageError("-tolerance %v: want a positive duration", *tolerance)
		}
		var header http.Header
		var raw []byte
		var err error
		if *request != "" {
			if *id != "" || *ts != "" || *sig != "" || *body != "" {
				return usageError("-request holds the headers and the body: give it alone, or -id, -timestamp, -signature and -body")
			}
			header, raw, err = readRequest(e, *request)
		} else {
			if *id == "" || *ts == "" || *sig == "" {
				return usageError("need -id, -timestamp and -signature (or -request)")
			}
			header = http.Header{}
			header.Set(shipevents.HeaderWebhookID, *id)
			header.Set(shipevents.HeaderWebhookTimestamp, *ts)
			header.Set(shipevents.HeaderWebhookSignature, *sig)
			raw, err = readBody(e, *body)
		}
		if err != nil {
			return err
		}
		secrets, err := readSecrets(e, *secretFile)
		if err != nil {
			return err
		}
		now, clock := time.Now, "now"
		if !at.t.IsZero() {
			now, clock = func() time.Time { return at.t }, "-at"
		}
		err = shipevents.VerifyAny(secrets, header, raw, &shipevents.VerifyOptions{Tolerance: *tolerance, Now: now})
		switch {
		case errors.Is(err, shipevents.ErrInvalidSecret):
			return usageError("the signing secret: %v", err)
		case err != nil:
			return rejected(fmt.Errorf("invalid: %w", err))
		}
		signed, _ := strconv.ParseInt(header.Get(shipevents.HeaderWebhookTimestamp), 10, 64)
		st := time.Unix(signed, 0).UTC()
		fmt.Fprintf(e.stdout, "valid: webhook-id %s, signed at %s (%v before %s), %d-byte body\n",
			sanitize(header.Get(shipevents.HeaderWebhookID)), st.Format(time.RFC3339),
			now().Sub(st).Truncate(time.Second), clock, len(raw))
		return nil
	}
}

// readSecrets returns the secrets of -secret-file, or of the environment.
func readSecrets(e *env, file string) ([]string, error) {
	var text string
	if file != "" {
		b, err := readInput(e, file, maxSecretBytes)
		if err != nil {
			return nil, failure(fmt.Errorf("the secret file: %w", err))
		}
		if len(b) > maxSecretBytes {
			return nil, usageError("the secret file %s is larger than %d bytes", file, maxSecretBytes)
		}
		text = string(b)
	} else {
		text = e.getenv(envSecret)
	}
	secrets := strings.Fields(text)
	if len(secrets) == 0 {
		if file != "" {
			return nil, usageError("the secret file %s holds no secret", file)
		}
		return nil, usageError("no signing secret: set %s or give -secret-file", envSecret)
	}
	return secrets, nil
}

func readBody(e *env, name string) ([]byte, error) {
	if name == "" {
		name = "-"
	}
	b, err := readInput(e, name, maxBodyBytes)
	if err != nil {
		return nil, failure(err)
	}
	if len(b) > maxBodyBytes {
		return nil, rejected(fmt.Errorf("the body is larger than %d bytes", maxBodyBytes))
	}
	return b, nil
}

// readRequest parses a raw HTTP request into its headers and body.
func readRequest(e *env, name string) (http.Header, []byte, error) {
	data, err := readInput(e, name, maxBodyBytes+64<<10)
	if err != nil {
		return nil, nil, failure(err)
	}
	if len(data) > maxBodyBytes+64<<10 {
		return nil, nil, rejected(fmt.Errorf("the request is larger than %d bytes", maxBodyBytes+64<<10))
	}
	br := bufio.NewReader(bytes.NewReader(data))
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, nil, rejected(fmt.Errorf("%s is not an HTTP request: %w", displayName(name), err))
	}
	var body []byte
	if req.ContentLength > 0 || len(req.TransferEncoding) > 0 || req.Header.Get("Content-Length") != "" {
		body, err = io.ReadAll(req.Body)
		if err != nil {
			return nil, nil, rejected(fmt.Errorf("the body of %s: %w", displayName(name), err))
		}
	} else {
		// Without a length the request has no body by HTTP's rules; a
		// capture written by hand means the rest of the file.
		body, _ = io.ReadAll(br)
	}
	return req.Header, body, nil
}

func displayName(name string) string {
	if name == "-" {
		return "standard input"
	}
	return name
}
