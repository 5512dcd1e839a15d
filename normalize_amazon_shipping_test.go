package shipevents

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func FuzzNormalizeAmazonShipping(f *testing.F) { fuzzNormalize(f, FormatAmazonShipping) }

const amazonShippingResultJSON = `{"trackingId":"TBA300000000001","alternateLegTrackingId":"TBA300000000002",
	"eventHistory":[
		{"eventCode":"Delivered","location":{"city":"Tacoma","stateOrRegion":"WA","countryCode":"US","postalCode":"98402"},
		 "eventTime":"2025-05-09T21:47:12Z","shipmentType":"FORWARD"},
		{"eventCode":"PickupDone","eventTime":"2025-05-07T22:40:00-07:00","shipmentType":"FORWARD"}],
	"promisedDeliveryDate":"2025-05-10T03:00:00Z",
	"summary":{"status":"Delivered","trackingDetailCodes":{"forward":["Signed"],"returns":[]},
		"proofOfDelivery":{"receivedBy":"J. DOE"}}}`

func TestAmazonShippingPayloadAndResultAgree(t *testing.T) {
	n := goldenNormalizer()
	bare, err := n.Normalize(FormatDetect, []byte(amazonShippingResultJSON))
	require.NoError(t, err)
	wrapped, err := n.Normalize(FormatDetect, []byte(`{"payload":`+amazonShippingResultJSON+`}`))
	require.NoError(t, err)
	assert.Equal(t, bare, wrapped, "the response body and its payload give the same events")

	require.Len(t, bare, 2)
	pickup, delivered := bare[0], bare[1]
	assert.Equal(t, "amazon_shipping", pickup.Carrier)
	assert.Equal(t, "TBA300000000001", pickup.TrackingNumber)
	assert.Equal(t, mustTime(t, "2025-05-08T05:40:00Z"), pickup.OccurredAt)
	assert.Equal(t, TimeExplicit, pickup.Data.OccurredAtSource)
	assert.Equal(t, StatusPickedUp, pickup.Status)
	assert.Empty(t, pickup.Data.SignedBy, "receivedBy belongs to the delivery")
	assert.Nil(t, pickup.Data.Location)

	assert.Equal(t, StatusDelivered, delivered.Status)
	assert.Equal(t, &CarrierStatus{Code: "Delivered", Namespace: "event_code"}, delivered.CarrierStatus)
	assert.Equal(t, "J. DOE", delivered.Data.SignedBy)
	assert.Equal(t, &Location{City: "Tacoma", State: "WA", PostalCode: "98402", Country: "US"}, delivered.Data.Location)
	require.NotNil(t, delivered.Data.EstimatedDelivery)
	assert.Equal(t, mustTime(t, "2025-05-10T03:00:00Z"), *delivered.Data.EstimatedDelivery)
	assert.Equal(t, "TBA300000000002", delivered.Data.Extra["alternate_leg_tracking_id"])
	assert.Equal(t, []any{"Signed"}, delivered.Data.Extra["detail_codes"], "on the newest event of the leg")
	assert.NotContains(t, pickup.Data.Extra, "detail_codes")
}

func TestAmazonShippingDetailCodes(t *testing.T) {
	m, err := NewMapper(
		Row{Carrier: "amazon_shipping", Namespace: "event_code", Code: "Delivered", Status: StatusDelivered, EventName: "SUCCESSFULLY_DELIVERED"},
		Row{Carrier: "amazon_shipping", Namespace: "event_code", Code: "Rejected", Status: StatusFailedDelivery, EventName: "DELIVERY_ATTEMPT_FAILED"},
		Row{Carrier: "amazon_shipping", Namespace: "detail_code", Code: "DeliveredToNeighbor", Status: StatusDelivered, EventName: "DELIVERED_TO_NEIGHBOR"},
		Row{Carrier: "amazon_shipping", Namespace: "detail_code", Code: "Damaged", Status: StatusInTransit, EventName: "SHIPMENT_DAMAGED"},
		Row{Carrier: "amazon_shipping", Namespace: "detail_code", Code: "NotRequired", Status: StatusFailedDelivery, EventName: "DELIVERY_REFUSED"},
	)
	require.NoError(t, err)
	n := NewNormalizer(NormalizerConfig{Mapper: m, Now: func() time.Time { return carrierTestNow }})
	tests := []struct {
		name      string
		codes     string
		wantEvent string
	}{
		{"same status refines the name", `["DeliveredToNeighbor"]`, "DELIVERED_TO_NEIGHBOR"},
		{"another status leaves it", `["Damaged"]`, "SUCCESSFULLY_DELIVERED"},
		{"unknown detail leaves it", `["SomethingNew"]`, "SUCCESSFULLY_DELIVERED"},
		{"the first that agrees wins", `["Damaged","DeliveredToNeighbor"]`, "DELIVERED_TO_NEIGHBOR"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := `{"trackingId":"Q1","eventHistory":[
				{"eventCode":"Delivered","eventTime":"2025-02-13T04:09:05Z","shipmentType":"FORWARD"},
				{"eventCode":"Delivered","eventTime":"2025-02-11T04:09:05Z","shipmentType":"FORWARD"}],
				"summary":{"trackingDetailCodes":{"forward":` + tc.codes + `,"returns":[]}}}`
			ev, err := n.Normalize(FormatAmazonShipping, []byte(raw))
			require.NoError(t, err)
			require.Len(t, ev, 2)
			assert.Equal(t, "SUCCESSFULLY_DELIVERED", ev[0].EventName, "only the newest event of the leg")
			assert.Equal(t, tc.wantEvent, ev[1].EventName)
			assert.Equal(t, StatusDelivered, ev[1].Status)
			assert.NoError(t, ev[1].Validate())
		})
	}

	// Each leg's codes go to that leg's newest event; RETURNS events are
	// the return direction.
	raw := `{"trackingId":"Q2","eventHistory":[
		{"eventCode":"Delivered","eventTime":"2025-02-20T10:00:00Z","shipmentType":"RETURNS"},
		{"eventCode":"Rejected","eventTime":"2025-02-17T10:00:00Z","shipmentType":"FORWARD"}],
		"summary":{"trackingDetailCodes":{"forward":["NotRequired"],"returns":["DeliveredToNeighbor"]}}}`
	ev, err := n.Normalize(FormatAmazonShipping, []byte(raw))
	require.NoError(t, err)
	require.Len(t, ev, 2)
	assert.Equal(t, DirectionForward, ev[0].Direction)
	assert.Equal(t, "DELIVERY_REFUSED", ev[0].EventName)
	assert.Equal(t, []any{"NotRequired"}, ev[0].Data.Extra["detail_codes"])
	assert.Equal(t, DirectionReturn, ev[1].Direction)
	assert.Equal(t, "DELIVERED_TO_NEIGHBOR", ev[1].EventName)
	assert.Equal(t, []any{"DeliveredToNeighbor"}, ev[1].Data.Extra["detail_codes"])
}

func TestAmazonShippingErrors(t *testing.T) {
	tests := []struct {
		name, raw string
		want      []string
	}{
		{"error body", `{"errors":[{"code":"InvalidRequest","message":"Request is missing or has invalid parameters","details":"CarrierId is missing in the request"}]}`,
			[]string{"errors[0]", `"InvalidRequest"`, `"CarrierId is missing in the request"`}},
		{"no tracking id", `{"payload":{"eventHistory":[{"eventCode":"Delivered","eventTime":"2025-02-13T04:09:05Z"}]}}`,
			[]string{"payload.trackingId", "missing tracking number"}},
		{"no events", `{"trackingId":"Q1","eventHistory":[],"summary":{"status":"PreTransit"}}`, []string{"eventHistory", "no tracking events"}},
		{"no event code", `{"trackingId":"Q1","eventHistory":[{"eventTime":"2025-02-13T04:09:05Z"}]}`, []string{"eventHistory[0]", "no eventCode"}},
		{"no event time", `{"trackingId":"Q1","eventHistory":[{"eventCode":"Delivered"}]}`, []string{"eventHistory[0]", "no eventTime"}},
		{"bad event time", `{"trackingId":"Q1","eventHistory":[{"eventCode":"Delivered","eventTime":"yesterday"}]}`, []string{"eventTime", "yesterday"}},
		{"wrong type", `{"trackingId":"Q1","eventHistory":[{"eventCode":"Delivered","eventTime":"2025-02-13T04:09:05Z","location":{"postalCode":98402}}]}`,
			[]string{"postalCode"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Normalize(FormatAmazonShipping, []byte(tc.raw))
			require.Error(t, err)
			assert.Nil(t, ev)
			assert.True(t, errors.Is(err, ErrInvalidPayload), "%v", err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestAmazonShippingDetection(t *testing.T) {
	for raw, want := range map[string]string{
		`{"payload":{"trackingId":"Q1","eventHistory":[]}}`:  FormatAmazonShipping,
		`{"trackingId":"Q1","eventHistory":[],"summary":{}}`: FormatAmazonShipping,
		`{"payload":{"trackingId":"Q1"},"other":1}`:          "",
		`{"trackingId":"Q1","summary":{}}`:                   "",
		`{"trackingNumber":"Q1","trackingEvents":[]}`:        FormatUSPS,
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
