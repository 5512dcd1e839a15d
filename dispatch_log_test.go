package shipevents

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// recordingHandler is a slog.Handler that keeps every record, with its
// attributes (groups flattened with dots).
type recordingHandler struct {
	mu      *sync.Mutex
	records *[]loggedRecord
	attrs   []slog.Attr
}

type loggedRecord struct {
	level slog.Level
	msg   string
	attrs map[string]string
}

func newRecordingHandler() *recordingHandler {
	return &recordingHandler{mu: &sync.Mutex{}, records: &[]loggedRecord{}}
}

func (h *recordingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *recordingHandler) Handle(_ context.Context, r slog.Record) error {
	rec := loggedRecord{level: r.Level, msg: r.Message, attrs: map[string]string{}}
	var add func(prefix string, a slog.Attr)
	add = func(prefix string, a slog.Attr) {
		v := a.Value.Resolve()
		if v.Kind() == slog.KindGroup {
			for _, g := range v.Group() {
				add(prefix+a.Key+".", g)
			}
			return
		}
		rec.attrs[prefix+a.Key] = v.String()
	}
	for _, a := range h.attrs {
		add("", a)
	}
	r.Attrs(func(a slog.Attr) bool { add("", a); return true })
	h.mu.Lock()
	*h.records = append(*h.records, rec)
	h.mu.Unlock()
	return nil
}

func (h *recordingHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr{}, h.attrs...), as...)
	return &c
}

func (h *recordingHandler) WithGroup(string) slog.Handler { return h }

func (h *recordingHandler) all() []loggedRecord {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]loggedRecord(nil), *h.records...)
}

// find returns the records at level with the attribute subscription=sub.
func (h *recordingHandler) find(level slog.Level, sub string) []loggedRecord {
	var out []loggedRecord
	for _, r := range h.all() {
		if r.level == level && r.attrs["subscription"] == sub {
			out = append(out, r)
		}
	}
	return out
}

// TestDispatchLogsFailures: a delivery refused by the address policy, a
// failed attempt and a dead letter are logged at Warn with the
// subscription and delivery ids and the reason; the refusal says how to
// allow a destination; and no log line, error, attempt or webhooks/failed
// event shows a secret or the token in a webhook URL's path.
func TestDispatchLogsFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const pathToken, secret = "XXXXpathtoken", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
		logs := newRecordingHandler()
		d := NewDispatcher(DispatcherConfig{
			Sender: NewHTTPSender(HTTPSenderConfig{}), // the default policy: loopback refused
			Retry:  RetryPolicy{Schedule: []time.Duration{time.Second}, NoJitter: true},
			Logger: slog.New(logs),
		})
		calls := 0
		d.Handle("flaky", func(ctx context.Context, e Event) error {
			if calls++; calls == 1 {
				return errors.New("crm unavailable")
			}
			return nil
		})
		d.Handle("broken", func(ctx context.Context, e Event) error { return Permanent(errors.New("schema mismatch")) })
		ctx := context.Background()
		for _, s := range []Subscription{
			{ID: "refused", URL: "http://127.0.0.1:9/services/T000/B000/" + pathToken + "?token=" + pathToken, Secrets: []string{secret}},
			{ID: "flaky", Handler: "flaky", Secrets: []string{secret}},
			{ID: "broken", Handler: "broken"},
		} {
			s.EnabledEvents = []string{"shipments"}
			if err := d.Subscribe(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		runVirtually(t, d, time.Minute, Subscription{ID: "audit", Handler: "audit", EnabledEvents: []string{"webhooks"}},
			shipmentEvent("e1", "1Z1", StatusInTransit, time.Now()))

		deliveryOf := func(sub string) string { return DeliveryID(EventKey{ID: "e1"}, sub) }
		refused := logs.find(slog.LevelWarn, "refused")
		if len(refused) != 1 {
			t.Fatalf("Warn records for the refused delivery: %+v", refused)
		}
		r := refused[0]
		if r.attrs["delivery"] != deliveryOf("refused") || !strings.Contains(r.msg+r.attrs["reason"], "AddressPolicy") {
			t.Errorf("refusal logged as %+v: want the delivery id and how to allow the destination (AddressPolicy)", r)
		}
		if !strings.Contains(r.attrs["reason"], "127.0.0.1") {
			t.Errorf("refusal reason %q does not name the address", r.attrs["reason"])
		}
		flaky := logs.find(slog.LevelWarn, "flaky")
		if len(flaky) != 1 || flaky[0].attrs["delivery"] != deliveryOf("flaky") || !strings.Contains(flaky[0].attrs["reason"], "crm unavailable") ||
			flaky[0].attrs["next_attempt_at"] == "" {
			t.Errorf("failed attempt logged as %+v", flaky)
		}
		broken := logs.find(slog.LevelWarn, "broken")
		if len(broken) != 1 || broken[0].attrs["delivery"] != deliveryOf("broken") || !strings.Contains(broken[0].attrs["reason"], "schema mismatch") ||
			!strings.Contains(broken[0].msg, "dead letter") {
			t.Errorf("dead letter logged as %+v", broken)
		}

		var texts []string
		for _, rec := range logs.all() {
			texts = append(texts, fmt.Sprint(rec.msg, rec.attrs))
		}
		for _, sub := range []string{"refused", "flaky", "broken"} {
			for _, del := range deliveriesOf(t, d, sub) {
				texts = append(texts, del.LastError)
				atts, err := d.Attempts(ctx, del.ID)
				if err != nil {
					t.Fatal(err)
				}
				for _, a := range atts {
					texts = append(texts, a.Error)
				}
			}
		}
		failed, err := d.Events(ctx, EventFilter{RefPattern: "webhooks/failed"})
		if err != nil || failed.PageInfo.Count != 2 {
			t.Fatalf("webhooks/failed events: %d, %v", failed.PageInfo.Count, err)
		}
		for _, se := range failed.Items {
			texts = append(texts, fmt.Sprint(se.Event.Data.Extra))
		}
		for _, text := range texts {
			if strings.Contains(text, pathToken) || strings.Contains(text, "T000") || strings.Contains(text, strings.TrimPrefix(secret, SecretPrefix)) {
				t.Errorf("a secret or the URL's path shows in %q", text)
			}
		}
	})
}

// TestDispatchLogsDeadLettersWithoutSend: deliveries dead-lettered without
// a send (their subscription was deactivated) are logged too.
func TestDispatchLogsDeadLettersWithoutSend(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := newRecordingHandler()
		d := NewDispatcher(DispatcherConfig{Logger: slog.New(logs), DisableDeliveryEvents: true})
		d.Handle("h", func(ctx context.Context, e Event) error { return nil })
		ctx := context.Background()
		sub := Subscription{ID: "paused", Handler: "h", EnabledEvents: []string{"shipments"}}
		if err := d.Subscribe(ctx, sub); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Publish(ctx, shipmentEvent("e1", "1Z1", StatusInTransit, time.Now())); err != nil {
			t.Fatal(err)
		}
		sub.Disabled, sub.DisabledReason = true, "paused by the operator"
		if err := d.Store().PutSubscription(ctx, sub); err != nil {
			t.Fatal(err)
		}
		runVirtually(t, d, time.Minute, Subscription{ID: "other", Handler: "h", EnabledEvents: []string{"orders"}})
		recs := logs.find(slog.LevelWarn, "paused")
		if len(recs) != 1 || recs[0].attrs["delivery"] != DeliveryID(EventKey{ID: "e1"}, "paused") || !strings.Contains(recs[0].attrs["reason"], "disabled") {
			t.Errorf("dead letter without a send logged as %+v", recs)
		}
	})
}
