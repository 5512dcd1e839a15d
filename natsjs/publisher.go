package natsjs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/shipevents/shipevents"
)

// Defaults of [PublisherConfig] and [StreamConfig].
const (
	// DefaultAckTimeout bounds the wait for one publish acknowledgement.
	DefaultAckTimeout = 5 * time.Second
	// DefaultDuplicateWindow is the duplicate window [StreamConfig]
	// gives a stream (the JetStream default).
	DefaultDuplicateWindow = 2 * time.Minute
)

// The headers every message carries besides the Standard Webhooks ones
// (webhook-id, webhook-timestamp and, when there are secrets,
// webhook-signature) and Nats-Msg-Id. Values are written with
// [EscapeHeader].
const (
	HeaderEventType   = "Shipevents-Type"
	HeaderEventRef    = "Shipevents-Ref"
	HeaderForm        = "Shipevents-Form"
	HeaderContentType = "Content-Type"
)

// The publish errors; test them with errors.Is. Those marked permanent
// are wrapped with [shipevents.Permanent] by Send, so the
// dispatcher dead-letters the delivery at once; the others are retried
// on the subscription's schedule.
var (
	// ErrNoStream (permanent): no stream captures the subject (the
	// server had no responder for it).
	ErrNoStream = errors.New("natsjs: no stream captures the subject")
	// ErrPermissionDenied (permanent): the server refused the connection
	// permission to publish on the subject.
	ErrPermissionDenied = errors.New("natsjs: publish permission denied")
	// ErrRejected: the stream answered with an error, which is wrapped
	// (a *jetstream.APIError). Permanent when retrying cannot help: a
	// 4xx code other than 408, 409, 425 and 429 (message too large,
	// stream sealed, expected stream does not match) and JetStream not
	// enabled for the account; transient otherwise (storage full,
	// cluster without a leader).
	ErrRejected = errors.New("natsjs: the stream refused the message")
	// ErrNoAck (transient): no acknowledgement came back in time, or the
	// connection dropped first. The message may have been stored; the
	// retry carries the same Nats-Msg-Id, so the stream keeps it once
	// within its duplicate window.
	ErrNoAck = errors.New("natsjs: no publish acknowledgement")
	// ErrUnpublishable (permanent): the message cannot be sent at all
	// (a subject over MaxSubjectLen, a payload over the server's
	// max_payload, a Message without an event).
	ErrUnpublishable = errors.New("natsjs: message cannot be published")
	// ErrInvalidConfig: a [PublisherConfig] NewPublisher refuses.
	ErrInvalidConfig = errors.New("natsjs: invalid publisher configuration")
)

// PublisherConfig configures [NewPublisher]. The zero value publishes
// under DefaultPrefix to whichever stream captures the subjects.
type PublisherConfig struct {
	// Prefix starts every subject ([Subject]); default DefaultPrefix.
	Prefix string
	// Stream, when set, is the stream the messages must land in: each
	// carries Nats-Expected-Stream, so a subject captured by another
	// stream is refused (ErrRejected, permanent) instead of stored there.
	Stream string
	// AckTimeout bounds the wait for each publish acknowledgement, within
	// the context's deadline; default DefaultAckTimeout.
	AckTimeout time.Duration
}

// Publisher publishes shipevents deliveries to NATS JetStream: one
// message per attempt, on the subject of the event's tenant and ref
// ([Subject]), with the body in the subscription's form and the Standard
// Webhooks headers signed with the subscription's secrets, so consumers
// verify it as webhook receivers do ([Verify]).
//
// Each message carries Nats-Msg-Id: the event's message id
// ([shipevents.MessageID]), the same value as webhook-id, as webhooks
// carry it. A retried delivery (say, after an acknowledgement
// was lost) is therefore stored once if the retry comes within the
// stream's duplicate window. The stream's acknowledgement is the
// attempt's success.
//
// A Publisher is a [shipevents.Sender] for handler subscriptions: register
// it under a name with [shipevents.Dispatcher.HandleSender], and the
// subscriptions whose Handler names it deliver to the stream:
//
//	d.HandleSender("jetstream", pub)
//	d.Subscribe(ctx, shipevents.Subscription{ID: "stream", Handler: "jetstream",
//		EnabledEvents: []string{"*"}, Secrets: secrets})
//
// It is safe for concurrent use; create one per connection and share it.
type Publisher struct {
	js     jetstream.JetStream
	prefix string
	stream string
	denied *denials
}

var _ shipevents.Sender = (*Publisher)(nil)

// NewPublisher returns a Publisher on nc. It fails, wrapping
// ErrInvalidConfig, for an invalid prefix or stream name.
//
// To tell a refused publish permission from a lost acknowledgement, the
// Publisher watches the connection's asynchronous errors: it installs an
// error handler on nc that calls the handler nc had before. An error
// handler set on nc later must call the one it replaces.
func NewPublisher(nc *nats.Conn, cfg PublisherConfig) (*Publisher, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if nc == nil {
		return nil, bad("no connection")
	}
	if err := ValidatePrefix(cfg.Prefix); err != nil {
		return nil, bad("%v", err)
	}
	if strings.ContainsAny(cfg.Stream, " \t\r\n.*>") {
		return nil, bad("stream name %q is not a valid name", truncate(cfg.Stream, 64))
	}
	if cfg.AckTimeout < 0 {
		return nil, bad("negative AckTimeout")
	}
	if cfg.AckTimeout == 0 {
		cfg.AckTimeout = DefaultAckTimeout
	}
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncTimeout(cfg.AckTimeout))
	if err != nil {
		return nil, bad("%v", err)
	}
	p := &Publisher{js: js, prefix: prefixOrDefault(cfg.Prefix), stream: cfg.Stream, denied: newDenials()}
	prev := nc.ErrorHandler()
	nc.SetErrorHandler(func(c *nats.Conn, s *nats.Subscription, err error) {
		p.denied.observe(err)
		if prev != nil {
			prev(c, s, err)
		}
	})
	return p, nil
}

// StreamConfig returns a configuration for a stream named name that
// captures every subject under prefix (DefaultPrefix when empty), kept in
// files, with a duplicate window of DefaultDuplicateWindow. Adjust it
// (retention limits, replicas) before creating the stream, for instance
// with jetstream.JetStream.CreateOrUpdateStream.
func StreamConfig(name, prefix string) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:       name,
		Subjects:   []string{prefixOrDefault(prefix) + ".>"},
		Storage:    jetstream.FileStorage,
		Duplicates: DefaultDuplicateWindow,
	}
}

// Send publishes m.Body for m.Event, signed with the subscription's
// secrets at m.Timestamp (unsigned when it has none). On success the
// Response body says where the stream stored the message ("stream EVENTS
// seq 42", with "duplicate" when it already had it); the error is one of
// the publish errors above, wrapped with [shipevents.Permanent] when a
// retry cannot help.
func (p *Publisher) Send(ctx context.Context, m *shipevents.Message) (shipevents.Response, error) {
	if m.Event == nil {
		return shipevents.Response{}, shipevents.Permanent(fmt.Errorf("%w: message without an event", ErrUnpublishable))
	}
	form, secrets := shipevents.FormNested, []string(nil)
	if s := m.Subscription; s != nil {
		if s.Form != "" {
			form = s.Form
		}
		secrets = s.Secrets
	}
	ts := m.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	return p.publish(ctx, m.Event, m.Body, form, secrets, ts)
}

func contentType(form shipevents.PayloadForm) string {
	if form == shipevents.FormCloudEvents {
		return "application/cloudevents+json"
	}
	return "application/json"
}

func (p *Publisher) publish(ctx context.Context, e *shipevents.Event, body []byte, form shipevents.PayloadForm, secrets []string, ts time.Time) (shipevents.Response, error) {
	subject := Subject(p.prefix, e.TenantID, e.Ref)
	if len(subject) > MaxSubjectLen {
		return shipevents.Response{}, shipevents.Permanent(fmt.Errorf("%w: subject of %d bytes, limit %d", ErrUnpublishable, len(subject), MaxSubjectLen))
	}
	id := EscapeHeader(shipevents.MessageID(e.Key()))
	h := make(nats.Header, 9)
	h.Set(jetstream.MsgIDHeader, id)
	if p.stream != "" {
		h.Set(jetstream.ExpectedStreamHeader, p.stream)
	}
	h.Set(shipevents.HeaderWebhookID, id)
	h.Set(shipevents.HeaderWebhookTimestamp, strconv.FormatInt(ts.Unix(), 10))
	if len(secrets) > 0 {
		sig, err := shipevents.Sign(id, ts, body, secrets...)
		if err != nil {
			return shipevents.Response{}, shipevents.Permanent(fmt.Errorf("natsjs: signing: %w", err))
		}
		h.Set(shipevents.HeaderWebhookSignature, sig)
	}
	h.Set(HeaderContentType, contentType(form))
	h.Set(HeaderForm, string(form))
	h.Set(HeaderEventType, EscapeHeader(e.Type))
	h.Set(HeaderEventRef, EscapeHeader(e.Ref))

	seq, wake := p.denied.watch()
	fut, err := p.js.PublishMsgAsync(&nats.Msg{Subject: subject, Header: h, Data: body})
	if err != nil {
		return shipevents.Response{}, classify(subject, err)
	}
	okc, errc := fut.Ok(), fut.Err()
	for {
		select {
		case ack := <-okc:
			return shipevents.Response{Body: ackBody(ack)}, nil
		case err := <-errc:
			return shipevents.Response{}, classify(subject, err)
		case <-wake:
			if p.denied.since(subject, seq) {
				return shipevents.Response{}, shipevents.Permanent(fmt.Errorf("%w: %s", ErrPermissionDenied, truncate(subject, 256)))
			}
			_, wake = p.denied.watch()
		case <-ctx.Done():
			return shipevents.Response{}, fmt.Errorf("%w: %s: %w", ErrNoAck, truncate(subject, 256), ctx.Err())
		}
	}
}

func ackBody(ack *jetstream.PubAck) []byte {
	b := make([]byte, 0, 32+len(ack.Stream))
	b = append(b, "stream "...)
	b = append(b, ack.Stream...)
	b = append(b, " seq "...)
	b = strconv.AppendUint(b, ack.Sequence, 10)
	if ack.Duplicate {
		b = append(b, " duplicate"...)
	}
	return b
}

// classify turns a publish failure into one of the publish errors, and
// marks those a retry cannot fix.
func classify(subject string, err error) error {
	subject = truncate(subject, 256)
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, jetstream.ErrNoStreamResponse):
		return shipevents.Permanent(fmt.Errorf("%w: %s", ErrNoStream, subject))
	case errors.As(err, &apiErr):
		e := fmt.Errorf("%w: %s: %w", ErrRejected, subject, err)
		if permanentAPIError(apiErr) {
			return shipevents.Permanent(e)
		}
		return e
	case errors.Is(err, nats.ErrMaxPayload), errors.Is(err, nats.ErrBadSubject), errors.Is(err, nats.ErrHeadersNotSupported):
		return shipevents.Permanent(fmt.Errorf("%w: %s: %w", ErrUnpublishable, subject, err))
	case errors.Is(err, jetstream.ErrAsyncPublishTimeout), errors.Is(err, nats.ErrDisconnected),
		errors.Is(err, nats.ErrTimeout), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return fmt.Errorf("%w: %s: %w", ErrNoAck, subject, err)
	}
	return fmt.Errorf("natsjs: publish to %s: %w", subject, err)
}

// permanentAPIError reports whether a stream's refusal stays the same on
// a retry: the client errors of the HTTP-like code, as for webhooks, and
// JetStream disabled for the account (which takes a configuration
// change).
func permanentAPIError(e *jetstream.APIError) bool {
	if e.ErrorCode == jetstream.JSErrCodeJetStreamNotEnabledForAccount {
		return true
	}
	switch c := e.Code; {
	case c == 408, c == 409, c == 425, c == 429:
		return false
	case c >= 400 && c < 500:
		return true
	}
	return false
}

// maxDenials bounds the subjects remembered as refused; past it the
// record starts again (a refusal then shows as a lost acknowledgement).
const maxDenials = 1024

// denials records the subjects the server refused this connection
// permission to publish on. A permission violation is an asynchronous
// protocol error that names the subject, and no acknowledgement ever
// follows; publishes waiting on a subject are woken when it is refused,
// so they fail at once instead of when their acknowledgement times out.
type denials struct {
	mu      sync.Mutex
	seq     uint64            // counts refusals
	subject map[string]uint64 // subject -> seq of its last refusal
	wake    chan struct{}     // closed, and replaced, at each refusal
}

func newDenials() *denials {
	return &denials{subject: map[string]uint64{}, wake: make(chan struct{})}
}

// watch returns the current count of refusals and a channel closed at
// the next one.
func (d *denials) watch() (uint64, <-chan struct{}) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.seq, d.wake
}

// since reports whether subject was refused after the count was seq.
func (d *denials) since(subject string, seq uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.subject[subject] > seq
}

// observe records a refusal the connection reported.
func (d *denials) observe(err error) {
	if !errors.Is(err, nats.ErrPermissionViolation) {
		return
	}
	const marker = "Permissions Violation for Publish to "
	_, quoted, ok := strings.Cut(err.Error(), marker)
	if !ok {
		return
	}
	subject, uerr := strconv.Unquote(quoted)
	if uerr != nil {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.subject) >= maxDenials {
		clear(d.subject)
	}
	d.seq++
	d.subject[subject] = d.seq
	close(d.wake)
	d.wake = make(chan struct{})
}
