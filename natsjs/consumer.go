package natsjs

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/shipevents/shipevents"
)

// ErrUndecodable: a message body [Decode] cannot turn back into an event
// (a flat-form body, which loses the envelope's shape, or a malformed
// one).
var ErrUndecodable = errors.New("natsjs: message is not a decodable event")

// Verify checks a message a consumer received from the stream, as
// [shipevents.VerifyAny] checks a webhook request: the webhook-id,
// webhook-timestamp and webhook-signature headers and the body as
// received, against the consumer's secrets. Its errors are those of
// shipevents.VerifyAny.
//
// A stream keeps messages, and a consumer may read one long after it was
// signed (after downtime, or replaying from the start): with a nil opts,
// the signature is checked but not the timestamp's age. The consumer's
// position in the stream, not the clock, is what keeps it from taking a
// message twice. Give opts to check the age as webhooks do.
func Verify(secrets []string, h nats.Header, data []byte, opts *shipevents.VerifyOptions) error {
	hh := make(http.Header, 3)
	for _, k := range [...]string{shipevents.HeaderWebhookID, shipevents.HeaderWebhookTimestamp, shipevents.HeaderWebhookSignature} {
		if v := h.Get(k); v != "" {
			hh.Set(k, v)
		}
	}
	if opts == nil {
		// Judge the timestamp against itself: only the signature counts.
		ts, err := strconv.ParseInt(h.Get(shipevents.HeaderWebhookTimestamp), 10, 64)
		if err == nil && ts > math.MinInt64/2 && ts < math.MaxInt64/2 {
			signed := time.Unix(ts, 0)
			opts = &shipevents.VerifyOptions{Now: func() time.Time { return signed }}
		}
	}
	return shipevents.VerifyAny(secrets, hh, data, opts)
}

// Decode returns the event a message carries, by its form header: the
// nested envelope (the default) or a CloudEvents structured event. A
// flat-form body cannot be decoded back; it and a malformed body give an
// error wrapping ErrUndecodable. Decode does not verify the signature:
// call [Verify] first when the stream is signed.
func Decode(h nats.Header, data []byte) (shipevents.Event, error) {
	var e shipevents.Event
	switch form := shipevents.PayloadForm(h.Get(HeaderForm)); form {
	case "", shipevents.FormNested:
		if err := json.Unmarshal(data, &e); err != nil {
			return shipevents.Event{}, fmt.Errorf("%w: %w", ErrUndecodable, err)
		}
	case shipevents.FormCloudEvents:
		var err error
		if e, err = shipevents.UnmarshalCloudEvent(data); err != nil {
			return shipevents.Event{}, fmt.Errorf("%w: %w", ErrUndecodable, err)
		}
	default:
		return shipevents.Event{}, fmt.Errorf("%w: form %q", ErrUndecodable, truncate(string(form), 64))
	}
	return e, nil
}
