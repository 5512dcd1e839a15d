package shipevents

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func FuzzNormalizeShipEngine(f *testing.F) { fuzzNormalize(f, FormatShipEngine) }

func shipengineNormalizer(t *testing.T) *Normalizer {
	t.Helper()
	m, err := NewMapper(
		Row{Carrier: "shipengine", Namespace: "status_detail_code", Code: "HUB_SCAN_IN", Status: StatusInTransit, EventName: "ARRIVED_AT_FACILITY"},
		Row{Carrier: "shipengine", Namespace: "status_detail_code", Code: "CARRIER_STATUS_NOT_MAPPED", Status: StatusUnknown, EventName: "UNMAPPED_STATUS"},
		Row{Carrier: "shipengine", Namespace: "status_detail_code", Code: "POST_TRANSIT_STATUS", Status: StatusInTransit, EventName: "STATUS_UPDATE"},
		Row{Carrier: "shipengine", Namespace: "status_code", Code: "IT", Status: StatusInTransit, EventName: "IN_TRANSIT"},
		Row{Carrier: "shipengine", Namespace: "status_code", Code: "DE", Status: StatusDelivered, EventName: "SUCCESSFULLY_DELIVERED"},
		Row{Carrier: "shipengine", Namespace: "status_code", Code: "UN", Status: StatusUnknown, EventName: "UNMAPPED_STATUS"},
		Row{Carrier: "ups", Namespace: "type_code", Code: "I:OR", Status: StatusPickedUp, EventName: "PICKED_UP"},
		Row{Carrier: "ups", Namespace: "type_code", Code: "D:FS", Status: StatusDelivered, EventName: "SUCCESSFULLY_DELIVERED"},
		Row{Carrier: "ups", Namespace: "type", Code: "X", Status: StatusOnHold, EventName: "HELD_BY_CARRIER"},
		Row{Carrier: "usps", Namespace: "event_code", Code: "01", Status: StatusDelivered, EventName: "SUCCESSFULLY_DELIVERED"},
	)
	require.NoError(t, err)
	return NewNormalizer(NormalizerConfig{Mapper: m, Now: func() time.Time { return carrierTestNow }})
}

func shipengineTrack(carrier, event string) string {
	return fmt.Sprintf(`{"tracking_number":"T1","status_code":"IT","carrier_code":%q,"events":[{"occurred_at":"2025-06-03T06:44:10Z",%s}]}`, carrier, event)
}

func TestShipEngineLookupOrder(t *testing.T) {
	n := shipengineNormalizer(t)
	tests := []struct {
		name, carrier, event string
		wantStatus           Status
		wantNamespace        string
		wantRaw              CarrierStatus
	}{
		{"a terminal status beats a non-terminal detail", "ups",
			`"status_code":"DE","status_detail_code":"HUB_SCAN_IN","carrier_status_code":"D","carrier_detail_code":"FS"`,
			StatusDelivered, "status_code", CarrierStatus{Code: "FS", Type: "DE"}},
		{"a known detail decides", "ups",
			`"status_code":"IT","status_detail_code":"HUB_SCAN_IN","carrier_status_code":"D","carrier_detail_code":"FS"`,
			StatusInTransit, "status_detail_code", CarrierStatus{Code: "FS", Type: "IT"}},
		{"unmapped detail gives way to the status", "fedex",
			`"status_code":"IT","status_detail_code":"CARRIER_STATUS_NOT_MAPPED","carrier_status_code":"AR"`,
			StatusInTransit, "status_code", CarrierStatus{Code: "AR", Type: "IT"}},
		{"nothing known by ShipEngine: UPS type and code", "ups",
			`"status_code":"UN","status_detail_code":"CARRIER_STATUS_NOT_MAPPED","carrier_status_code":"I","carrier_detail_code":"OR"`,
			StatusPickedUp, "type_code", CarrierStatus{Code: "OR", Type: "UN"}},
		{"then the UPS type alone", "ups",
			`"status_code":"","carrier_status_code":"X","carrier_detail_code":"ZZ"`,
			StatusOnHold, "type", CarrierStatus{Code: "ZZ"}},
		{"USPS event code through stamps_com", "stamps_com",
			`"status_code":"UN","carrier_status_code":"01"`,
			StatusDelivered, "event_code", CarrierStatus{Code: "01", Type: "UN"}},
		{"event_code when carrier_status_code is missing", "stamps_com",
			`"event_code":"01"`,
			StatusDelivered, "event_code", CarrierStatus{Code: "01"}},
		{"no fallback for other carriers", "fedex",
			`"status_code":"UN","carrier_status_code":"DL"`,
			StatusUnknown, "status_code", CarrierStatus{Code: "DL", Type: "UN"}},
		{"a known ShipEngine status is not overridden by the carrier's", "ups",
			`"status_code":"IT","carrier_status_code":"D","carrier_detail_code":"FS"`,
			StatusInTransit, "status_code", CarrierStatus{Code: "FS", Type: "IT"}},
		{"ShipEngine's own code when the carrier's is missing", "ups",
			`"status_code":"IT","status_detail_code":"HUB_SCAN_IN"`,
			StatusInTransit, "status_detail_code", CarrierStatus{Code: "HUB_SCAN_IN"}},
		{"nothing at all", "ups", `"description":"?"`, StatusUnknown, "", CarrierStatus{Code: "", Description: "?"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := n.Normalize(FormatDetect, []byte(shipengineTrack(tc.carrier, tc.event)))
			require.NoError(t, err)
			require.Len(t, ev, 1)
			e := ev[0]
			assert.Equal(t, tc.wantStatus, e.Status)
			want := tc.wantRaw
			want.Namespace = tc.wantNamespace
			if want == (CarrierStatus{}) {
				assert.Nil(t, e.CarrierStatus)
			} else {
				assert.Equal(t, &want, e.CarrierStatus)
			}
			assert.NoError(t, e.Validate())
		})
	}
}

func TestShipEngineWebhookMatchesTrackResponse(t *testing.T) {
	track := `{"tracking_number":"9400111899562941837265","status_code":"DE","carrier_code":"stamps_com",
		"estimated_delivery_date":"2025-03-13T00:00:00","events":[
		{"occurred_at":"2025-03-13T15:41:00Z","carrier_occurred_at":"2025-03-13T10:41:00","description":"Delivered, In/At Mailbox",
		 "city_locality":"COLUMBUS","state_province":"OH","postal_code":"43215","country_code":"","signer":"M SMITH",
		 "event_code":"01","status_code":"DE","status_detail_code":"DELIVERED","carrier_status_code":"01",
		 "carrier_status_description":"Delivered, In/At Mailbox"},
		{"occurred_at":"2025-03-13T11:12:00Z","event_code":"OF","status_code":"IT","carrier_status_code":"OF","signer":"NOT THIS ONE"}]}`
	n := goldenNormalizer()
	bare, err := n.Normalize(FormatDetect, []byte(track))
	require.NoError(t, err)
	hook, err := n.Normalize(FormatDetect, []byte(`{"resource_url":"https://api.shipengine.com/v1/tracking?carrier_code=stamps_com&tracking_number=9400111899562941837265",
		"resource_type":"API_TRACK","data":`+track+`}`))
	require.NoError(t, err)
	assert.Equal(t, bare, hook)

	require.Len(t, bare, 2)
	ofd, dl := bare[0], bare[1]
	assert.Equal(t, "usps", dl.Carrier, "stamps_com is USPS")
	assert.Equal(t, "stamps_com", dl.Data.Extra["shipengine_carrier_code"])
	assert.Equal(t, "DELIVERED", dl.Data.Extra["shipengine_status_detail_code"])
	assert.Equal(t, "M SMITH", dl.Data.SignedBy)
	assert.Empty(t, ofd.Data.SignedBy, "a signer only on the delivery")
	assert.Equal(t, &Location{City: "COLUMBUS", State: "OH", PostalCode: "43215"}, dl.Data.Location)
	assert.Equal(t, "2025-03-13T10:41:00", dl.Data.CarrierTime, "the local time is kept")
	assert.Equal(t, TimeExplicit, dl.Data.OccurredAtSource)
	require.NotNil(t, dl.Data.EstimatedDelivery, "a zone-less estimate is still read")
	assert.Equal(t, mustTime(t, "2025-03-13T00:00:00Z"), *dl.Data.EstimatedDelivery)
}

func TestShipEngineTimes(t *testing.T) {
	n := shipengineNormalizer(t)
	ev, err := n.Normalize(FormatShipEngine, []byte(shipengineTrack("ups", `"carrier_occurred_at":"2025-06-03T01:44:10","status_code":"IT"`)))
	require.NoError(t, err)
	assert.Equal(t, mustTime(t, "2025-06-03T06:44:10Z"), ev[0].OccurredAt, "occurred_at wins")
	assert.Equal(t, "2025-06-03T01:44:10", ev[0].Data.CarrierTime)

	raw := `{"tracking_number":"T1","carrier_code":"ups","events":[{"carrier_occurred_at":"2025-06-03T01:44:10","status_code":"IT"}]}`
	ev, err = n.Normalize(FormatShipEngine, []byte(raw))
	require.NoError(t, err)
	assert.Equal(t, mustTime(t, "2025-06-03T01:44:10Z"), ev[0].OccurredAt)
	assert.Equal(t, TimeAssumedUTC, ev[0].Data.OccurredAtSource, "local time without occurred_at")

	raw = `{"tracking_number":"T1","events":[{"status_code":"IT"}]}`
	ev, err = n.Normalize(FormatShipEngine, []byte(raw))
	assert.Nil(t, ev)
	require.ErrorIs(t, err, ErrInvalidPayload)
	assert.Contains(t, err.Error(), "neither occurred_at nor carrier_occurred_at")

	// Without carrier_code the events are ShipEngine's own.
	ev, err = n.Normalize(FormatShipEngine, []byte(`{"tracking_number":"T1","events":[{"occurred_at":"2025-06-03T06:44:10Z","status_code":"IT"}]}`))
	require.NoError(t, err)
	assert.Equal(t, "shipengine", ev[0].Carrier)
}

func TestShipEngineErrors(t *testing.T) {
	tests := []struct {
		name, raw string
		want      []string
	}{
		{"another webhook", `{"resource_url":"https://api.shipengine.com/v1/batches/se-1","resource_type":"API_BATCH","data":{}}`,
			[]string{"resource_type", `"API_BATCH"`}},
		{"webhook without data", `{"resource_url":"https://api.shipengine.com/v1/tracking?x","resource_type":"API_TRACK"}`,
			[]string{"no data"}},
		{"no tracking number", `{"resource_type":"API_TRACK","data":{"events":[{"occurred_at":"2025-06-03T06:44:10Z"}]}}`,
			[]string{"data.tracking_number", "missing tracking number"}},
		{"no events", `{"tracking_number":"T1","status_code":"NY","events":[]}`, []string{"events", "no tracking events", `"NY"`}},
		{"bad time", `{"tracking_number":"T1","events":[{"occurred_at":"soon"}]}`, []string{"events[0]", "occurred_at", "soon"}},
		{"wrong type", `{"tracking_number":"T1","events":[{"occurred_at":"2025-06-03T06:44:10Z","status_code":4}]}`, []string{"events[0].status_code"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Normalize(FormatShipEngine, []byte(tc.raw))
			require.Error(t, err)
			assert.Nil(t, ev)
			assert.True(t, errors.Is(err, ErrInvalidPayload), "%v", err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// The bare track response is told from Karrio's bare tracker, which has
// carrier_name and no status_code; other webhooks are not tracking.
func TestShipEngineDetection(t *testing.T) {
	for raw, want := range map[string]string{
		`{"resource_url":"u","resource_type":"API_TRACK","data":{}}`:                      FormatShipEngine,
		`{"tracking_number":"T1","status_code":"IT","carrier_code":"ups","events":[]}`:    FormatShipEngine,
		`{"tracking_number":"T1","status_code":"IT","carrier_name":"ups","events":[]}`:    FormatKarrio,
		`{"tracking_number":"T1","status":"in_transit","carrier_name":"ups","events":[]}`: FormatKarrio,
		`{"resource_url":"u","resource_type":"API_BATCH"}`:                                "",
	} {
		got, err := DetectFormat([]byte(raw))
		if want == "" {
			assert.ErrorIs(t, err, ErrUnknownFormat, raw)
			continue
		}
		require.NoError(t, err, raw)
		assert.Equal(t, want, got, raw)
	}
}
