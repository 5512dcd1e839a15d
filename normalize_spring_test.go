package shipevents

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func FuzzNormalizeSpring(f *testing.F) { fuzzNormalize(f, FormatSpring) }

func TestSpringTimesAndCodes(t *testing.T) {
	raw := `{"ErrorLevel":0,"Error":"","Shipment":{"TrackingNumber":"LX1NL","Service":"PPTT","Carrier":"PostNL",
		"CarrierTrackingNumber":"3STEST1","ShipperReference":"SO-1","Events":[
		{"Timestamp":1741604520,"DateTime":"2025-03-10 12:02:00","Country":"NL","City":"Hoofddorp","Zip":"2132","Code":0,"Description":"PARCEL CREATED"},
		{"DateTime":"2025-03-11 14:15:00","Country":"NL","Code":20,"Description":"ACCEPTED","CarrierCode":"A01","CarrierDescription":"Item accepted"},
		{"Timestamp":1741964580,"Description":"SCAN","CarrierCode":"X9"}]}}`
	ev, err := Normalize(FormatDetect, []byte(raw))
	require.NoError(t, err)
	require.Len(t, ev, 3)

	created := ev[0]
	assert.Equal(t, "spring", created.Carrier)
	assert.Equal(t, "LX1NL", created.TrackingNumber)
	assert.Equal(t, mustTime(t, "2025-03-10T11:02:00Z"), created.OccurredAt, "the Unix Timestamp, not the local DateTime")
	assert.Equal(t, TimeExplicit, created.Data.OccurredAtSource)
	assert.Equal(t, "2025-03-10 12:02:00", created.Data.CarrierTime)
	assert.Equal(t, &CarrierStatus{Code: "0", Description: "PARCEL CREATED", Namespace: "code"}, created.CarrierStatus, "code 0 is a code")
	assert.Equal(t, StatusBooked, created.Status)
	assert.Equal(t, "PPTT", created.Data.Service)
	assert.Equal(t, map[string]any{"last_mile_carrier": "PostNL", "carrier_tracking_number": "3STEST1", "shipper_reference": "SO-1"}, created.Data.Extra)

	accepted := ev[1]
	assert.Equal(t, mustTime(t, "2025-03-11T14:15:00Z"), accepted.OccurredAt)
	assert.Equal(t, TimeAssumedUTC, accepted.Data.OccurredAtSource, "DateTime has no zone")
	assert.Equal(t, StatusPickedUp, accepted.Status)
	assert.Equal(t, "A01", accepted.Data.Extra["carrier_code"])
	assert.Equal(t, "Item accepted", accepted.Data.Extra["carrier_description"])

	noCode := ev[2]
	assert.Equal(t, &CarrierStatus{Code: "X9", Description: "SCAN"}, noCode.CarrierStatus, "without Code, the carrier's, looked up nowhere")
	assert.Equal(t, StatusUnknown, noCode.Status)
	assert.Equal(t, "1741964580", noCode.Data.CarrierTime)
}

func TestSpringErrors(t *testing.T) {
	tests := []struct {
		name, raw string
		want      []string
	}{
		{"fatal", `{"ErrorLevel":10,"Error":"Tracking number not found"}`, []string{"Shipment", "level 10", `"Tracking number not found"`}},
		{"empty success", `{"ErrorLevel":0,"Error":""}`, []string{"no shipment"}},
		{"no number", `{"ErrorLevel":0,"Shipment":{"Events":[{"Timestamp":1741604520,"Code":0}]}}`, []string{"Shipment.TrackingNumber", "missing tracking number"}},
		{"no events", `{"ErrorLevel":0,"Shipment":{"TrackingNumber":"LX1NL","Events":[]}}`, []string{"Shipment.Events", "no tracking events"}},
		{"no time", `{"ErrorLevel":0,"Shipment":{"TrackingNumber":"LX1NL","Events":[{"Code":100}]}}`, []string{"Shipment.Events[0]", "neither Timestamp nor DateTime"}},
		{"code as text", `{"ErrorLevel":0,"Shipment":{"TrackingNumber":"LX1NL","Events":[{"Timestamp":1741604520,"Code":"100"}]}}`, []string{"Code"}},
		{"absurd time", `{"ErrorLevel":0,"Shipment":{"TrackingNumber":"LX1NL","Events":[{"Timestamp":17,"Code":100}]}}`, []string{"plausible range"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Normalize(FormatSpring, []byte(tc.raw))
			require.Error(t, err)
			assert.Nil(t, ev)
			assert.True(t, errors.Is(err, ErrInvalidPayload), "%v", err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestSpringDetection(t *testing.T) {
	for raw, want := range map[string]string{
		`{"ErrorLevel":10,"Error":"Tracking number not found"}`: FormatSpring,
		`{"ErrorLevel":0,"Shipment":{}}`:                        FormatSpring,
	} {
		got, err := DetectFormat([]byte(raw))
		require.NoError(t, err, raw)
		assert.Equal(t, want, got, raw)
	}
}
