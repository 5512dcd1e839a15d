package shipevents_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/shipevents/shipevents"
)

// A receiver checks a webhook with its secret before trusting the body,
// then uses webhook-id as its idempotency key.
func ExampleVerify() {
	const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	sent := time.Unix(1767225600, 0) // 2026-01-01T00:00:00Z
	body := []byte(`{"id":"evt_1","type":"shipment.delivered"}`)

	// What the sender does (the HTTP sender sets these headers).
	sig, err := shipevents.Sign("evt_1", sent, body, secret)
	if err != nil {
		panic(err)
	}
	req := httptest.NewRequest("POST", "/webhooks", bytes.NewReader(body))
	req.Header.Set(shipevents.HeaderWebhookID, "evt_1")
	req.Header.Set(shipevents.HeaderWebhookTimestamp, strconv.FormatInt(sent.Unix(), 10))
	req.Header.Set(shipevents.HeaderWebhookSignature, sig)

	// What the receiver does, in its handler. The clock is fixed here to
	// keep the example's output stable; leave opts nil in real code.
	opts := &shipevents.VerifyOptions{Now: func() time.Time { return sent.Add(3 * time.Second) }}
	raw, _ := io.ReadAll(req.Body)
	if err := shipevents.Verify(secret, req.Header, raw, opts); err != nil {
		fmt.Println("rejected:", err)
		return
	}
	fmt.Println("verified", req.Header.Get(shipevents.HeaderWebhookID))

	// A modified body, or a replay an hour later, is rejected.
	err = shipevents.Verify(secret, req.Header, []byte(`{"id":"evt_1","type":"shipment.returned"}`), opts)
	fmt.Println(errors.Is(err, shipevents.ErrInvalidSignature))
	late := &shipevents.VerifyOptions{Now: func() time.Time { return sent.Add(time.Hour) }}
	err = shipevents.Verify(secret, req.Header, raw, late)
	fmt.Println(errors.Is(err, shipevents.ErrTimestampOutOfRange))
	// Output:
	// verified evt_1
	// true
	// true
}
