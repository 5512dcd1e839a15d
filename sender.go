package shipevents

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Message is one delivery attempt handed to a [Sender]. Everything it
// points to is read-only for the Sender and valid only during the Send
// call.
type Message struct {
	DeliveryID string
	// Attempt is 1 for the first attempt.
	Attempt      int
	Event        *Event
	Subscription *Subscription
	// Body is the payload in the subscription's form.
	Body []byte
	// Timestamp is the signing time (the dispatcher's clock).
	Timestamp time.Time
}

// Response is what the destination answered.
type Response struct {
	StatusCode int
	// Body is the start of the response body; the HTTP sender keeps at
	// most its MaxResponseBytes.
	Body []byte
}

// Sender delivers a message to its destination.
//
// Send returns a nil error only when the destination accepted the message
// (a 2xx for HTTP). On failure it returns an error the retry policy can
// classify: a [*HTTPError] for an HTTP answer (with Retry-After), an error
// wrapped with [Permanent] when retrying cannot help, anything else for
// transient failures (timeouts, refused or reset connections). Senders do
// not retry: the dispatcher does, with its policy and its records.
//
// Send may be called concurrently. It must honour ctx (the attempt's
// deadline) and must not retain m.
type Sender interface {
	Send(ctx context.Context, m *Message) (Response, error)
}

// HTTPError is a non-2xx answer from an endpoint.
type HTTPError struct {
	StatusCode int
	// RetryAfter is the endpoint's Retry-After, zero if absent.
	RetryAfter time.Duration
	// Body is the start of the response body.
	Body string
}

// Error implements error.
func (e *HTTPError) Error() string {
	return fmt.Sprintf("shipevents: endpoint answered HTTP %d", e.StatusCode)
}

// ErrPermanent is matched (errors.Is) by every error wrapped with
// [Permanent]: a failure that retrying cannot fix, from a sender, a
// handler or a store.
var ErrPermanent = errors.New("shipevents: permanent failure")

// PermanentError marks a failure that retrying cannot fix.
type PermanentError struct{ Err error }

// Error implements error.
func (e *PermanentError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *PermanentError) Unwrap() error { return e.Err }

// Is reports whether target is ErrPermanent.
func (e *PermanentError) Is(target error) bool { return target == ErrPermanent }

// Permanent wraps err so the dispatcher does not retry it; it returns nil
// for nil. Senders and handlers use it for failures a retry cannot fix,
// and stores for data they can never take (see [Store]).
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// SenderFunc adapts a function to a [Sender].
type SenderFunc func(ctx context.Context, m *Message) (Response, error)

// Send calls f(ctx, m).
func (f SenderFunc) Send(ctx context.Context, m *Message) (Response, error) { return f(ctx, m) }

// Middleware wraps a Sender (logging, metrics, rate limits, tracing).
type Middleware func(Sender) Sender

// Chain returns s wrapped in mw; the first middleware is the outermost,
// so it sees each message first.
func Chain(s Sender, mw ...Middleware) Sender {
	for i := len(mw) - 1; i >= 0; i-- {
		s = mw[i](s)
	}
	return s
}

// Handler receives events in process, for subscriptions whose Handler
// names it. Returning nil acknowledges the event; an error is retried like
// a failed webhook (wrap it with [Permanent] to dead-letter at once). A
// Handler may be called concurrently and more than once for the same event
// (delivery is at least once; the event's key, [Event.Key], is the
// idempotency key: its tenant and id).
type Handler func(ctx context.Context, e Event) error
