package shipevents

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/shipevents/shipevents/internal/jsondecode"
)

// eventDataFields are the typed keys of event_data; Extra never overrides them.
var eventDataFields = map[string]bool{
	"description": true, "location": true, "signed_by": true, "estimated_delivery": true,
	"carrier_time": true, "occurred_at_source": true, "service": true, "shipment_id": true,
	"order_id": true, "return_id": true, "claim_id": true, "previous_status": true, "reason": true,
}

type eventDataAlias EventData

// MarshalJSON implements json.Marshaler: the typed fields, then the Extra
// keys in sorted order.
func (d EventData) MarshalJSON() ([]byte, error) {
	base, err := json.Marshal(eventDataAlias(d))
	if err != nil {
		return nil, err
	}
	if len(d.Extra) == 0 {
		return base, nil
	}
	keys := make([]string, 0, len(d.Extra))
	for k := range d.Extra {
		if !eventDataFields[k] {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return base, nil
	}
	slices.Sort(keys)
	buf := bytes.NewBuffer(make([]byte, 0, len(base)+32*len(keys)))
	buf.Write(base[:len(base)-1])
	first := len(base) == 2 // "{}"
	for _, k := range keys {
		v, err := json.Marshal(d.Extra[k])
		if err != nil {
			return nil, fmt.Errorf("event_data %s: %w", quote(k), err)
		}
		if !first {
			buf.WriteByte(',')
		}
		first = false
		kb, _ := json.Marshal(k)
		buf.Write(kb)
		buf.WriteByte(':')
		buf.Write(v)
	}
	buf.WriteByte('}')
	return buf.Bytes(), nil
}

// UnmarshalJSON implements json.Unmarshaler: typed keys fill the typed
// fields, every other key lands in Extra.
func (d *EventData) UnmarshalJSON(b []byte) error {
	var a eventDataAlias
	if err := decodeJSON(b, &a); err != nil {
		return err
	}
	extra, err := eventDataExtra(b)
	if err != nil {
		return err
	}
	a.Extra = extra
	*d = EventData(a)
	return nil
}

// eventDataExtra decodes the keys of the event_data object b that are not
// typed keys, as json.Unmarshal into a map[string]any would (a repeated
// key keeps its last value); nil when there are none. b has been decoded
// once already, so it is valid JSON.
func eventDataExtra(b []byte) (map[string]any, error) {
	var extra map[string]any
	err := jsondecode.Members(b, func(key, value []byte) error {
		if eventDataFields[string(key)] {
			return nil
		}
		var v any
		if err := json.Unmarshal(value, &v); err != nil {
			return err
		}
		if extra == nil {
			extra = make(map[string]any)
		}
		extra[string(key)] = v
		return nil
	})
	return extra, err
}

// MarshalFlat returns the flat form of e: every event_data key lifted to the
// root (event_data.tracking_number becomes tracking_number) and every
// nested object flattened with "_" (carrier_status.code becomes
// carrier_status_code, metadata.order becomes metadata_order), for tools
// that only take flat key/value payloads. A root key wins over a lifted
// event_data key of the same name. Arrays stay arrays.
func (e *Event) MarshalFlat() ([]byte, error) {
	nested, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(nested))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	flat := make(map[string]any, len(m)+8)
	data, _ := m["event_data"].(map[string]any)
	delete(m, "event_data")
	for k, v := range m {
		flattenInto(flat, k, v)
	}
	for k, v := range data {
		if _, taken := flat[k]; taken {
			continue
		}
		flattenInto(flat, k, v)
	}
	return json.Marshal(flat) // maps marshal with sorted keys: deterministic
}

func flattenInto(dst map[string]any, key string, v any) {
	obj, ok := v.(map[string]any)
	if !ok {
		if _, taken := dst[key]; !taken {
			dst[key] = v
		}
		return
	}
	for k, inner := range obj {
		flattenInto(dst, key+"_"+k, inner)
	}
}

// CloudEvents attributes used by [Event.MarshalCloudEvent].
const (
	CloudEventsSpecVersion = "1.0"
	cloudEventTypePrefix   = "dev.shipevents."
	cloudEventSourcePrefix = "/shipevents/"
)

// cloudEvent is the CloudEvents 1.0 structured-mode JSON form.
type cloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            *time.Time      `json:"time,omitempty"`
	DataContentType string          `json:"datacontenttype"`
	DataSchema      string          `json:"dataschema,omitempty"`
	Data            json.RawMessage `json:"data"`
	TenantID        string          `json:"tenantid,omitempty"`
	ShipEventsVer   string          `json:"shipeventsversion,omitempty"`
}

// MarshalCloudEvent returns e as a CloudEvents 1.0 event in structured JSON
// mode: id is the event id, source is /shipevents/{source}, type is
// dev.shipevents.{type}, subject is the ref, time is occurred_at, and data
// is the nested envelope. The extension attributes tenantid and
// shipeventsversion carry the tenant and envelope version.
func (e *Event) MarshalCloudEvent() ([]byte, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	ce := cloudEvent{
		SpecVersion:     CloudEventsSpecVersion,
		ID:              e.ID,
		Source:          cloudEventSourcePrefix + e.Source,
		Type:            cloudEventTypePrefix + e.Type,
		Subject:         e.Ref,
		DataContentType: "application/json",
		Data:            data,
		TenantID:        e.TenantID,
		ShipEventsVer:   strconv.Itoa(e.Version),
	}
	if !e.OccurredAt.IsZero() {
		t := e.OccurredAt.UTC()
		ce.Time = &t
	}
	return json.Marshal(ce)
}

// UnmarshalCloudEvent parses a CloudEvents structured-JSON event produced
// by [Event.MarshalCloudEvent] back into an Event. It returns an error
// wrapping [ErrInvalidPayload] when the document is not a CloudEvents 1.0
// event carrying a shipevents envelope.
func UnmarshalCloudEvent(b []byte) (Event, error) {
	var ce cloudEvent
	if err := json.Unmarshal(b, &ce); err != nil {
		return Event{}, fmt.Errorf("%w: cloudevent: %v", ErrInvalidPayload, err)
	}
	if ce.SpecVersion != CloudEventsSpecVersion {
		return Event{}, fmt.Errorf("%w: cloudevent: specversion %s, want %q", ErrInvalidPayload, quote(ce.SpecVersion), CloudEventsSpecVersion)
	}
	var e Event
	if err := json.Unmarshal(ce.Data, &e); err != nil {
		return Event{}, fmt.Errorf("%w: cloudevent data: %v", ErrInvalidPayload, err)
	}
	if e.ID != ce.ID {
		return Event{}, fmt.Errorf("%w: cloudevent id %s differs from envelope id %s", ErrInvalidPayload, quote(ce.ID), quote(e.ID))
	}
	return e, nil
}
