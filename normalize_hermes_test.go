package shipevents

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestHermesFields(t *testing.T) {
	n := aggNormalizer(t,
		aggRow("hermes", "event_code", "0000", StatusBooked, "INFO_RECEIVED"),
		aggRow("hermes", "event_code", "3731", StatusFailedDelivery, "RECIPIENT_NOT_AVAILABLE"),
	)
	raw := `{"shipmentinfo":[{"shipmentID":" H1003270098765432109 ","result":{"code":"i001","message":"Success"},
		"deliveryForecast":{"fixed":false,"date":"2025-03-13","timeSlot":{"from":"10:00","to":"14:00"}},
		"status":[
		{"timestamp":"2025-03-12T13:37:10+01:00","code":"3731","description":"The recipient was not present.",
		 "scanningUnit":{"name":"Hermes Depot Leipzig","city":"Leipzig","countryCode":"DEU"}},
		{"timestamp":"2025-03-11T09:05:41+01:00","code":"0000"},
		{"timestamp":"2025-03-12T07:45:29+01:00","code":"3000"}]}]}`
	ev, err := n.Normalize(FormatDetect, []byte(raw))
	require.NoError(t, err)
	require.Len(t, ev, 3)
	aggValid(t, ev)
	notified, tour, notHome := ev[0], ev[1], ev[2]
	assert.Equal(t, "hermes", notified.Carrier)
	assert.Equal(t, "H1003270098765432109", notified.TrackingNumber)
	assert.Equal(t, &CarrierStatus{Code: "0000", Namespace: "event_code"}, notified.CarrierStatus, "leading zeros kept")
	assert.Equal(t, StatusBooked, notified.Status)
	assert.Nil(t, notified.Data.Location)

	assert.Equal(t, StatusUnknown, tour.Status, "3000 is not in this test's table")

	assert.Equal(t, "RECIPIENT_NOT_AVAILABLE", notHome.EventName)
	assert.Equal(t, mustTime(t, "2025-03-12T12:37:10Z"), notHome.OccurredAt)
	assert.Equal(t, TimeExplicit, notHome.Data.OccurredAtSource)
	assert.Equal(t, "2025-03-12T13:37:10+01:00", notHome.Data.CarrierTime)
	assert.Equal(t, &Location{City: "Leipzig", Country: "DEU", Facility: "Hermes Depot Leipzig"}, notHome.Data.Location)
	assert.Equal(t, "The recipient was not present.", notHome.Data.Description)
	require.NotNil(t, notHome.Data.EstimatedDelivery)
	assert.Equal(t, mustTime(t, "2025-03-13T00:00:00Z"), *notHome.Data.EstimatedDelivery)
}

func TestHermesSkipsUnknownShipments(t *testing.T) {
	n := aggNormalizer(t)
	raw := `{"shipmentinfo":[
		{"shipmentID":"H1","result":{"code":"e001","message":"There is no information for the entered value."}},
		{"shipmentID":"H2","status":[]},
		{"shipmentID":"H3","status":[{"timestamp":"2025-03-11T09:05:41+01:00","code":"0000"}]}]}`
	ev, err := n.Normalize(FormatHermes, []byte(raw))
	require.NoError(t, err)
	require.Len(t, ev, 1)
	assert.Equal(t, "H3", ev[0].TrackingNumber)
}

func TestHermesErrors(t *testing.T) {
	n := aggNormalizer(t)
	tests := []struct {
		name, raw string
		want      []string
	}{
		{"no information", `{"shipmentinfo":[{"shipmentID":"H1","result":{"code":"e001","message":"There is no information for the entered value."}}]}`,
			[]string{"no shipment with status events", "e001 There is no information"}},
		{"empty", `{"shipmentinfo":[]}`, []string{"no shipment with status events"}},
		{"missing number", `{"shipmentinfo":[{"status":[{"timestamp":"2025-03-11T09:05:41+01:00","code":"0000"}]}]}`,
			[]string{"shipmentinfo[0].shipmentID", "missing tracking number"}},
		{"no timestamp", `{"shipmentinfo":[{"shipmentID":"H1","status":[{"code":"0000"}]}]}`,
			[]string{"shipmentinfo[0].status[0]", "no timestamp"}},
		{"bad timestamp", `{"shipmentinfo":[{"shipmentID":"H1","status":[{"code":"0000","timestamp":"11.03.2025"}]}]}`,
			[]string{"status[0]", "11.03.2025"}},
		{"code as a number", `{"shipmentinfo":[{"shipmentID":"H1","status":[{"code":0,"timestamp":"2025-03-11T09:05:41+01:00"}]}]}`,
			[]string{"status[0].code"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := n.Normalize(FormatHermes, []byte(tc.raw))
			require.Error(t, err)
			assert.Nil(t, ev)
			assert.True(t, errors.Is(err, ErrInvalidPayload), "%v", err)
			var pe *PayloadError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, FormatHermes, pe.Format)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func FuzzNormalizeHermes(f *testing.F) { fuzzNormalize(f, FormatHermes) }
