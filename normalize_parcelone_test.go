package shipevents

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func FuzzNormalizeParcelOne(f *testing.F) { fuzzNormalize(f, FormatParcelOne) }

func parceloneJSON(event string) string {
	return fmt.Sprintf(`{"P1Trackno":"4050100000001","TrackingEvents":[{"EventdateCET":"2025-10-15T18:47:00+02:00",
		"EventdateUTC":"2025-10-15T16:47:00+00:00","Status":"Some text","Location":"DE Pohlheim",%s}],"lang":"en"}`, event)
}

func TestParcelOneLookupOrder(t *testing.T) {
	m, err := NewMapper(
		Row{Carrier: "parcelone", Namespace: "statuscode", Code: "394", Status: StatusInTransit, EventName: "TRANSFERRED_TO_PARTNER"},
		Row{Carrier: "aftership", Namespace: "subtag", Code: "InTransit_003", Status: StatusInTransit, EventName: "ARRIVED_AT_FACILITY"},
		Row{Carrier: "aftership", Namespace: "tag", Code: "OutForDelivery", Status: StatusOutForDelivery, EventName: "OUT_FOR_DELIVERY"},
	)
	require.NoError(t, err)
	n := NewNormalizer(NormalizerConfig{Mapper: m, Now: func() time.Time { return carrierTestNow }})
	tests := []struct {
		name, event   string
		wantEvent     string
		wantNamespace string
		wantRaw       CarrierStatus
	}{
		{"Statuscode first", `"Statuscode":"394","DeliveryStatus":"InTransit_003"`, "TRANSFERRED_TO_PARTNER", "statuscode",
			CarrierStatus{Code: "394", Type: "InTransit_003"}},
		{"then the AfterShip sub-status", `"Statuscode":"320","DeliveryStatus":"InTransit_003"`, "ARRIVED_AT_FACILITY", "subtag",
			CarrierStatus{Code: "320", Type: "InTransit_003"}},
		{"then its tag", `"Statuscode":"520","DeliveryStatus":"OutForDelivery_099"`, "OUT_FOR_DELIVERY", "tag",
			CarrierStatus{Code: "520", Type: "OutForDelivery_099"}},
		{"nothing known", `"Statuscode":"712","DeliveryStatus":""`, "UNMAPPED_STATUS", "statuscode", CarrierStatus{Code: "712"}},
		{"cancelled by the shipper", `"Statuscode":"394","DeliveryStatus":"Exception_009","TrackingEventsStatus":"P1TrackingEndsHere, ShipmentCancelled,NoFurtherTrackingAvailable"`,
			"SHIPMENT_CANCELLED", "tracking_events_status", CarrierStatus{Code: "394", Type: "Exception_009"}},
		{"timed out", `"Statuscode":"300","TrackingEventsStatus":"P1TrackingEndsHere,Timeout, NoFurtherTrackingAvailable"`,
			"TRACKING_EXPIRED", "tracking_events_status", CarrierStatus{Code: "300"}},
		{"further tracking elsewhere is not an end", `"Statuscode":"394","TrackingEventsStatus":"P1TrackingEndsHere,RequestLMCCarrierTracking"`,
			"TRANSFERRED_TO_PARTNER", "statuscode", CarrierStatus{Code: "394"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := n.Normalize(FormatDetect, []byte(parceloneJSON(tc.event)))
			require.NoError(t, err)
			require.Len(t, ev, 1)
			assert.Equal(t, tc.wantEvent, ev[0].EventName)
			want := tc.wantRaw
			want.Description, want.Namespace = "Some text", tc.wantNamespace
			assert.Equal(t, &want, ev[0].CarrierStatus)
			assert.NoError(t, ev[0].Validate())
		})
	}
}

func TestParcelOneFields(t *testing.T) {
	n := goldenNormalizer()
	raw := `{"P1Trackno":" 4050100000002 ","TrackingEvents":[
		{"EventdateCET":"2025-10-15T18:47:00+02:00","EventdateUTC":"","Statuscode":"394",
		 "Status":"Left the hub; track it with <a class=clink href=https://example.com/t?x=1&y=2 target=_blank>Royal Mail</a> as <b>LY1GB</b>.",
		 "Location":"Pohlheim Hub","DeliveryStatus":"InTransit_001","CarrierTrackno":"LY1GB","Carrier":"Royal Mail","CarrierSlug":"royal-mail"}]}`
	ev, err := n.Normalize(FormatParcelOne, []byte(raw))
	require.NoError(t, err)
	require.Len(t, ev, 1)
	e := ev[0]
	assert.Equal(t, "4050100000002", e.TrackingNumber)
	assert.Equal(t, mustTime(t, "2025-10-15T16:47:00Z"), e.OccurredAt, "EventdateCET when EventdateUTC is empty")
	assert.Equal(t, TimeExplicit, e.Data.OccurredAtSource)
	assert.Equal(t, "2025-10-15T18:47:00+02:00", e.Data.CarrierTime)
	assert.Equal(t, "Left the hub; track it with Royal Mail as LY1GB.", e.Data.Description, "markup removed")
	assert.Nil(t, e.Data.Location)
	assert.Equal(t, map[string]any{"location_text": "Pohlheim Hub", "carrier_tracking_number": "LY1GB",
		"last_mile_carrier": "Royal Mail", "last_mile_carrier_slug": "royal-mail"}, e.Data.Extra)
}

func TestStripMarkup(t *testing.T) {
	for in, want := range map[string]string{
		"  plain text ":                         "plain text",
		"a <a href=x>link</a> here":             "a link here",
		"<p>one</p>\n<p>two</p>":                "one two",
		"weight < 2 kg and > 1 kg":              "weight < 2 kg and > 1 kg",
		"cut <a href=unterminated":              "cut",
		"<!-- note -->kept":                     "kept",
		"Zoll: <b>Einfuhrabfertigung</b> läuft": "Zoll: Einfuhrabfertigung läuft",
	} {
		assert.Equal(t, want, stripMarkup(in), "stripMarkup(%q)", in)
	}
}

func TestParcelOneErrors(t *testing.T) {
	tests := []struct {
		name, raw string
		want      []string
	}{
		{"not found", `{"Error":"No shipment data found yet, try again later!"}`, []string{"Parcel.One error", `"No shipment data found yet, try again later!"`}},
		{"no number", `{"TrackingEvents":[{"EventdateUTC":"2025-10-15T16:47:00+00:00","Statuscode":"300"}]}`, []string{"P1Trackno", "missing tracking number"}},
		{"no events", `{"P1Trackno":"4050100000001","TrackingEvents":[]}`, []string{"TrackingEvents", "no tracking events"}},
		{"no dates", `{"P1Trackno":"4050100000001","TrackingEvents":[{"Statuscode":"300"}]}`, []string{"TrackingEvents[0]", "neither EventdateUTC nor EventdateCET"}},
		{"bad date", `{"P1Trackno":"4050100000001","TrackingEvents":[{"EventdateUTC":"18.10.2021 08:26","Statuscode":"300"}]}`, []string{"EventdateUTC"}},
		{"events not a list", `{"P1Trackno":"4050100000001","TrackingEvents":{}}`, []string{"TrackingEvents"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Normalize(FormatParcelOne, []byte(tc.raw))
			require.Error(t, err)
			assert.Nil(t, ev)
			assert.True(t, errors.Is(err, ErrInvalidPayload), "%v", err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestParcelOneDetection(t *testing.T) {
	for raw, want := range map[string]string{
		`{"P1Trackno":"4050100000001","TrackingEvents":[]}`:                                          FormatParcelOne,
		`{"P1Trackno":"4050100000001","TrackingEvents":[],"lang":"en","platform":"","requestor":""}`: FormatParcelOne,
	} {
		got, err := DetectFormat([]byte(raw))
		require.NoError(t, err, raw)
		assert.Equal(t, want, got, raw)
	}
}
