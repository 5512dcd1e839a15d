package shipevents

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

func sampleEvent() Event {
	eta := time.Date(2026, 3, 15, 0, 0, 0, 0, time.UTC)
	e := shipmentEvent("0c7f3f0e-8a55-5d7b-9a53-3f6a8f0f0c11", "1Z999AA10123456784", StatusDelivered, time.Date(2026, 3, 14, 17, 58, 0, 0, time.UTC))
	e.TriggeredAt = time.Date(2026, 3, 14, 18, 0, 0, 0, time.UTC)
	e.CarrierStatus = &CarrierStatus{Code: "FS", Type: "D", Description: "DELIVERED", Namespace: "type_code"}
	e.TenantID = "shop-42"
	e.CorrelationID = "order-1001"
	e.Data = EventData{
		Description: "Delivered, front door", SignedBy: "J SMITH", EstimatedDelivery: &eta,
		Location: &Location{City: "Atlanta", State: "GA", PostalCode: "30303", Country: "US"},
		Extra:    map[string]any{"tracking_number": "shadowed", "proof": map[string]any{"photo": true}},
	}
	e.Context = map[string]any{"order": map[string]any{"id": "1001"}}
	e.Metadata = map[string]string{"channel": "web"}
	return e
}

func TestEnvelopeKeys(t *testing.T) {
	e := sampleEvent()
	b, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "type", "source", "ref", "version", "event_name", "event_group", "phase", "direction",
		"status", "carrier", "tracking_number", "carrier_status", "occurred_at", "triggered_at", "tenant_id",
		"correlation_id", "event_data", "context", "metadata"} {
		if _, ok := m[k]; !ok {
			t.Errorf("envelope lacks key %q", k)
		}
	}
	for _, k := range []string{"transaction_id", "test_mode"} {
		if _, ok := m[k]; ok {
			t.Errorf("empty optional key %q is not omitted", k)
		}
	}
	if m["version"] != float64(1) || m["occurred_at"] != "2026-03-14T17:58:00Z" || m["ref"] != "shipments/delivered/SUCCESSFULLY_DELIVERED" {
		t.Errorf("unexpected values: version=%v occurred_at=%v ref=%v", m["version"], m["occurred_at"], m["ref"])
	}
	cs := m["carrier_status"].(map[string]any)
	if cs["code"] != "FS" || cs["type"] != "D" {
		t.Errorf("carrier_status = %v", cs)
	}
	data := m["event_data"].(map[string]any)
	if data["signed_by"] != "J SMITH" || data["tracking_number"] != "shadowed" {
		t.Errorf("event_data = %v", data)
	}
}

func TestEnvelopeRoundTrip(t *testing.T) {
	e := sampleEvent()
	b, err := json.Marshal(&e)
	if err != nil {
		t.Fatal(err)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalizeForCompare(e), normalizeForCompare(back)) {
		t.Errorf("round trip changed the event:\n got %+v\nwant %+v", back, e)
	}
	if err := back.Validate(); err != nil {
		t.Error(err)
	}
}

// normalizeForCompare re-encodes Extra and Context through JSON so numbers
// compare as float64, as they come back from a decode.
func normalizeForCompare(e Event) Event {
	e = e.Clone()
	rt := func(m map[string]any) map[string]any {
		if m == nil {
			return nil
		}
		b, _ := json.Marshal(m)
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		return out
	}
	e.Data.Extra = rt(e.Data.Extra)
	e.Context = rt(e.Context)
	return e
}

func TestMarshalFlat(t *testing.T) {
	e := sampleEvent()
	b, err := e.MarshalFlat()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"signed_by":           "J SMITH",
		"description":         "Delivered, front door",
		"location_city":       "Atlanta",
		"carrier_status_code": "FS",
		"metadata_channel":    "web",
		"context_order_id":    "1001",
		"proof_photo":         true,
		"tracking_number":     "1Z999AA10123456784", // the root wins over event_data
		"status":              "DELIVERED",
		"estimated_delivery":  "2026-03-15T00:00:00Z",
		"ref":                 "shipments/delivered/SUCCESSFULLY_DELIVERED",
	}
	for k, v := range want {
		if m[k] != v {
			t.Errorf("flat[%q] = %v, want %v", k, m[k], v)
		}
	}
	for k, v := range m {
		switch v.(type) {
		case map[string]any:
			t.Errorf("flat form has a nested object at %q", k)
		}
	}
	if _, ok := m["event_data"]; ok {
		t.Error("flat form still has event_data")
	}
}

func TestCloudEventRoundTrip(t *testing.T) {
	e := sampleEvent()
	b, err := e.MarshalCloudEvent()
	if err != nil {
		t.Fatal(err)
	}
	var ce map[string]any
	if err := json.Unmarshal(b, &ce); err != nil {
		t.Fatal(err)
	}
	if ce["specversion"] != "1.0" || ce["id"] != e.ID || ce["type"] != "dev.shipevents.tracking.updated" ||
		ce["source"] != "/shipevents/shipments" || ce["subject"] != e.Ref || ce["time"] != "2026-03-14T17:58:00Z" {
		t.Errorf("cloudevent attributes = %v", ce)
	}
	back, err := UnmarshalCloudEvent(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalizeForCompare(e), normalizeForCompare(back)) {
		t.Errorf("cloudevent round trip changed the event")
	}
	if _, err := UnmarshalCloudEvent([]byte(`{"specversion":"0.3","id":"x","data":{}}`)); err == nil {
		t.Error("accepted specversion 0.3")
	}
}

func TestValidateRejects(t *testing.T) {
	base := sampleEvent()
	tests := map[string]func(*Event){
		"no id":            func(e *Event) { e.ID = "" },
		"bad version":      func(e *Event) { e.Version = 2 },
		"unknown source":   func(e *Event) { e.Source = "parcels" },
		"ref/source":       func(e *Event) { e.Ref = "claims/created" },
		"unknown status":   func(e *Event) { e.Status = "SHIPPED" },
		"phase mismatch":   func(e *Event) { e.Phase = PhaseInTransit },
		"name not in list": func(e *Event) { e.EventName = "TELEPORTED" },
		"name/status":      func(e *Event) { e.EventName = "IN_TRANSIT" },
		"wrong group":      func(e *Event) { e.EventGroup = "return_delivered" },
		"zero occurred_at": func(e *Event) { e.OccurredAt = time.Time{} },
		"bad direction":    func(e *Event) { e.Direction = "sideways" },
	}
	for name, mutate := range tests {
		e := base.Clone()
		mutate(&e)
		if err := e.Validate(); err == nil {
			t.Errorf("%s: Validate() = nil", name)
		}
	}
	if err := base.Validate(); err != nil {
		t.Errorf("valid event rejected: %v", err)
	}
}

func TestCloneIsDeep(t *testing.T) {
	e := sampleEvent()
	c := e.Clone()
	c.Metadata["channel"] = "pos"
	c.Data.Location.City = "Boston"
	c.Data.Extra["proof"].(map[string]any)["photo"] = false
	c.CarrierStatus.Code = "XX"
	if e.Metadata["channel"] != "web" || e.Data.Location.City != "Atlanta" || e.Data.Extra["proof"].(map[string]any)["photo"] != true || e.CarrierStatus.Code != "FS" {
		t.Error("Clone shares state with the original")
	}
}
