package shipevents

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// tenantScan is one UPS scan, as two tenants' carrier accounts both
// report it when they track the same parcel.
var tenantScan = []byte(`{"trackingNumber":"1Z999AA10123456784","activityStatus":{"type":"D","code":"FS","description":"Delivered"},
  "gmtActivityDate":"20250314","gmtActivityTime":"175800","gmtOffset":"-04.00"}`)

// webhookRequest is what an endpoint saw of one request.
type webhookRequest struct {
	host, webhookID, idempotencyKey string
	tenant, eventID                 string
	verifyErr                       error // of the signature, for requests that carry one
}

// capturingTransport answers every request with 204 (or the status set
// for its host) and keeps what it saw; it stands in for the network, so
// the tests run in a synctest bubble.
type capturingTransport struct {
	status map[string]int // host -> status; default 204
	mu     sync.Mutex
	seen   []webhookRequest
}

func (c *capturingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, err
	}
	var env struct {
		ID       string `json:"id"`
		TenantID string `json:"tenant_id"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, err
	}
	w := webhookRequest{host: r.URL.Host, webhookID: r.Header.Get(HeaderWebhookID),
		idempotencyKey: r.Header.Get(headerIdempotencyKey), tenant: env.TenantID, eventID: env.ID}
	if r.Header.Get(HeaderWebhookSignature) != "" {
		w.verifyErr = Verify(dispatchSecret, r.Header, body, nil)
	}
	c.mu.Lock()
	c.seen = append(c.seen, w)
	c.mu.Unlock()
	status := http.StatusNoContent
	if st, ok := c.status[r.URL.Host]; ok {
		status = st
	}
	return &http.Response{StatusCode: status, Body: http.NoBody, Header: http.Header{}, Request: r}, nil
}

func (c *capturingTransport) requestsTo(host string) []webhookRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []webhookRequest
	for _, w := range c.seen {
		if w.host == host {
			out = append(out, w)
		}
	}
	return out
}

// Two tenants track the same parcel, so Normalize gives each the same scan
// with the same id. Following the README's flow (normalize, set the
// tenant, publish), each tenant's copy is an event of its own: each
// tenant's subscription receives its copy, a re-publish within a tenant is
// a duplicate, and a subscription without a tenant receives both copies
// under distinct webhook-ids, so a receiver deduplicating on webhook-id
// keeps both.
func TestTenantsTrackingTheSameParcel(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		tr := &capturingTransport{}
		d := NewDispatcher(DispatcherConfig{
			Sender:                NewHTTPSender(HTTPSenderConfig{Transport: tr}),
			DisableDeliveryEvents: true,
		})
		for _, s := range []Subscription{
			{ID: "acme-hooks", TenantID: "acme", URL: "https://acme.example/hooks"},
			{ID: "globex-hooks", TenantID: "globex", URL: "https://globex.example/hooks"},
			{ID: "ops", URL: "https://ops.example/hooks"}, // every tenant's events
		} {
			s.EnabledEvents = []string{"shipments"}
			if err := d.Subscribe(ctx, s); err != nil {
				t.Fatal(err)
			}
		}

		publishAs := func(tenant string) []PublishResult {
			t.Helper()
			events, err := Normalize(FormatUPS, tenantScan)
			if err != nil {
				t.Fatal(err)
			}
			for i := range events {
				events[i].TenantID = tenant
			}
			res, err := d.Publish(ctx, events...)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 1 {
				t.Fatalf("publish for %s: %d results, want 1", tenant, len(res))
			}
			return res
		}
		for _, tenant := range []string{"acme", "globex"} {
			res := publishAs(tenant)
			if res[0].Outcome != AppendNew || res[0].Deliveries != 2 {
				t.Errorf("first publish for %s: %v with %d deliveries, want new with 2 (its own subscription and ops)",
					tenant, res[0].Outcome, res[0].Deliveries)
			}
		}
		if res := publishAs("acme"); res[0].Outcome != AppendDuplicate || res[0].Deliveries != 0 {
			t.Errorf("re-publish for acme: %v with %d deliveries, want duplicate with none", res[0].Outcome, res[0].Deliveries)
		}

		done := make(chan error)
		go func() { done <- d.Run(ctx) }()
		time.Sleep(time.Minute) // virtual time
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}

		for host, tenant := range map[string]string{"acme.example": "acme", "globex.example": "globex"} {
			got := tr.requestsTo(host)
			if len(got) != 1 || got[0].tenant != tenant {
				t.Errorf("%s received %+v, want one request with tenant %s's copy", host, got, tenant)
			}
		}
		for _, r := range tr.seen {
			if want := MessageID(EventKey{TenantID: r.tenant, ID: r.eventID}); r.webhookID != want {
				t.Errorf("%s got webhook-id %s for tenant %s's event %s, want MessageID %s", r.host, r.webhookID, r.tenant, r.eventID, want)
			}
		}
		ops := tr.requestsTo("ops.example")
		var tenants, ids []string
		for _, r := range ops {
			tenants = append(tenants, r.tenant)
			ids = append(ids, r.webhookID)
			if r.idempotencyKey != r.webhookID {
				t.Errorf("Idempotency-Key %q differs from webhook-id %q", r.idempotencyKey, r.webhookID)
			}
		}
		slices.Sort(tenants)
		if !slices.Equal(tenants, []string{"acme", "globex"}) {
			t.Errorf("the tenant-less subscription received copies of tenants %v, want [acme globex]", tenants)
		}
		if len(ids) == 2 && ids[0] == ids[1] {
			t.Errorf("the tenant-less subscription received both copies under one webhook-id %s: a receiver deduplicating on it loses one", ids[0])
		}
		if len(ops) == 2 && ops[0].eventID != ops[1].eventID {
			t.Errorf("the two copies have event ids %s and %s, want the scan's one id (the tenant is not part of it)", ops[0].eventID, ops[1].eventID)
		}
	})
}

// tenantSetup is a dispatcher with one subscription per tenant (acme's
// signs its requests), one without a tenant (ops), and both tenants' copies
// of tenantScan published; it returns the copies' keys, acme's first.
func tenantSetup(t *testing.T, cfg DispatcherConfig, tr *capturingTransport) (*Dispatcher, []EventKey) {
	t.Helper()
	ctx := context.Background()
	cfg.Sender = NewHTTPSender(HTTPSenderConfig{Transport: tr})
	d := NewDispatcher(cfg)
	for _, s := range []Subscription{
		{ID: "acme-hooks", TenantID: "acme", URL: "https://acme.example/hooks", Secrets: []string{dispatchSecret}},
		{ID: "globex-hooks", TenantID: "globex", URL: "https://globex.example/hooks"},
		{ID: "ops", URL: "https://ops.example/hooks"},
	} {
		s.EnabledEvents = []string{"shipments"}
		if err := d.Subscribe(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	var keys []EventKey
	for _, tenant := range []string{"acme", "globex"} {
		events, err := Normalize(FormatUPS, tenantScan)
		if err != nil {
			t.Fatal(err)
		}
		events[0].TenantID = tenant
		res, err := d.Publish(ctx, events[0])
		if err != nil {
			t.Fatal(err)
		}
		if res[0].TenantID != tenant || res[0].EventID != events[0].ID {
			t.Errorf("PublishResult names %s/%s, want the event's key %s", res[0].TenantID, res[0].EventID, events[0].Key())
		}
		keys = append(keys, events[0].Key())
	}
	return d, keys
}

// runFor runs d for span of virtual time, until every goroutine of the
// bubble is idle.
func runFor(t *testing.T, d *Dispatcher, span time.Duration) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- d.Run(ctx) }()
	time.Sleep(span)
	synctest.Wait()
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// History, replay and backfill take an event by its key: each tenant's
// copy is found, listed, replayed and backfilled on its own, and the id
// alone names the event without a tenant, which does not exist here.
func TestTenantsHistoryAndReplay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		tr := &capturingTransport{status: map[string]int{"ops.example": http.StatusBadRequest}} // ops dead-letters
		d, keys := tenantSetup(t, DispatcherConfig{DisableDeliveryEvents: true, Retry: RetryPolicy{MaxAttempts: 1}}, tr)
		acme, globex := keys[0], keys[1]
		runFor(t, d, time.Minute)

		for _, k := range keys {
			se, err := d.Event(ctx, k)
			if err != nil {
				t.Fatalf("Event(%s): %v", k, err)
			}
			if se.Event.Key() != k || se.PendingDeliveries != 0 {
				t.Errorf("Event(%s) = %s with %d pending, want that event with none", k, se.Event.Key(), se.PendingDeliveries)
			}
		}
		if _, err := d.Event(ctx, EventKey{ID: acme.ID}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Event of the id without a tenant: %v, want ErrNotFound", err)
		}

		list := func(f DeliveryFilter) []Delivery {
			t.Helper()
			p, err := d.Deliveries(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			return p.Items
		}
		subsOf := func(ds []Delivery) []string {
			var out []string
			for _, x := range ds {
				out = append(out, x.SubscriptionID)
			}
			slices.Sort(out)
			return out
		}
		for _, c := range []struct {
			f    DeliveryFilter
			want []string
		}{
			{DeliveryFilter{TenantID: acme.TenantID, EventID: acme.ID}, []string{"acme-hooks", "ops"}},
			{DeliveryFilter{TenantID: globex.TenantID}, []string{"globex-hooks", "ops"}},
			{DeliveryFilter{EventID: acme.ID}, nil}, // the id alone: the event without a tenant
			{DeliveryFilter{SubscriptionID: "ops"}, []string{"ops", "ops"}},
		} {
			got := list(c.f)
			if !slices.Equal(subsOf(got), c.want) {
				t.Errorf("Deliveries(%+v) to %v, want %v", c.f, subsOf(got), c.want)
			}
			for _, x := range got {
				if x.EventID != acme.ID || (c.f.TenantID != "" && x.TenantID != c.f.TenantID) {
					t.Errorf("Deliveries(%+v) lists delivery of %s", c.f, x.EventKey())
				}
			}
		}

		// ops refused both copies: two dead letters, one per tenant.
		dead := list(DeliveryFilter{SubscriptionID: "ops", State: DeliveryDead})
		if len(dead) != 2 || dead[0].TenantID == dead[1].TenantID {
			t.Fatalf("ops dead letters %+v, want one per tenant", dead)
		}
		tr.status = nil // ops is fixed
		if n, err := d.ReplayDeadLetters(ctx, "ops"); err != nil || n != 2 {
			t.Errorf("ReplayDeadLetters(ops) = %d, %v; want both tenants' dead letters", n, err)
		}
		// Replaying acme's copy requeues its two deliveries, not globex's.
		if n, err := d.ReplayEvent(ctx, acme); err != nil || n != 2 {
			t.Errorf("ReplayEvent(%s) = %d, %v; want 2", acme, n, err)
		}
		if _, err := d.ReplayEvent(ctx, EventKey{TenantID: "initech", ID: acme.ID}); !errors.Is(err, ErrNotFound) {
			t.Errorf("ReplayEvent of a tenant that has no such event: %v, want ErrNotFound", err)
		}
		runFor(t, d, time.Minute)
		if got := len(tr.requestsTo("acme.example")); got != 2 {
			t.Errorf("acme.example received %d requests, want 2 (the replay)", got)
		}
		if got := len(tr.requestsTo("globex.example")); got != 1 {
			t.Errorf("globex.example received %d requests, want 1 (acme's replay is not globex's)", got)
		}
		byTenant := map[string][]string{}
		for _, r := range tr.requestsTo("ops.example") {
			byTenant[r.tenant] = append(byTenant[r.tenant], r.webhookID)
		}
		if len(byTenant["acme"]) != 2 || len(byTenant["globex"]) != 1+1 || byTenant["acme"][0] == byTenant["globex"][0] {
			t.Errorf("ops received webhook-ids %v, want acme's twice more (dead letter, replay) and globex's once more, apart", byTenant)
		}
		for _, r := range tr.requestsTo("acme.example") {
			if r.verifyErr != nil {
				t.Errorf("acme's signed request does not verify: %v", r.verifyErr)
			}
		}

		// Journey: one step per tenant's shipment, none without a tenant.
		for _, k := range keys {
			sk := ShipmentKey{TenantID: k.TenantID, Carrier: "ups", TrackingNumber: "1Z999AA10123456784"}
			j, err := d.Journey(ctx, sk)
			if err != nil {
				t.Fatalf("Journey(%s): %v", sk, err)
			}
			if len(j.Steps) != 1 || j.Steps[0].EventID != k.ID || !j.Steps[0].Current || j.Current == nil || j.Current.Status != StatusDelivered {
				t.Errorf("Journey(%s) = %+v, want one current DELIVERED step", sk, j)
			}
		}
		if _, err := d.Journey(ctx, ShipmentKey{Carrier: "ups", TrackingNumber: "1Z999AA10123456784"}); !errors.Is(err, ErrNotFound) {
			t.Errorf("Journey without a tenant: %v, want ErrNotFound", err)
		}

		// Backfill gives a new subscription without a tenant both copies,
		// once; one of acme's only acme's.
		for _, s := range []Subscription{{ID: "late"}, {ID: "late-acme", TenantID: "acme"}} {
			s.URL, s.EnabledEvents = "https://late.example/hooks", []string{"shipments"}
			if err := d.Subscribe(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		for sub, want := range map[string]int{"late": 2, "late-acme": 1} {
			if n, err := d.Backfill(ctx, sub, EventFilter{}); err != nil || n != want {
				t.Errorf("Backfill(%s) = %d, %v; want %d", sub, n, err, want)
			}
			if n, err := d.Backfill(ctx, sub, EventFilter{}); err != nil || n != 0 {
				t.Errorf("Backfill(%s) again = %d, %v; want 0", sub, n, err)
			}
		}
		for _, x := range list(DeliveryFilter{SubscriptionID: "late"}) {
			if x.ID != DeliveryID(x.EventKey(), "late") {
				t.Errorf("backfilled delivery %s of %s, want id %s", x.ID, x.EventKey(), DeliveryID(x.EventKey(), "late"))
			}
		}
	})
}

// The dispatcher's own events about a delivery are in the delivered
// event's tenant, and their ids and event_data name that tenant: the two
// tenants' copies of one scan get two webhooks/delivered events to a
// subscription without a tenant, and an event without a tenant keeps the
// delivery-event id it always had.
func TestTenantDeliveryEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		tr := &capturingTransport{}
		var mu sync.Mutex
		var audit []Event
		d, keys := tenantSetup(t, DispatcherConfig{}, tr)
		d.Handle("audit", func(ctx context.Context, e Event) error {
			mu.Lock()
			defer mu.Unlock()
			audit = append(audit, e)
			return nil
		})
		if err := d.Subscribe(ctx, Subscription{ID: "audit", Handler: "audit", EnabledEvents: []string{"webhooks"}}); err != nil {
			t.Fatal(err)
		}
		events, err := Normalize(FormatUPS, tenantScan) // a third copy, without a tenant
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Publish(ctx, events...); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, events[0].Key())
		runFor(t, d, time.Minute)

		mu.Lock()
		defer mu.Unlock()
		seen := map[EventKey]bool{}
		perTenant := map[string]int{}
		for _, e := range audit {
			if e.Ref != "webhooks/delivered" {
				t.Errorf("audit got %s, want only webhooks/delivered", e.Ref)
				continue
			}
			if seen[e.Key()] {
				t.Errorf("two delivery events share the key %s", e.Key())
			}
			seen[e.Key()] = true
			x := e.Data.Extra
			perTenant[e.TenantID]++
			if x["event_id"] != keys[0].ID {
				t.Errorf("delivery event names event %v, want %s", x["event_id"], keys[0].ID)
			}
			tenant, _ := x["event_tenant_id"].(string)
			if tenant != e.TenantID {
				t.Errorf("delivery event of tenant %q names the cause's tenant %q", e.TenantID, tenant)
			}
			cause := EventKey{TenantID: e.TenantID, ID: keys[0].ID}
			del, _ := x["delivery_id"].(string)
			sub, _ := x["subscription_id"].(string)
			if del != DeliveryID(cause, sub) {
				t.Errorf("delivery event names delivery %s, want %s of %s", del, DeliveryID(cause, sub), cause)
			}
			if e.TenantID == "" {
				if want := nameUUID(deliveryEventNamespace, "webhooks/delivered:"+del+":1"); e.ID != want {
					t.Errorf("delivery event of an event without a tenant has id %s, want %s as before", e.ID, want)
				}
				if _, ok := x["event_tenant_id"]; ok {
					t.Errorf("delivery event of an event without a tenant has event_tenant_id %v", x["event_tenant_id"])
				}
			}
		}
		// acme: acme-hooks and ops; globex: globex-hooks and ops; none: ops.
		if want := map[string]int{"acme": 2, "globex": 2, "": 1}; !maps.Equal(perTenant, want) {
			t.Errorf("delivery events per tenant %v, want %v", perTenant, want)
		}

		// webhooks/disabled is keyed on the subscription, not a delivery:
		// the tenant of its cause still makes it another event.
		ids := map[string]string{}
		for _, k := range keys {
			cause := Event{ID: k.ID, TenantID: k.TenantID, Ref: "shipments/delivered/SUCCESSFULLY_DELIVERED"}
			e := d.deliveryEvent("webhooks/disabled", "disabled:ops:v1", &cause, map[string]any{"subscription_id": "ops"})
			if prev, dup := ids[e.ID]; dup {
				t.Errorf("webhooks/disabled events caused by tenants %q and %q share the id %s", prev, k.TenantID, e.ID)
			}
			ids[e.ID] = k.TenantID
			if e.TenantID != k.TenantID {
				t.Errorf("webhooks/disabled of a cause in tenant %q is in tenant %q", k.TenantID, e.TenantID)
			}
		}
	})
}
