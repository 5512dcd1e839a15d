package shipevents

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// process makes one attempt of a claimed delivery and hands the outcome to
// the recorder.
func (d *Dispatcher) process(ctx context.Context, c Claim, r *recorder) {
	now := d.now().UTC()
	attempt := c.Delivery.Attempts + 1
	sub, gone := d.lookupSubscription(ctx, c.Delivery.SubscriptionID)
	rec := AttemptRecord{Lease: c.Lease, Attempt: Attempt{DeliveryID: c.Delivery.ID, Number: attempt, StartedAt: now}}
	switch {
	case sub == nil && !gone:
		// Not in this instance's snapshot and not confirmed absent yet:
		// look again in a moment, without counting an attempt.
		rec.Outcome = OutcomeReleased
		rec.NextAttemptAt = now.Add(time.Second)
		d.stats.released.Add(1)
		r.add(rec, &c)
		return
	case sub == nil:
		rec.Outcome = OutcomeDead
		rec.Attempt.Error = "subscription no longer exists"
		d.stats.deadUnsent.Add(1)
		d.logNotAttempted(&c, rec.Attempt.Error)
		r.add(rec, &c)
		return
	case sub.Disabled:
		rec.Outcome = OutcomeDead
		rec.Attempt.Error = "subscription is disabled"
		if sub.DisabledReason != "" {
			rec.Attempt.Error += ": " + sub.DisabledReason
		}
		d.stats.deadUnsent.Add(1)
		d.logNotAttempted(&c, rec.Attempt.Error)
		r.add(rec, &c)
		return
	}
	if ok, turn := d.limits.admit(sub, c.Delivery.ID, now, 2*d.lease); !ok {
		rec.Outcome = OutcomeReleased
		rec.NextAttemptAt = turn
		d.stats.rateLimited.Add(1)
		r.add(rec, &c)
		return
	}
	buf := bodyBuffers.Get().(*bytes.Buffer)
	defer putBodyBuffer(buf) // Message.Body is only valid during Send
	body, err := encodeBody(buf, &c.Event, sub.Form)
	if err != nil {
		rec.Outcome = OutcomeDead
		rec.Attempt.Error = "encoding the event: " + err.Error()
		d.stats.deadUnsent.Add(1)
		d.logNotAttempted(&c, rec.Attempt.Error)
		r.add(rec, &c)
		return
	}
	msg := &Message{DeliveryID: c.Delivery.ID, Attempt: attempt, Event: &c.Event, Subscription: sub, Body: body, Timestamp: now}
	sctx, cancel := context.WithTimeout(ctx, d.timeout)
	resp, err := d.senderFor(sub).Send(sctx, msg)
	cancel()
	end := d.now().UTC()
	rec.Attempt.Duration = end.Sub(now)
	rec.Attempt.StatusCode = resp.StatusCode
	// Only the kept bytes are copied: resp.Body may be 64 KiB.
	rec.Attempt.Response = truncateUTF8(resp.Body, MaxStoredResponse)
	if err == nil {
		rec.Outcome = OutcomeSucceeded
		d.stats.attempts.Add(1)
		d.stats.succeeded.Add(1)
		d.streaks.succeeded(sub.ID, d.disableAfter)
		r.add(rec, &c)
		return
	}
	if ctx.Err() != nil {
		// Shutdown cancelled the attempt: it says nothing about the
		// endpoint, so it is not counted.
		rec.Outcome = OutcomeReleased
		rec.NextAttemptAt = end
		d.stats.released.Add(1)
		r.add(rec, &c)
		return
	}
	d.stats.attempts.Add(1)
	var he *HTTPError
	if errors.As(err, &he) {
		rec.Attempt.StatusCode = he.StatusCode
		if rec.Attempt.Response == "" {
			rec.Attempt.Response = cutString(he.Body, MaxStoredResponse)
		}
	}
	rec.Attempt.Error = cutString(err.Error(), MaxStoredError)
	policy := &d.retry
	if sub.Retry != nil {
		policy = sub.Retry
	}
	dec := policy.Decide(err, attempt, c.Delivery.CreatedAt, end)
	if dec.Retry {
		rec.Outcome = OutcomeRetry
		rec.NextAttemptAt = dec.At
		d.stats.retried.Add(1)
	} else {
		rec.Outcome = OutcomeDead
		rec.Attempt.Error += " (" + dec.Reason + ")"
		d.stats.dead.Add(1)
	}
	d.logFailed(&c, &rec, err)
	if dec.DisableSubscription {
		d.disable(ctx, sub, dec.Reason, &c.Event)
	} else if reason := d.streaks.failed(sub.ID, now, end, d.disableAfter); reason != "" {
		d.disable(ctx, sub, reason, &c.Event)
	}
	r.add(rec, &c)
}

// cutString returns s, or a copy of its first n bytes (fewer, to end on a
// rune boundary) when it is longer: a copy, so that what is kept does not
// hold the rest alive.
func cutString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return strings.Clone(s[:n])
}

// logNotAttempted logs a delivery dead-lettered without a send.
func (d *Dispatcher) logNotAttempted(c *Claim, reason string) {
	d.log.Warn("delivery not attempted; dead letter", "subscription", c.Delivery.SubscriptionID,
		"delivery", c.Delivery.ID, "event", c.Event.ID, "reason", cutString(reason, MaxStoredError))
}

// logFailed logs a failed attempt, retried or dead-lettered. Errors name a
// destination by scheme, host and port only (see redactURL), and never
// hold secrets.
func (d *Dispatcher) logFailed(c *Claim, rec *AttemptRecord, err error) {
	attrs := []any{"subscription", c.Delivery.SubscriptionID, "delivery", c.Delivery.ID,
		"attempt", rec.Attempt.Number, "reason", rec.Attempt.Error}
	if rec.Attempt.StatusCode != 0 {
		attrs = append(attrs, "status_code", rec.Attempt.StatusCode)
	}
	switch {
	case rec.Outcome == OutcomeRetry:
		d.log.Warn("delivery attempt failed; retrying", append(attrs, "next_attempt_at", rec.NextAttemptAt)...)
	case errors.Is(err, ErrDestinationRefused):
		d.log.Warn("delivery refused by the sender's AddressPolicy; dead letter (allow a destination in HTTPSenderConfig.Policy)", attrs...)
	default:
		d.log.Warn("delivery attempt failed; dead letter", attrs...)
	}
}

func (d *Dispatcher) senderFor(sub *Subscription) Sender {
	if sub.Handler != "" {
		return SenderFunc(d.sendToHandler)
	}
	return d.sender
}

// sendToHandler delivers to an in-process handler or sender, turning a
// panic into a failed attempt instead of a crashed worker.
func (d *Dispatcher) sendToHandler(ctx context.Context, m *Message) (resp Response, err error) {
	h, ok := d.handlers.Load(m.Subscription.Handler)
	if !ok {
		return Response{}, fmt.Errorf("no handler registered under %q", m.Subscription.Handler)
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler %q panicked: %v", m.Subscription.Handler, p)
		}
	}()
	if s, ok := h.(Sender); ok {
		return s.Send(ctx, m)
	}
	return Response{}, h.(Handler)(ctx, m.Event.Clone())
}

// lookupSubscription returns the subscription from the snapshot. An unknown id
// may be a subscription another instance created since the last refresh,
// so the snapshot is reloaded, but at most once a second: the deliveries
// of a deleted subscription would otherwise cost a reload each.
//
// gone reports that a reload made just now confirmed the subscription does
// not exist; when the subscription is nil and gone is false, its absence is
// unconfirmed and the delivery should be tried again shortly.
func (d *Dispatcher) lookupSubscription(ctx context.Context, id string) (sub *Subscription, gone bool) {
	if s := d.subs.Load().byID[id]; s != nil {
		return s, false
	}
	now := d.now().UnixNano()
	last := d.lastMissReload.Load()
	if now-last < int64(time.Second) || !d.lastMissReload.CompareAndSwap(last, now) {
		return nil, false
	}
	if err := d.ReloadSubscriptions(ctx); err != nil {
		d.log.Warn("subscription reload failed", "error", err)
		return nil, false
	}
	s := d.subs.Load().byID[id]
	return s, s == nil
}

// disable deactivates a subscription whose endpoint said it is gone, or
// kept failing.
func (d *Dispatcher) disable(ctx context.Context, sub *Subscription, reason string, cause *Event) {
	s := sub.Clone()
	s.Disabled = true
	s.DisabledReason = reason
	s.UpdatedAt = d.now().UTC()
	if err := d.store.PutSubscription(ctx, s); err != nil {
		d.log.Error("disabling subscription failed", "subscription", s.ID, "error", err)
		return
	}
	d.log.Warn("subscription disabled", "subscription", s, "reason", reason)
	if err := d.ReloadSubscriptions(ctx); err != nil {
		d.log.Warn("subscription reload failed", "error", err)
	}
	if d.emit {
		// Keyed on the version that was disabled, so workers that saw the
		// same 410 concurrently publish one event between them.
		e := d.deliveryEvent("webhooks/disabled", "disabled:"+s.ID+":"+sub.UpdatedAt.String(), cause, map[string]any{
			"subscription_id": s.ID, "reason": reason,
		})
		if _, err := d.Publish(ctx, e); err != nil {
			d.log.Warn("publishing subscription event failed", "error", err)
		}
	}
}

// encodeBody renders the event in a subscription's payload form; the
// nested form is written into buf, whose bytes the result may share.
func encodeBody(buf *bytes.Buffer, e *Event, form PayloadForm) ([]byte, error) {
	switch form {
	case FormFlat:
		return e.MarshalFlat()
	case FormCloudEvents:
		return e.MarshalCloudEvent()
	}
	buf.Reset()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false) // webhooks want & in URLs, not \u0026
	if err := enc.Encode(e); err != nil {
		return nil, err
	}
	b := buf.Bytes()
	return b[:len(b)-1], nil // Encode appends a newline
}

// bodyBuffers recycles encoding buffers between attempts.
var bodyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func putBodyBuffer(b *bytes.Buffer) {
	if b.Cap() <= 64<<10 { // let unusually large ones go
		bodyBuffers.Put(b)
	}
}

// deliveryEvent builds one of the dispatcher's own events (source
// webhooks) about cause, in the cause's tenant; key makes its id
// deterministic. The id is derived with the cause's tenant too, and
// event_data names the cause by its key (event_tenant_id, set when the
// cause has a tenant, and event_id), so that two tenants' copies of one
// event never share a delivery event.
func (d *Dispatcher) deliveryEvent(ref, key string, cause *Event, extra map[string]any) Event {
	a := actions[ref]
	now := d.now().UTC()
	e := Event{
		ID: nameUUID(deliveryEventNamespace, key), Type: a.Type, Source: SourceWebhooks,
		Ref: ref, Version: EnvelopeVersion, EventName: a.EventName, EventGroup: a.Group,
		OccurredAt: now, TriggeredAt: now, Data: EventData{Extra: extra},
	}
	if cause != nil {
		if cause.TenantID != "" {
			e.ID = nameUUID(deliveryEventNamespace, key, cause.TenantID)
			e.Data.Extra["event_tenant_id"] = cause.TenantID
		}
		e.TenantID = cause.TenantID
		e.CorrelationID = cause.CorrelationID
		e.TestMode = cause.TestMode
		e.Data.Extra["event_id"] = cause.ID
		e.Data.Extra["event_ref"] = cause.Ref
	}
	return e
}

// recorder batches attempt records into RecordAttempts calls (River went
// from about 10k to 46k jobs/s by batching its completions), and publishes
// the delivery events of the records it wrote. Workers hand records over
// a buffered channel, so none of them waits on another.
type recorder struct {
	d    *Dispatcher
	ch   chan pendingRecord
	done chan struct{}
}

type pendingRecord struct {
	rec   AttemptRecord
	claim *Claim
}

// A batch of attempt records holds at most recordBatch records, and waits
// at most recordFlush for more after its first.
const (
	recordBatch = 256
	recordFlush = 2 * time.Millisecond
)

func newRecorder(d *Dispatcher) *recorder {
	return &recorder{d: d, ch: make(chan pendingRecord, 4*recordBatch), done: make(chan struct{})}
}

// add hands a record to the recorder. It blocks only when the recorder is
// that far behind, which slows the workers down instead of growing memory.
func (r *recorder) add(rec AttemptRecord, c *Claim) {
	rec.Attempt.Error = cutString(rec.Attempt.Error, MaxStoredError) // however it was composed
	r.ch <- pendingRecord{rec, c}
}

// close tells the recorder that no more records come; run then writes what
// it holds and returns.
func (r *recorder) close() { close(r.done) }

func (r *recorder) run() {
	batch := make([]pendingRecord, 0, recordBatch)
	for {
		select {
		case p := <-r.ch:
			batch = append(batch[:0], p)
			// Give concurrent workers a moment to join the batch.
			t := time.NewTimer(recordFlush)
		fill:
			for len(batch) < recordBatch {
				select {
				case p := <-r.ch:
					batch = append(batch, p)
				case <-t.C:
					break fill
				case <-r.done:
					break fill
				}
			}
			t.Stop()
			r.write(batch)
			clear(batch) // drop the claims' events for the GC
		case <-r.done:
			// Every worker has stopped: drain what is left.
			for {
				batch = batch[:0]
			drain:
				for len(batch) < recordBatch {
					select {
					case p := <-r.ch:
						batch = append(batch, p)
					default:
						break drain
					}
				}
				if len(batch) == 0 {
					return
				}
				r.write(batch)
			}
		}
	}
}

func (r *recorder) write(batch []pendingRecord) {
	d := r.d
	records := make([]AttemptRecord, len(batch))
	for i := range batch {
		records[i] = batch[i].rec
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	var err error
	for try := 0; ; try++ {
		errs, err = d.store.RecordAttempts(ctx, records)
		if err == nil {
			break
		}
		if try == 5 || ctx.Err() != nil || errors.Is(err, ErrPermanent) {
			d.stats.recordFailures.Add(1)
			d.log.Error("recording attempts failed; their leases will expire and the deliveries will be retried", "records", len(records), "error", err)
			return
		}
		sleepCtx(ctx, time.Duration(50<<try)*time.Millisecond)
	}
	if !d.emit {
		for _, e := range errs {
			if e != nil {
				d.stats.leaseLost.Add(1)
			}
		}
		return
	}
	var events []Event
	for i, e := range errs {
		if e != nil {
			d.stats.leaseLost.Add(1)
			d.log.Warn("attempt outcome discarded: lease lost", "delivery", records[i].Lease.DeliveryID)
			continue
		}
		c := batch[i].claim
		if c == nil || c.Event.Source == SourceWebhooks {
			continue // no events about deliveries of delivery events: no loops
		}
		rec := &records[i]
		var ref string
		switch rec.Outcome {
		case OutcomeSucceeded:
			ref = "webhooks/delivered"
		case OutcomeDead:
			ref = "webhooks/failed"
		default:
			continue
		}
		extra := map[string]any{
			"delivery_id":     c.Delivery.ID,
			"subscription_id": c.Delivery.SubscriptionID,
			"attempts":        rec.Attempt.Number,
		}
		if rec.Attempt.StatusCode != 0 {
			extra["status_code"] = rec.Attempt.StatusCode
		}
		if rec.Attempt.Error != "" {
			extra["error"] = rec.Attempt.Error
		}
		key := ref + ":" + c.Delivery.ID + ":" + strconv.Itoa(rec.Attempt.Number)
		events = append(events, d.deliveryEvent(ref, key, &c.Event, extra))
	}
	if len(events) > 0 {
		if _, err := d.Publish(ctx, events...); err != nil {
			d.log.Warn("publishing delivery events failed", "error", err)
		}
	}
}
