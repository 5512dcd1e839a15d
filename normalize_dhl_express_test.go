package shipevents

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// mydhlJSON builds a one-shipment MyDHL tracking response from events.
func mydhlJSON(events string) string {
	return `{"shipments":[{"shipmentTrackingNumber":"4719380256","status":"Success","productCode":"P",
		"estimatedDeliveryDate":"2025-09-16","events":[` + events + `]}]}`
}

func TestDHLExpressLookupOrder(t *testing.T) {
	n := aggNormalizer(t,
		aggRow("mydhl", "type_code", "WC", StatusOutForDelivery, "OUT_FOR_DELIVERY"),
		aggRow("dhl_express", "event_code", "WC", StatusInTransit, "IN_TRANSIT"),
		aggRow("dhl_express", "event_code", "DM", StatusInTransit, "SHIPMENT_DAMAGED"),
		aggRow("dhl", "status_code", "transit", StatusInTransit, "IN_TRANSIT"),
	)
	tests := []struct {
		code          string
		wantName      string
		wantNamespace string
	}{
		{"WC", "OUT_FOR_DELIVERY", "type_code"},  // the MyDHL table first
		{"DM", "SHIPMENT_DAMAGED", "event_code"}, // then the XML service's table
		{"ZZ", "UNMAPPED_STATUS", "type_code"},   // neither: the first table asked is named
	}
	for _, tc := range tests {
		t.Run(tc.code, func(t *testing.T) {
			raw := mydhlJSON(fmt.Sprintf(`{"date":"2025-09-16","time":"08:04:26","typeCode":%q,"description":"x"}`, tc.code))
			ev, err := n.Normalize(FormatDHLExpress, []byte(raw))
			require.NoError(t, err)
			require.Len(t, ev, 1)
			assert.Equal(t, tc.wantName, ev[0].EventName)
			assert.Equal(t, &CarrierStatus{Code: tc.code, Description: "x", Namespace: tc.wantNamespace}, ev[0].CarrierStatus)
			assert.Equal(t, "dhl", ev[0].Carrier)
			assert.Equal(t, "4719380256", ev[0].TrackingNumber)
			aggValid(t, ev)
		})
	}
}

func TestDHLExpressTimes(t *testing.T) {
	n := aggNormalizer(t)
	tests := []struct {
		name, date, clock, offset string
		want, wantSource          string
		wantCarrierTime           string
	}{
		{"GMTOffset makes it explicit", "2025-09-16", "11:37:58", "+01:00", "2025-09-16T10:37:58Z", TimeExplicit, "2025-09-16 11:37:58"},
		{"negative offset", "2025-11-03", "23:50:31", "-05:00", "2025-11-04T04:50:31Z", TimeExplicit, "2025-11-03 23:50:31"},
		{"no offset: local time read as UTC", "2025-11-03", "23:50:31", "", "2025-11-03T23:50:31Z", TimeAssumedUTC, "2025-11-03 23:50:31"},
		{"minutes only", "2025-11-03", "11:05", "", "2025-11-03T11:05:00Z", TimeAssumedUTC, "2025-11-03 11:05"},
		{"date only", "2025-11-03", "", "+02:00", "2025-11-03T00:00:00Z", TimeDateOnly, "2025-11-03"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := mydhlJSON(fmt.Sprintf(`{"date":%q,"time":%q,"GMTOffset":%q,"typeCode":"OK"}`, tc.date, tc.clock, tc.offset))
			ev, err := n.Normalize(FormatDHLExpress, []byte(raw))
			require.NoError(t, err)
			require.Len(t, ev, 1)
			assert.Equal(t, mustTime(t, tc.want), ev[0].OccurredAt)
			assert.Equal(t, tc.wantSource, ev[0].Data.OccurredAtSource)
			assert.Equal(t, tc.wantCarrierTime, ev[0].Data.CarrierTime)
		})
	}
}

func TestDHLExpressFields(t *testing.T) {
	n := aggNormalizer(t)
	raw := mydhlJSON(`{"date":"2025-09-16","time":"11:37:58","GMTOffset":"+01:00","typeCode":"OK","description":"Delivered",
		"serviceArea":[{"code":"LCY","description":"LONDON-CITY-GB"}],"signedBy":" R. OKONKWO ",
		"remarks":[{"value":""},{"value":"Left at reception","details":"x"}]},
		{"date":"2025-09-16","time":"08:04:26","GMTOffset":"+01:00","typeCode":"WC",
		"serviceArea":[{"code":"XYZ","description":"Some Area"}]}`)
	ev, err := n.Normalize(FormatDHLExpress, []byte(raw))
	require.NoError(t, err)
	require.Len(t, ev, 2)
	wc, ok := ev[0], ev[1]
	assert.Equal(t, &Location{City: "Some Area", Facility: "XYZ"}, wc.Data.Location, "no country suffix: the description is the city")
	assert.Empty(t, wc.Data.SignedBy)
	assert.Nil(t, wc.Data.Extra)
	assert.Equal(t, &Location{City: "LONDON-CITY", Country: "GB", Facility: "LCY"}, ok.Data.Location)
	assert.Equal(t, "R. OKONKWO", ok.Data.SignedBy)
	assert.Equal(t, "Left at reception", ok.Data.Extra["remark"], "first non-blank remark")
	assert.Equal(t, "P", ok.Data.Service)
	require.NotNil(t, ok.Data.EstimatedDelivery)
	assert.Equal(t, mustTime(t, "2025-09-16T00:00:00Z"), *ok.Data.EstimatedDelivery)
}

// TestDHLExpressPiecesFallback: a shipment without shipment-level events
// takes its pieces' events, and a scan both pieces report counts once;
// shipment-level events, when present, win over the pieces'.
func TestDHLExpressPiecesFallback(t *testing.T) {
	n := aggNormalizer(t)
	pu := `{"date":"2025-02-10","time":"14:22:05","GMTOffset":"+01:00","typeCode":"PU"}`
	raw := `{"shipments":[{"shipmentTrackingNumber":"5531908842","pieces":[
		{"trackingNumber":"JD1","events":[` + pu + `,{"date":"2025-02-10","time":"20:48:13","typeCode":"AF"}]},
		{"trackingNumber":"JD2","events":[` + pu + `]}]}]}`
	ev, err := n.Normalize(FormatDHLExpress, []byte(raw))
	require.NoError(t, err)
	require.Len(t, ev, 2)
	assert.Equal(t, "PU", ev[0].CarrierStatus.Code)
	assert.Equal(t, "AF", ev[1].CarrierStatus.Code)
	assert.Equal(t, "5531908842", ev[1].TrackingNumber, "the waybill number, not the piece's")

	both := `{"shipments":[{"shipmentTrackingNumber":"5531908842","events":[` + pu + `],
		"pieces":[{"trackingNumber":"JD1","events":[{"date":"2025-02-10","time":"20:48:13","typeCode":"AF"}]}]}]}`
	ev, err = n.Normalize(FormatDHLExpress, []byte(both))
	require.NoError(t, err)
	require.Len(t, ev, 1)
	assert.Equal(t, "PU", ev[0].CarrierStatus.Code)

	// A shipment with nothing to report is skipped, number or not.
	empty := `{"shipments":[{"status":"Success"},{"shipmentTrackingNumber":"5531908842","events":[` + pu + `]}]}`
	ev, err = n.Normalize(FormatDHLExpress, []byte(empty))
	require.NoError(t, err)
	require.Len(t, ev, 1)
}

// TestDHLExpressAndUnifiedDetection: the MyDHL API and DHL's Unified API
// both answer {"shipments":[...]}; the first shipment's keys tell them
// apart, wherever the keys sit in the object.
func TestDHLExpressAndUnifiedDetection(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"mydhl", mydhlJSON(`{"date":"2025-09-16","time":"08:04:26","typeCode":"WC"}`), FormatDHLExpress},
		{"mydhl, number after nested objects", `{"shipments":[{"shipperDetails":{"id":"x","serviceArea":[{"code":"PRG"}]},
			"events":[{"date":"2025-09-16","typeCode":"WC"}],"shipmentTrackingNumber":"1"}]}`, FormatDHLExpress},
		{"mydhl, case-insensitive key", `{"shipments":[{"ShipmentTrackingNumber":"1","events":[{"date":"2025-09-16","typeCode":"WC"}]}]}`, FormatDHLExpress},
		{"unified", `{"shipments":[{"id":"7309985410","service":"express","events":[{"timestamp":"2025-05-06T07:42:00+02:00","statusCode":"transit"}]}]}`, FormatDHL},
		{"unified, key only in a later shipment", `{"shipments":[{"id":"1","events":[{"timestamp":"2025-05-06T07:42:00Z","statusCode":"transit"}]},
			{"shipmentTrackingNumber":"2"}]}`, FormatDHL},
		{"unified, key nested deeper", `{"shipments":[{"id":"1","details":{"shipmentTrackingNumber":"2"},
			"events":[{"timestamp":"2025-05-06T07:42:00Z","statusCode":"transit"}]}]}`, FormatDHL},
		{"key as a string value", `{"note":"shipmentTrackingNumber","shipments":[{"id":"1","x":"shipmentTrackingNumber",
			"events":[{"timestamp":"2025-05-06T07:42:00Z","statusCode":"transit"}]}]}`, FormatDHL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DetectFormat([]byte(tc.raw))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			_, err = aggNormalizer(t).Normalize(FormatDetect, []byte(tc.raw))
			assert.NoError(t, err)
		})
	}
}

func TestFirstElementHas(t *testing.T) {
	tests := []struct {
		raw  string
		want bool
	}{
		{`{"a":[{"k":1}]}`, true},
		{`{"a" : [ {"x":{"k":1},"k":2} ]}`, true},
		{`{"a":[{"x":{"k":1}}]}`, false},
		{`{"a":[{"x":1},{"k":1}]}`, false},
		{`{"a":[1,{"k":1}]}`, false},
		{`{"a":{"k":1}}`, false},
		{`{"b":[{"k":1}],"a":[{"y":1}]}`, false},
		{`{"b":{"a":[{"k":1}]}}`, false},
		{`[{"a":[{"k":1}]}]`, false},
		{`{"a":[{"x":"\"k\"","k":1}]}`, true},
		{`{"a":[{"k`, false},
		{`{"a":[{"x":"k"}]}`, false},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, firstElementHas([]byte(tc.raw), "a", "k"), tc.raw)
	}
}

func TestDHLExpressErrors(t *testing.T) {
	n := aggNormalizer(t)
	tests := []struct {
		name, raw string
		want      []string
	}{
		{"wrong type for number", `{"shipments":[{"shipmentTrackingNumber":4719380256,"events":[]}]}`, []string{"shipments[0].shipmentTrackingNumber"}},
		{"missing number", `{"shipments":[{"events":[{"date":"2025-09-16","typeCode":"OK"}]}]}`,
			[]string{"shipments[0].shipmentTrackingNumber", "missing tracking number"}},
		{"no events", `{"shipments":[{"shipmentTrackingNumber":"1","events":[]}]}`, []string{"no shipment with events"}},
		{"no date", mydhlJSON(`{"time":"08:00:00","typeCode":"OK"}`), []string{"shipments[0].events[0]", "no date"}},
		{"bad time", mydhlJSON(`{"date":"2025-09-16","time":"8 o'clock","typeCode":"OK"}`), []string{"shipments[0].events[0]", "unrecognised timestamp"}},
		{"bad offset", mydhlJSON(`{"date":"2025-09-16","time":"08:00:00","GMTOffset":"CET","typeCode":"OK"}`), []string{"events[0]", "UTC offset"}},
		{"long date", mydhlJSON(`{"date":"2025-09-16T08:00:00.000000000+01:00","time":"08:00:00","typeCode":"OK"}`), []string{"too long"}},
		{"piece event without date", `{"shipments":[{"shipmentTrackingNumber":"1","pieces":[{"events":[{"typeCode":"PU"}]}]}]}`,
			[]string{"shipments[0].pieces[0].events[0]", "no date"}},
		{"absurd date", mydhlJSON(`{"date":"1970-01-01","time":"08:00:00","typeCode":"OK"}`), []string{"plausible range"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := n.Normalize(FormatDHLExpress, []byte(tc.raw))
			require.Error(t, err)
			assert.Nil(t, ev)
			assert.True(t, errors.Is(err, ErrInvalidPayload), "%v", err)
			var pe *PayloadError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, FormatDHLExpress, pe.Format)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func FuzzNormalizeDHLExpress(f *testing.F) { fuzzNormalize(f, FormatDHLExpress) }
