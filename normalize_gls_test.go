package shipevents

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func glsTestNormalizer(t *testing.T) *Normalizer {
	return aggNormalizer(t,
		aggRow("gls", "event_code", "INTIAL.NORMAL", StatusPickedUp, "PICKED_UP"),
		aggRow("gls", "event_code", "DELIVD.NORMAL", StatusDelivered, "SUCCESSFULLY_DELIVERED"),
		aggRow("gls", "status", "INWAREHOUSE", StatusInTransit, "ARRIVED_AT_FACILITY"),
		aggRow("gls", "status", "DELIVERED", StatusDelivered, "SUCCESSFULLY_DELIVERED"),
		aggRow("gls", "status", "PREADVICE", StatusBooked, "INFO_RECEIVED"),
	)
}

// TestGLSParcelStatusOnlyAtItsTime: the parcel status describes the parcel
// as of statusDateTime, so it maps an unknown event code only for the event
// at that instant (whatever offset either is written in).
func TestGLSParcelStatusOnlyAtItsTime(t *testing.T) {
	n := glsTestNormalizer(t)
	raw := `{"parcels":[{"requested":"REF1","unitno":"50098765432","status":"INWAREHOUSE","statusDateTime":"2025-12-01T15:20:00Z",
		"events":[
		{"code":"STORED.CONSIGNEE","eventDateTime":"2025-12-01T16:20:00+0100","description":"stored"},
		{"code":"NOTDEL.NOTHOME","eventDateTime":"2025-12-01T12:47:31+0100"},
		{"code":"INTIAL.NORMAL","eventDateTime":"2025-11-30T09:00:00+0100","city":"Aalborg","postalCode":"9220","country":"DK"}]}]}`
	ev, err := n.Normalize(FormatGLS, []byte(raw))
	require.NoError(t, err)
	require.Len(t, ev, 3)
	aggValid(t, ev)
	first, notHome, stored := ev[0], ev[1], ev[2]
	assert.Equal(t, "50098765432", first.TrackingNumber, "the parcel number, not the reference asked for")
	assert.Equal(t, "gls", first.Carrier)
	assert.Equal(t, StatusPickedUp, first.Status)
	assert.Equal(t, &Location{City: "Aalborg", PostalCode: "9220", Country: "DK"}, first.Data.Location)
	assert.Nil(t, first.Data.Extra)

	assert.Equal(t, StatusUnknown, notHome.Status, "an earlier event does not take the parcel's current status")
	assert.Equal(t, &CarrierStatus{Code: "NOTDEL.NOTHOME", Namespace: "event_code"}, notHome.CarrierStatus)
	assert.Nil(t, notHome.Data.Location)

	assert.Equal(t, "ARRIVED_AT_FACILITY", stored.EventName)
	assert.Equal(t, &CarrierStatus{Code: "STORED.CONSIGNEE", Description: "stored", Namespace: "status"}, stored.CarrierStatus)
	assert.Equal(t, "INWAREHOUSE", stored.Data.Extra["parcel_status"])
	assert.Equal(t, TimeExplicit, stored.Data.OccurredAtSource)
	assert.Equal(t, "2025-12-01T16:20:00+0100", stored.Data.CarrierTime)

	// A known event code wins over the parcel status at the same instant.
	known := `{"parcels":[{"unitno":"1","status":"INWAREHOUSE","statusDateTime":"2025-12-01T15:20:00Z",
		"events":[{"code":"DELIVD.NORMAL","eventDateTime":"2025-12-01T15:20:00Z"}]}]}`
	ev, err = n.Normalize(FormatGLS, []byte(known))
	require.NoError(t, err)
	assert.Equal(t, StatusDelivered, ev[0].Status)
	assert.Equal(t, "event_code", ev[0].CarrierStatus.Namespace)
}

// TestGLSIDsIgnoreParcelStatus: an event's id does not change when a later
// poll reports another parcel status (otherwise the same scan would be
// delivered twice).
func TestGLSIDsIgnoreParcelStatus(t *testing.T) {
	n := glsTestNormalizer(t)
	before := `{"parcels":[{"unitno":"1","status":"INWAREHOUSE","statusDateTime":"2025-12-01T15:20:00Z",
		"events":[{"code":"STORED.CONSIGNEE","eventDateTime":"2025-12-01T15:20:00Z"}]}]}`
	after := `{"parcels":[{"unitno":"1","status":"DELIVERED","statusDateTime":"2025-12-02T10:00:00Z",
		"events":[{"code":"DELIVD.NORMAL","eventDateTime":"2025-12-02T10:00:00Z"},{"code":"STORED.CONSIGNEE","eventDateTime":"2025-12-01T15:20:00Z"}]}]}`
	a, err := n.Normalize(FormatGLS, []byte(before))
	require.NoError(t, err)
	b, err := n.Normalize(FormatGLS, []byte(after))
	require.NoError(t, err)
	require.Len(t, b, 2)
	assert.Equal(t, a[0].ID, b[0].ID)
	assert.NotEqual(t, a[0].Status, b[0].Status, "the mapping may change; the id does not")
}

func TestGLSStatusOnlyAndErrors(t *testing.T) {
	n := glsTestNormalizer(t)
	raw := `{"parcels":[
		{"requested":"42249018928","errorCode":"E_404_01","errorMessage":"Resource Not Found"},
		{"requested":"36301917596","unitno":"36301917596","status":"PREADVICE","statusDateTime":"2025-05-20T15:24:57+0200"},
		{"requested":"36301917597","unitno":"36301917597"}]}`
	ev, err := n.Normalize(FormatGLS, []byte(raw))
	require.NoError(t, err)
	require.Len(t, ev, 1, "the unknown parcel and the one without status or events give nothing")
	assert.Equal(t, "36301917596", ev[0].TrackingNumber)
	assert.Equal(t, StatusBooked, ev[0].Status)
	assert.Equal(t, &CarrierStatus{Code: "PREADVICE", Namespace: "status"}, ev[0].CarrierStatus)
	assert.Equal(t, mustTime(t, "2025-05-20T13:24:57Z"), ev[0].OccurredAt)
}

func TestGLSErrors(t *testing.T) {
	n := glsTestNormalizer(t)
	tests := []struct {
		name, raw string
		want      []string
	}{
		{"only unknown parcels", `{"parcels":[{"requested":"1","errorCode":"E_404_01","errorMessage":"Resource Not Found"},
			{"requested":"2","errorCode":"E_400_03","errorMessage":"Wrong Postal Code"}]}`,
			[]string{"no parcel with events", "E_404_01 Resource Not Found", "E_400_03"}},
		{"empty", `{"parcels":[]}`, []string{"no parcel with events or a status"}},
		{"missing number", `{"parcels":[{"events":[{"code":"INTIAL.NORMAL","eventDateTime":"2025-10-08T15:20:03+0200"}]}]}`,
			[]string{"parcels[0].unitno", "missing tracking number"}},
		{"no event time", `{"parcels":[{"unitno":"1","events":[{"code":"INTIAL.NORMAL"}]}]}`, []string{"parcels[0].events[0]", "no eventDateTime"}},
		{"bad event time", `{"parcels":[{"unitno":"1","events":[{"code":"INTIAL.NORMAL","eventDateTime":"08.10.2025 15:20"}]}]}`,
			[]string{"parcels[0].events[0]", "08.10.2025"}},
		{"status without time", `{"parcels":[{"unitno":"1","status":"PREADVICE"}]}`, []string{"parcels[0].statusDateTime", "no statusDateTime"}},
		{"bad status time", `{"parcels":[{"unitno":"1","status":"PREADVICE","statusDateTime":"soon"}]}`, []string{"statusDateTime: unrecognised timestamp"}},
		{"wrong type", `{"parcels":[{"unitno":1}]}`, []string{"parcels[0].unitno"}},
		{"hostile message is quoted", `{"parcels":[{"requested":"1","errorCode":"E_500_01","errorMessage":"boom\u001b[31m"}]}`,
			[]string{`\x1b[31m`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := n.Normalize(FormatGLS, []byte(tc.raw))
			require.Error(t, err)
			assert.Nil(t, ev)
			assert.True(t, errors.Is(err, ErrInvalidPayload), "%v", err)
			var pe *PayloadError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, FormatGLS, pe.Format)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestGLSDetection(t *testing.T) {
	for raw, want := range map[string]string{
		`{"parcels":[{"requested":"1","errorCode":"E_404_01"}]}`:                FormatGLS,
		`{"parcels":[{"unitno":"1","status":"PREADVICE"}]}`:                     FormatGLS,
		`{"parcels":[{"timestamp":"2021-08-27T12:04:00","trackid":"2028778"}]}`: "", // GLS's older public API: another shape
	} {
		got, err := DetectFormat([]byte(raw))
		if want == "" {
			assert.ErrorIs(t, err, ErrUnknownFormat, raw)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, want, got, raw)
	}
}

func FuzzNormalizeGLS(f *testing.F) { fuzzNormalize(f, FormatGLS) }
