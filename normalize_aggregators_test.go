package shipevents

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// aggNormalizer returns a Normalizer over exactly rows (not the embedded
// tables), so these tests do not depend on the crosswalk files' contents.
func aggNormalizer(t *testing.T, rows ...Row) *Normalizer {
	t.Helper()
	m, err := NewMapper(rows...)
	require.NoError(t, err)
	return NewNormalizer(NormalizerConfig{Mapper: m, Now: func() time.Time { return goldenNow }})
}

func aggRow(carrier, ns, code string, st Status, name string) Row {
	return Row{Carrier: carrier, Namespace: ns, Code: code, Status: st, EventName: name}
}

func aggValid(t *testing.T, events []Event) {
	t.Helper()
	for i := range events {
		assert.NoError(t, events[i].Validate(), "event %d", i)
	}
}

// ---- EasyPost ----

func epTrackerJSON(isReturn bool, details string) string {
	ret := "false"
	if isReturn {
		ret = "true"
	}
	return `{"id":"evt_1","object":"Event","description":"tracker.updated","mode":"test","created_at":"2026-03-11T19:49:12Z",
	 "result":{"id":"trk_1","object":"Tracker","tracking_code":"781420936615","carrier":"FedEx","status":"delivered",
	  "signed_by":"J.MORALES","is_return":` + ret + `,"est_delivery_date":"2026-03-11T00:00:00Z",
	  "tracking_details":[` + details + `]}}`
}

func TestEasyPostStatusDetailPrecedence(t *testing.T) {
	n := aggNormalizer(t,
		aggRow("easypost", "status_detail", "arrived_at_facility", StatusInTransit, "ARRIVED_AT_FACILITY"),
		aggRow("easypost", "status_detail", "unknown", StatusUnknown, "UNMAPPED_STATUS"),
		aggRow("easypost", "status_detail", "received_at_origin_facility", StatusPickedUp, "PICKED_UP"),
		aggRow("easypost", "status_detail", "arrived_at_destination", StatusInTransit, "ARRIVED_AT_DESTINATION"),
		aggRow("easypost", "status_detail", "in_transit", StatusInTransit, "IN_TRANSIT"),
		aggRow("easypost", "status_detail", "return", StatusReturned, "RETURNED_TO_SENDER"),
		aggRow("easypost", "status", "in_transit", StatusInTransit, "IN_TRANSIT"),
		aggRow("easypost", "status", "delivered", StatusDelivered, "SUCCESSFULLY_DELIVERED"),
		aggRow("easypost", "status", "return_to_sender", StatusReturned, "RETURNING_TO_SENDER"),
	)
	tests := []struct {
		name, status, detail string
		wantStatus           Status
		wantName, wantNS     string
		wantCode             string
	}{
		{"detail wins over status", "in_transit", "arrived_at_facility", StatusInTransit, "ARRIVED_AT_FACILITY", "status_detail", "arrived_at_facility"},
		{"detail refines a non-terminal status", "in_transit", "received_at_origin_facility", StatusPickedUp, "PICKED_UP", "status_detail", "received_at_origin_facility"},
		{"detail agreeing with a terminal status wins", "return_to_sender", "return", StatusReturned, "RETURNED_TO_SENDER", "status_detail", "return"},
		{"detail never downgrades delivered", "delivered", "arrived_at_destination", StatusDelivered, "SUCCESSFULLY_DELIVERED", "status", "arrived_at_destination"},
		{"detail never downgrades a return", "return_to_sender", "in_transit", StatusReturned, "RETURNING_TO_SENDER", "status", "in_transit"},
		{"unmapped detail falls back to status", "in_transit", "rerouted_to_hub", StatusInTransit, "IN_TRANSIT", "status", "rerouted_to_hub"},
		{"detail meaning unknown gives way to status", "in_transit", "unknown", StatusInTransit, "IN_TRANSIT", "status", "unknown"},
		{"no detail uses status", "delivered", "", StatusDelivered, "SUCCESSFULLY_DELIVERED", "status", "delivered"},
		{"neither maps", "mystery", "stranger", StatusUnknown, "UNMAPPED_STATUS", "status_detail", "stranger"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := epTrackerJSON(false, `{"message":"m","status":"`+tc.status+`","status_detail":"`+tc.detail+`",
				"datetime":"2026-03-10T04:15:00Z","carrier_code":"DP"}`)
			ev, err := n.Normalize(FormatEasyPost, []byte(raw))
			require.NoError(t, err)
			require.Len(t, ev, 1)
			e := ev[0]
			assert.Equal(t, tc.wantStatus, e.Status)
			assert.Equal(t, tc.wantName, e.EventName)
			require.NotNil(t, e.CarrierStatus)
			assert.Equal(t, tc.wantCode, e.CarrierStatus.Code)
			assert.Equal(t, tc.status, e.CarrierStatus.Type)
			assert.Equal(t, tc.wantNS, e.CarrierStatus.Namespace)
			assert.Equal(t, "DP", e.Data.Extra["carrier_code"])
			assert.Equal(t, "fedex", e.Carrier)
			assert.True(t, e.TestMode)
			aggValid(t, ev)
		})
	}
}

func TestEasyPostReturnDirection(t *testing.T) {
	n := aggNormalizer(t, aggRow("easypost", "status", "delivered", StatusDelivered, "SUCCESSFULLY_DELIVERED"))
	detail := `{"message":"Delivered","status":"delivered","status_detail":"arrived_at_destination","datetime":"2026-02-19T20:12:00Z"}`
	name, ok := LookupEventName("SUCCESSFULLY_DELIVERED")
	require.True(t, ok)
	for _, tc := range []struct {
		isReturn bool
		want     Direction
	}{{false, DirectionForward}, {true, DirectionReturn}} {
		ev, err := n.Normalize(FormatEasyPost, []byte(epTrackerJSON(tc.isReturn, detail)))
		require.NoError(t, err)
		require.Len(t, ev, 1)
		assert.Equal(t, tc.want, ev[0].Direction)
		assert.Equal(t, name.Group(tc.want), ev[0].EventGroup)
		assert.Equal(t, "J.MORALES", ev[0].Data.SignedBy)
		aggValid(t, ev)
	}
}

func TestEasyPostFields(t *testing.T) {
	n := aggNormalizer(t)
	raw := epTrackerJSON(false, `
		{"message":"On FedEx vehicle for delivery","status":"out_for_delivery","status_detail":"out_for_delivery",
		 "datetime":"2026-03-11T13:20:00Z","carrier_code":"OD","tracking_location":{"city":"INDIANAPOLIS","state":"IN","zip":"46204","country":"US"}},
		{"message":"Shipment information sent to FedEx","status":"pre_transit","status_detail":"label_created",
		 "datetime":"2026-03-09T18:22:00Z","carrier_code":"OC","tracking_location":{"city":null,"zip":"38118","country":"US"}},
		{"message":"Delivered","status":"delivered","status_detail":"arrived_at_destination","datetime":"2026-03-11T19:47:00Z","carrier_code":"DL"}`)
	ev, err := n.Normalize(FormatEasyPost, []byte(raw))
	require.NoError(t, err)
	require.Len(t, ev, 3)
	assert.Equal(t, "OC", ev[0].Data.Extra["carrier_code"], "sorted oldest first")
	assert.Equal(t, &Location{PostalCode: "38118", Country: "US"}, ev[0].Data.Location)
	assert.Equal(t, &Location{City: "INDIANAPOLIS", State: "IN", PostalCode: "46204", Country: "US"}, ev[1].Data.Location)
	assert.Equal(t, time.Date(2026, 3, 11, 13, 20, 0, 0, time.UTC), ev[1].OccurredAt)
	assert.Equal(t, TimeExplicit, ev[1].Data.OccurredAtSource)
	assert.Equal(t, "On FedEx vehicle for delivery", ev[1].Data.Description)
	assert.Empty(t, ev[0].Data.SignedBy, "signed_by only on the delivered scan")
	assert.Empty(t, ev[1].Data.SignedBy)
	assert.Equal(t, "J.MORALES", ev[2].Data.SignedBy)
	require.NotNil(t, ev[2].Data.EstimatedDelivery)
	assert.Equal(t, time.Date(2026, 3, 11, 0, 0, 0, 0, time.UTC), *ev[2].Data.EstimatedDelivery)
	for _, e := range ev {
		assert.Equal(t, "781420936615", e.TrackingNumber)
		assert.True(t, e.TestMode)
	}
}

func TestEasyPostNoTrackingDetails(t *testing.T) {
	n := aggNormalizer(t, aggRow("easypost", "status_detail", "label_created", StatusBooked, "LABEL_CREATED"))
	tests := []struct {
		name, raw string
		want      time.Time
		mode      bool
	}{
		{"bare tracker at updated_at",
			`{"object":"Tracker","mode":"production","tracking_code":"1Z5R8","carrier":"UPS","status":"pre_transit","status_detail":"label_created",
			  "updated_at":"2026-02-16T15:02:11Z","tracking_details":[]}`,
			time.Date(2026, 2, 16, 15, 2, 11, 0, time.UTC), false},
		{"event without tracker updated_at uses created_at",
			`{"object":"Event","mode":"test","created_at":"2026-02-16T15:05:00Z","description":"tracker.created",
			  "result":{"object":"Tracker","tracking_code":"1Z5R8","carrier":"UPS","status":"pre_transit","status_detail":"label_created"}}`,
			time.Date(2026, 2, 16, 15, 5, 0, 0, time.UTC), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := n.Normalize(FormatEasyPost, []byte(tc.raw))
			require.NoError(t, err)
			require.Len(t, ev, 1)
			assert.Equal(t, tc.want, ev[0].OccurredAt)
			assert.Equal(t, StatusBooked, ev[0].Status)
			assert.Equal(t, "LABEL_CREATED", ev[0].EventName)
			assert.Equal(t, "ups", ev[0].Carrier)
			assert.Equal(t, tc.mode, ev[0].TestMode)
		})
	}
}

// ---- AfterShip ----

func aftershipPayloadWith(checkpoints string) string {
	return `{"ts":1773511142,"event":"tracking_update","event_id":"6f1d2a9e-3c4b-4e7a-8b1d-2f9c0e5a7d31",
	 "msg":{"id":"c7a3","tracking_number":"9400111206213859432718","slug":"usps","tag":"Delivered","subtag":"Delivered_001",
	  "signed_by":"M. RUIZ","return_to_sender":true,"checkpoints":[` + checkpoints + `]}}`
}

func TestAfterShipCheckpointTimes(t *testing.T) {
	n := aggNormalizer(t)
	tests := []struct {
		name, checkpoint string
		want             time.Time
		wantSource       string
		wantCarrierTime  string
	}{
		{"zone-less checkpoint_time is assumed UTC, created_at ignored",
			`{"created_at":"2026-03-11T16:02:17+00:00","checkpoint_time":"2026-03-11T09:04:00","tag":"InfoReceived","subtag":"InfoReceived_001"}`,
			time.Date(2026, 3, 11, 9, 4, 0, 0, time.UTC), TimeAssumedUTC, "2026-03-11T09:04:00"},
		{"offset checkpoint_time is explicit",
			`{"created_at":"2026-03-14T11:12:09+00:00","checkpoint_time":"2026-03-14T07:10:00-04:00","tag":"OutForDelivery","subtag":"OutForDelivery_001"}`,
			time.Date(2026, 3, 14, 11, 10, 0, 0, time.UTC), TimeExplicit, "2026-03-14T07:10:00-04:00"},
		{"missing checkpoint_time falls back to created_at as received",
			`{"created_at":"2026-03-12T08:14:40+00:00","tag":"InTransit","subtag":"InTransit_007"}`,
			time.Date(2026, 3, 12, 8, 14, 40, 0, time.UTC), TimeReceived, "2026-03-12T08:14:40+00:00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := n.Normalize(FormatAfterShip, []byte(aftershipPayloadWith(tc.checkpoint)))
			require.NoError(t, err)
			require.Len(t, ev, 1)
			assert.True(t, tc.want.Equal(ev[0].OccurredAt), "occurred_at %s, want %s", ev[0].OccurredAt, tc.want)
			assert.Equal(t, tc.wantSource, ev[0].Data.OccurredAtSource)
			assert.Equal(t, tc.wantCarrierTime, ev[0].Data.CarrierTime)
		})
	}
}

func TestAfterShipCheckpointFields(t *testing.T) {
	n := aggNormalizer(t,
		aggRow("aftership", "subtag", "Delivered_001", StatusDelivered, "SUCCESSFULLY_DELIVERED"),
		aggRow("aftership", "tag", "InTransit", StatusInTransit, "IN_TRANSIT"),
		aggRow("aftership", "tag", "Exception", StatusError, "CARRIER_EXCEPTION"),
		aggRow("aftership", "subtag", "Exception_010", StatusReturned, "RETURNING_TO_SENDER"),
	)
	raw := aftershipPayloadWith(`
		{"checkpoint_time":"2026-03-12T03:22:00-04:00","message":"Departed","city":"ORLANDO","state":"FL","country_iso3":"USA",
		 "tag":"InTransit","subtag":"InTransit_007","subtag_message":"Departure Scan","raw_tag":"T1"},
		{"checkpoint_time":"2026-03-13T03:22:00-04:00","message":"Return to sender","location":"Didsbury Post Office","country_region":"GBR",
		 "tag":"Exception","subtag":"Exception_010","raw_tag":"RS"},
		{"checkpoint_time":"2026-03-14T13:58:00","message":"Delivered","location":"HERNANDO, FL 34442",
		 "tag":"Delivered","subtag":"Delivered_001","raw_tag":"01"}`)
	ev, err := n.Normalize(FormatAfterShip, []byte(raw))
	require.NoError(t, err)
	require.Len(t, ev, 3)
	aggValid(t, ev)

	assert.Equal(t, StatusInTransit, ev[0].Status, "unmapped subtag falls back to tag")
	assert.Equal(t, CarrierStatus{Code: "InTransit_007", Type: "InTransit", Description: "Departure Scan", Namespace: "tag"}, *ev[0].CarrierStatus)
	assert.Equal(t, "T1", ev[0].Data.Extra["carrier_code"])
	assert.Equal(t, "6f1d2a9e-3c4b-4e7a-8b1d-2f9c0e5a7d31", ev[0].Data.Extra["aftership_event_id"])
	assert.Equal(t, &Location{City: "ORLANDO", State: "FL", Country: "USA"}, ev[0].Data.Location)

	assert.Equal(t, StatusReturned, ev[1].Status)
	assert.Equal(t, "subtag", ev[1].CarrierStatus.Namespace)
	assert.Equal(t, DirectionForward, ev[1].Direction, "return_to_sender keeps the shipment forward")
	assert.Equal(t, &Location{Country: "GBR"}, ev[1].Data.Location)
	assert.Equal(t, "Didsbury Post Office", ev[1].Data.Extra["location_text"])

	assert.Equal(t, StatusDelivered, ev[2].Status)
	assert.Equal(t, "M. RUIZ", ev[2].Data.SignedBy)
	assert.Empty(t, ev[0].Data.SignedBy)
	assert.Equal(t, &Location{City: "HERNANDO", State: "FL", PostalCode: "34442"}, ev[2].Data.Location)
	assert.Equal(t, "usps", ev[2].Carrier)
}

func TestAfterShipNoCheckpointsUsesTS(t *testing.T) {
	n := aggNormalizer(t, aggRow("aftership", "tag", "InfoReceived", StatusBooked, "INFO_RECEIVED"))
	raw := `{"ts":1773511142,"event":"tracking_update","event_id":"e1",
	 "msg":{"tracking_number":"QF128392104GB","slug":"royal-mail","tag":"InfoReceived","subtag":"InfoReceived_001","checkpoints":[]}}`
	ev, err := n.Normalize(FormatAfterShip, []byte(raw))
	require.NoError(t, err)
	require.Len(t, ev, 1)
	assert.Equal(t, time.Unix(1773511142, 0).UTC(), ev[0].OccurredAt)
	assert.Equal(t, TimeExplicit, ev[0].Data.OccurredAtSource)
	assert.Equal(t, StatusBooked, ev[0].Status)
	assert.Equal(t, "royalmail", ev[0].Carrier)
	assert.Equal(t, "InfoReceived_001", ev[0].CarrierStatus.Code)
}

// ---- Shippo ----

func shippoWebhook(status string) string {
	return `{"event":"track_updated","test":true,"data":{"carrier":"usps","tracking_number":"9205590164917312751089",
	 "eta":"2026-03-14T00:00:00Z","metadata":"Order 000123","servicelevel":{"token":"usps_priority","name":"Priority Mail"},
	 "tracking_status":` + status + `,
	 "tracking_history":[
	   {"object_id":"h1","status":"PRE_TRANSIT","substatus":{"code":"information_received","text":"Information received."},
	    "status_details":"Label created","status_date":"2026-03-11T15:00:00Z","location":null},
	   {"object_id":"h2","status":"TRANSIT","substatus":null,
	    "status_details":"Accepted","status_date":"2026-03-11T23:05:00Z","location":{"city":"Las Vegas","state":"NV","zip":"89101","country":"US"}}]}}`
}

func TestShippoTrackingStatusDedupe(t *testing.T) {
	n := aggNormalizer(t,
		aggRow("shippo", "substatus", "delivered", StatusDelivered, "SUCCESSFULLY_DELIVERED"),
		aggRow("shippo", "status", "TRANSIT", StatusInTransit, "IN_TRANSIT"),
	)
	tests := []struct {
		name, status string
		want         int
	}{
		{"status repeating a history entry is not added", `{"object_id":"h2","status":"TRANSIT","status_details":"Accepted","status_date":"2026-03-11T23:05:00Z"}`, 2},
		{"status with a new object_id is added", `{"object_id":"s9","status":"DELIVERED","substatus":{"code":"delivered","text":"Delivered."},"status_details":"Delivered","status_date":"2026-03-14T17:58:00Z"}`, 3},
		{"status without object_id, same scan, dropped as a repeat", `{"status":"TRANSIT","status_details":"Accepted","status_date":"2026-03-11T23:05:00Z"}`, 2},
		{"null tracking_status", `null`, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := n.Normalize(FormatShippo, []byte(shippoWebhook(tc.status)))
			require.NoError(t, err)
			require.Len(t, ev, tc.want)
			aggValid(t, ev)
			last := ev[len(ev)-1]
			if tc.want == 3 {
				assert.Equal(t, StatusDelivered, last.Status)
				assert.Equal(t, CarrierStatus{Code: "delivered", Type: "DELIVERED", Description: "Delivered.", Namespace: "substatus"}, *last.CarrierStatus)
			} else {
				assert.Equal(t, StatusInTransit, last.Status)
				assert.Equal(t, CarrierStatus{Code: "TRANSIT", Type: "TRANSIT", Description: "Accepted", Namespace: "status"}, *last.CarrierStatus)
			}
			for _, e := range ev {
				assert.True(t, e.TestMode)
				assert.Equal(t, "Order 000123", e.Data.Extra["metadata"])
				assert.Equal(t, "Priority Mail", e.Data.Service)
				require.NotNil(t, e.Data.EstimatedDelivery)
			}
			assert.Nil(t, ev[0].Data.Location)
			assert.Equal(t, &Location{City: "Las Vegas", State: "NV", PostalCode: "89101", Country: "US"}, ev[1].Data.Location)
		})
	}
}

func TestShippoBareTrackMatchesWebhook(t *testing.T) {
	n := aggNormalizer(t)
	var env struct {
		Data json.RawMessage `json:"data"`
	}
	raw := shippoWebhook(`null`)
	require.NoError(t, json.Unmarshal([]byte(raw), &env))
	a, err := n.Normalize(FormatShippo, []byte(raw))
	require.NoError(t, err)
	b, err := n.Normalize(FormatDetect, env.Data)
	require.NoError(t, err)
	require.Len(t, b, len(a))
	for i := range a {
		assert.Equal(t, a[i].ID, b[i].ID)
		assert.False(t, b[i].TestMode, "a bare Track has no test flag")
	}
}

// ---- Karrio ----

const karrioTrackerJSON = `{"id":"trk_1","tracking_number":"1Z999AA10123456784","carrier_name":"ups","status":"in_transit",
 "test_mode":true,"estimated_delivery":"2026-01-19","info":{"shipment_service":"UPS Ground","signed_by":"LEE"},
 "events":[
  {"date":"2026-01-16","time":"14:05","code":"DP","description":"Departed from Facility","location":"Hodgkins, IL, US","status":"in_transit"},
  {"date":"2026-01-16","time":"08:30","code":"AR","description":"Arrived at Facility","location":"Hodgkins, IL, US","status":"in_transit"},
  {"timestamp":"2026-01-17T15:02:00-05:00","code":"D","description":"Delivered","location":"Front door","status":"delivered"},
  {"date":"2026-01-15","time":"","code":"MP","description":"Label created","status":"pending"}]}`

func TestKarrioEnvelopeShapesAgree(t *testing.T) {
	n := aggNormalizer(t,
		aggRow("karrio", "status", "in_transit", StatusInTransit, "IN_TRANSIT"),
		aggRow("karrio", "status", "delivered", StatusDelivered, "SUCCESSFULLY_DELIVERED"),
		aggRow("karrio", "status", "pending", StatusBooked, "INFO_RECEIVED"),
	)
	shapes := map[string]string{
		"bare tracker":  karrioTrackerJSON,
		"data.tracking": `{"id":"evt_1","type":"tracking.updated","data":{"tracking":` + karrioTrackerJSON + `},"test_mode":true,"created_at":"2026-01-17T20:03:00Z"}`,
		"data tracker":  `{"id":"evt_2","type":"tracker.updated","data":` + karrioTrackerJSON + `,"test_mode":true,"created_at":"2026-01-17T20:03:00Z"}`,
		"status_updated": `{"id":"evt_3","type":"tracking.status_updated","data":{"tracking":` + karrioTrackerJSON +
			`},"test_mode":true,"pending_webhooks":0,"created_at":"2026-01-17T20:03:00Z"}`,
	}
	want, err := n.Normalize(FormatKarrio, []byte(karrioTrackerJSON))
	require.NoError(t, err)
	require.Len(t, want, 4)
	aggValid(t, want)
	wantJSON, _ := json.Marshal(want)
	for name, raw := range shapes {
		t.Run(name, func(t *testing.T) {
			f, err := DetectFormat([]byte(raw))
			require.NoError(t, err)
			assert.Equal(t, FormatKarrio, f)
			got, err := n.Normalize(FormatDetect, []byte(raw))
			require.NoError(t, err)
			gotJSON, _ := json.Marshal(got)
			assert.JSONEq(t, string(wantJSON), string(gotJSON))
		})
	}

	// The content itself.
	assert.Equal(t, time.Date(2026, 1, 15, 0, 0, 0, 0, time.UTC), want[0].OccurredAt)
	assert.Equal(t, TimeDateOnly, want[0].Data.OccurredAtSource)
	assert.Equal(t, StatusBooked, want[0].Status)
	assert.Equal(t, time.Date(2026, 1, 16, 8, 30, 0, 0, time.UTC), want[1].OccurredAt)
	assert.Equal(t, TimeAssumedUTC, want[1].Data.OccurredAtSource)
	assert.Equal(t, "2026-01-16 08:30", want[1].Data.CarrierTime)
	assert.Equal(t, &Location{City: "Hodgkins", State: "IL", Country: "US"}, want[1].Data.Location)
	assert.Equal(t, CarrierStatus{Code: "AR", Type: "in_transit", Description: "Arrived at Facility", Namespace: "status"}, *want[1].CarrierStatus)
	assert.NotEqual(t, want[1].ID, want[2].ID)
	assert.Equal(t, time.Date(2026, 1, 17, 20, 2, 0, 0, time.UTC), want[3].OccurredAt)
	assert.Equal(t, TimeExplicit, want[3].Data.OccurredAtSource)
	assert.Equal(t, StatusDelivered, want[3].Status)
	assert.Equal(t, "LEE", want[3].Data.SignedBy)
	assert.Empty(t, want[2].Data.SignedBy)
	assert.Nil(t, want[3].Data.Location)
	assert.Equal(t, "Front door", want[3].Data.Extra["location_text"])
	for _, e := range want {
		assert.Equal(t, "ups", e.Carrier)
		assert.True(t, e.TestMode)
		assert.Equal(t, "UPS Ground", e.Data.Service)
	}
}

func TestKarrioDateTimeForms(t *testing.T) {
	tests := []struct {
		date, clock string
		want        time.Time
		src         string
	}{
		{"2024-01-16", "08:30", time.Date(2024, 1, 16, 8, 30, 0, 0, time.UTC), TimeAssumedUTC},
		{"2024-01-16", "08:30:15", time.Date(2024, 1, 16, 8, 30, 15, 0, time.UTC), TimeAssumedUTC},
		{"01/16/2024", "08:30 AM", time.Date(2024, 1, 16, 8, 30, 0, 0, time.UTC), TimeAssumedUTC},
		{"01/16/2024", "12:05 am", time.Date(2024, 1, 16, 0, 5, 0, 0, time.UTC), TimeAssumedUTC},
		{"1/6/2024", "8:30 PM", time.Date(2024, 1, 6, 20, 30, 0, 0, time.UTC), TimeAssumedUTC},
		{"2024-01-16", "", time.Date(2024, 1, 16, 0, 0, 0, 0, time.UTC), TimeDateOnly},
	}
	for _, tc := range tests {
		got, src, err := parseKarrioDateTime(tc.date, tc.clock)
		require.NoError(t, err, "%s %s", tc.date, tc.clock)
		assert.Equal(t, tc.want, got, "%s %s", tc.date, tc.clock)
		assert.Equal(t, tc.src, src)
	}
	for _, bad := range [][2]string{{"16.01.2024", ""}, {"2024-02-30", "08:00"}, {"2024-01-16", "25:00"}, {"2024-01-16", "soon"}} {
		_, _, err := parseKarrioDateTime(bad[0], bad[1])
		assert.Error(t, err, "%q %q", bad[0], bad[1])
	}
}

func TestKarrioCarrierFallback(t *testing.T) {
	n := aggNormalizer(t,
		aggRow("fedex", "event_type", "PU", StatusPickedUp, "PICKED_UP"),
		aggRow("ups", "type", "I", StatusInTransit, "IN_TRANSIT"),
		aggRow("ups", "type_code", "I:DP", StatusInTransit, "DEPARTED_FACILITY"),
		aggRow("dhl_express", "event_code", "DP", StatusInTransit, "DEPARTED_FACILITY"),
		aggRow("dhl", "status", "DP", StatusError, "CARRIER_EXCEPTION"),
	)
	payload := func(carrier string) string {
		return `{"tracking_number":"T1","carrier_name":"` + carrier + `","events":[
		  {"timestamp":"2026-02-10T01:20:00Z","code":"PU","description":"Picked up"},
		  {"timestamp":"2026-02-10T05:20:00Z","code":"DP","description":"Departed"}]}`
	}
	ev, err := n.Normalize(FormatKarrio, []byte(payload("fedex")))
	require.NoError(t, err)
	require.Len(t, ev, 2)
	assert.Equal(t, StatusPickedUp, ev[0].Status, "single-namespace carrier table is used")
	assert.Equal(t, "event_type", ev[0].CarrierStatus.Namespace)
	assert.Equal(t, StatusUnknown, ev[1].Status, "code missing from the carrier table")
	assert.Equal(t, "DP", ev[1].CarrierStatus.Code)

	ev, err = n.Normalize(FormatKarrio, []byte(payload("ups")))
	require.NoError(t, err)
	for _, e := range ev {
		assert.Equal(t, StatusUnknown, e.Status, "a carrier with several namespaces is not guessed at")
	}

	// Karrio's carrier name picks the table; the envelope keeps the slug.
	ev, err = n.Normalize(FormatKarrio, []byte(payload("dhl_express")))
	require.NoError(t, err)
	require.Len(t, ev, 2)
	assert.Equal(t, "dhl", ev[1].Carrier)
	assert.Equal(t, "DEPARTED_FACILITY", ev[1].EventName, "dhl_express table, not the dhl one")
	assert.Equal(t, "event_code", ev[1].CarrierStatus.Namespace)
}

// ---- Fulfillment ----

func TestFulfillmentRecordEvents(t *testing.T) {
	n := aggNormalizer(t)
	tests := []struct{ kind, ref string }{
		{"shipment.updated", "shipments/updated"},
		{"shipment.items.assigned", "shipments/items_assigned"},
		{"shipment.deleted", "shipments/deleted"},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			raw := `{"id":"evt_abc123","kind":"` + tc.kind + `","time":"2024-01-15T10:30:00Z","transactionId":"txn_xyz789",
			 "shipmentId":"shp_456","shipmentShortId":"SHP-001","shipmentOrderId":"ord_789"}`
			ev, err := n.Normalize(FormatDetect, []byte(raw))
			require.NoError(t, err)
			require.Len(t, ev, 1)
			e := ev[0]
			a, ok := LookupAction(tc.ref)
			require.True(t, ok)
			assert.Empty(t, e.Status)
			assert.Empty(t, e.Phase)
			assert.Nil(t, e.CarrierStatus)
			assert.Equal(t, tc.ref, e.Ref)
			assert.Equal(t, a.Type, e.Type)
			assert.Equal(t, a.EventName, e.EventName)
			assert.Equal(t, a.Group, e.EventGroup)
			assert.Equal(t, SourceShipments, e.Source)
			assert.Equal(t, "txn_xyz789", e.TransactionID)
			assert.Equal(t, "shp_456", e.Data.ShipmentID)
			assert.Equal(t, "ord_789", e.Data.OrderID)
			assert.Equal(t, "SHP-001", e.Data.Extra["shipment_short_id"])
			assert.Equal(t, time.Date(2024, 1, 15, 10, 30, 0, 0, time.UTC), e.OccurredAt)
			require.NoError(t, e.Validate())

			again, err := n.Normalize(FormatFulfillment, []byte(raw))
			require.NoError(t, err)
			assert.Equal(t, e.ID, again[0].ID, "same delivery, same id")
			other, err := n.Normalize(FormatFulfillment, []byte(strings.Replace(raw, "evt_abc123", "evt_abc124", 1)))
			require.NoError(t, err)
			assert.NotEqual(t, e.ID, other[0].ID, "another delivery, another id")
		})
	}
}

func TestFulfillmentStatusEvents(t *testing.T) {
	n := aggNormalizer(t,
		aggRow("fulfillment", "status", "in_transit", StatusInTransit, "IN_TRANSIT"),
		aggRow("fulfillment", "status", "picking", StatusBooked, "PICKING_STARTED"),
	)
	created := `{"id":"evt_1","kind":"shipment.created","time":"2024-01-15T10:30:00Z","transactionId":"txn_1","shipmentId":"shp_456","shipmentShortId":"SHP-001"}`
	ev, err := n.Normalize(FormatFulfillment, []byte(created))
	require.NoError(t, err)
	require.Len(t, ev, 1)
	assert.Equal(t, TypeShipmentCreated, ev[0].Type)
	assert.Equal(t, StatusBooked, ev[0].Status, "created without a pending row is still a booking")
	assert.Equal(t, "SHIPMENT_CREATED", ev[0].EventName)
	assert.Empty(t, ev[0].Carrier)
	assert.Equal(t, "shp_456", ev[0].TrackingNumber)
	assert.Equal(t, "txn_1", ev[0].TransactionID)
	assert.Equal(t, CarrierStatus{Code: "pending", Type: "shipment.created", Namespace: "status"}, *ev[0].CarrierStatus)
	aggValid(t, ev)

	changed := `{"id":"evt_2","kind":"shipment.status.changed","time":"2024-01-15T12:00:00Z","transactionId":"txn_2",
	 "shipmentId":"shp_456","shipmentShortId":"SHP-001","previousShipmentStatus":"picking","currentShipmentStatus":"in_transit"}`
	ev, err = n.Normalize(FormatDetect, []byte(changed))
	require.NoError(t, err)
	require.Len(t, ev, 1)
	assert.Equal(t, TypeShipmentStatus, ev[0].Type)
	assert.Equal(t, StatusInTransit, ev[0].Status)
	assert.Equal(t, "picking", ev[0].Data.PreviousStatus)
	assert.Equal(t, "shp_456", ev[0].Data.ShipmentID)
	assert.Equal(t, "SHP-001", ev[0].Data.Extra["shipment_short_id"])
	aggValid(t, ev)

	// A whole batch, named or detected from its first element.
	batch := "[" + changed + "," + created + `,{"id":"evt_3","kind":"shipment.deleted","time":"2024-01-16T00:00:00Z","shipmentId":"shp_456"}]`
	ev, err = n.Normalize(FormatFulfillment, []byte(batch))
	require.NoError(t, err)
	require.Len(t, ev, 3)
	assert.Equal(t, []string{TypeShipmentCreated, TypeShipmentStatus, TypeShipmentDeleted}, []string{ev[0].Type, ev[1].Type, ev[2].Type})
	detected, err := n.Normalize(FormatDetect, []byte(batch))
	require.NoError(t, err)
	assert.Equal(t, ev, detected)
	// Keys of later elements or nested objects do not count.
	for _, notBatch := range []string{
		`[{"x":1},` + created + `]`,
		`[{"nested":` + created + `}]`,
		`[[` + created + `]]`,
		`[]`,
	} {
		_, err = n.Normalize(FormatDetect, []byte(notBatch))
		assert.ErrorIs(t, err, ErrUnknownFormat, notBatch)
	}
}

// ---- Errors ----

func TestAggregatorErrors(t *testing.T) {
	n := aggNormalizer(t)
	tests := []struct {
		name, format, raw string
		wantIn            []string // substrings of the error message
	}{
		{"easypost wrong type", FormatEasyPost,
			`{"object":"Event","result":{"object":"Tracker","tracking_code":"X","tracking_details":[{"datetime":17}]}}`,
			[]string{"easypost", "result.tracking_details[0].datetime"}},
		{"easypost bad datetime", FormatEasyPost,
			epTrackerJSON(false, `{"status":"in_transit","datetime":"2026-03-10T04:15:00Z"},{"status":"in_transit","datetime":"yesterday"}`),
			[]string{"result.tracking_details[1]", "datetime", "yesterday"}},
		{"easypost event without result", FormatEasyPost, `{"object":"Event","description":"tracker.updated"}`,
			[]string{"at result", "no result"}},
		{"easypost not a tracker", FormatEasyPost, `{"object":"Event","result":{"object":"Batch"}}`,
			[]string{"not a Tracker"}},
		{"easypost no tracking code", FormatEasyPost, `{"object":"Tracker","tracking_details":[]}`,
			[]string{"tracking_code"}},
		{"easypost nothing to emit", FormatEasyPost, `{"object":"Tracker","tracking_code":"X","tracking_details":[]}`,
			[]string{"no tracking_details and no status"}},
		{"aftership no msg", FormatAfterShip, `{"ts":1,"event":"tracking_update"}`, []string{"at msg", "no msg"}},
		{"aftership bad checkpoint time", FormatAfterShip,
			aftershipPayloadWith(`{"checkpoint_time":"2026-03-11T09:04:00","tag":"InTransit"},{"checkpoint_time":"13/45/2026","tag":"InTransit"}`),
			[]string{"msg.checkpoints[1]", "checkpoint_time"}},
		{"aftership checkpoint without any time", FormatAfterShip, aftershipPayloadWith(`{"tag":"InTransit"}`),
			[]string{"msg.checkpoints[0]", "no checkpoint_time"}},
		{"aftership nothing to emit", FormatAfterShip, `{"ts":1,"msg":{"tracking_number":"X","checkpoints":[]}}`,
			[]string{"msg.tag", "no checkpoints and no tag"}},
		{"aftership wrong type", FormatAfterShip, `{"ts":"soon","msg":{}}`, []string{"ts"}},
		{"shippo wrong event", FormatShippo, `{"event":"transaction_created","data":{}}`, []string{"at event", "transaction_created"}},
		{"shippo nothing to emit", FormatShippo, `{"event":"track_updated","data":{"tracking_number":"X","tracking_history":[]}}`,
			[]string{"data.tracking_history", "no tracking_history and no tracking_status"}},
		{"shippo bad status_date", FormatShippo,
			`{"event":"track_updated","data":{"tracking_number":"X","tracking_history":[{"status":"TRANSIT","status_date":"never"}]}}`,
			[]string{"data.tracking_history[0]", "status_date"}},
		{"karrio not a tracking event", FormatKarrio, `{"type":"shipment.created","data":{"shipment":{}}}`,
			[]string{"at type", "shipment.created"}},
		{"karrio bad date", FormatKarrio,
			`{"type":"tracking.updated","data":{"tracking":{"tracking_number":"X","events":[{"date":"2024-13-45","status":"in_transit"}]}}}`,
			[]string{"data.tracking.events[0]", "2024-13-45"}},
		{"karrio event without time", FormatKarrio,
			`{"tracking_number":"X","carrier_name":"ups","events":[{"code":"DP","status":"in_transit"}]}`,
			[]string{"events[0]", "no timestamp and no date"}},
		{"karrio wrong type", FormatKarrio, `{"tracking_number":"X","carrier_name":"ups","events":{"a":1}}`, []string{"events"}},
		{"karrio nothing to emit", FormatKarrio, `{"tracking_number":"X","carrier_name":"ups","events":[]}`,
			[]string{"no events and no status"}},
		{"fulfillment unknown kind", FormatFulfillment,
			`{"id":"e","kind":"shipment.exploded","time":"2024-01-15T10:30:00Z","shipmentId":"s"}`, []string{"at kind", "unknown kind", "shipment.exploded"}},
		{"fulfillment missing time", FormatFulfillment, `{"id":"e","kind":"shipment.created","shipmentId":"s"}`, []string{"at time", "no time"}},
		{"fulfillment batch element", FormatFulfillment,
			`[{"id":"e","kind":"shipment.created","time":"2024-01-15T10:30:00Z","shipmentId":"s"},{"id":"f","kind":"shipment.status.changed","time":"2024-01-15T10:30:00Z","shipmentId":"s"}]`,
			[]string{"[1].currentShipmentStatus"}},
		{"fulfillment empty batch", FormatFulfillment, `[]`, []string{"empty batch"}},
		{"fulfillment wrong type", FormatFulfillment, `{"kind":"shipment.created","time":12}`, []string{"time"}},
		{"syntax error", FormatShippo, `{"event":"track_updated",`, []string{"shippo"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := n.Normalize(tc.format, []byte(tc.raw))
			require.Error(t, err)
			assert.Nil(t, ev)
			assert.True(t, errors.Is(err, ErrInvalidPayload), "errors.Is(%v, ErrInvalidPayload)", err)
			var pe *PayloadError
			require.True(t, errors.As(err, &pe))
			assert.Equal(t, tc.format, pe.Format)
			for _, s := range tc.wantIn {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
}

// TestAggregatorTruncatedNoPanic feeds every prefix of each fixture and a
// few type-confused variants: errors are fine, panics are not.
func TestAggregatorTruncatedNoPanic(t *testing.T) {
	n := aggNormalizer(t)
	for _, format := range []string{FormatEasyPost, FormatAfterShip, FormatShippo, FormatKarrio, FormatFulfillment} {
		paths, err := filepath.Glob(filepath.Join("testdata", format, "*.json"))
		require.NoError(t, err)
		for _, p := range paths {
			if strings.HasSuffix(p, ".golden.json") {
				continue
			}
			raw, err := os.ReadFile(p)
			require.NoError(t, err)
			for i := 0; i < len(raw); i += 7 {
				_, _ = n.Normalize(format, raw[:i])
			}
			for _, swap := range [][2]string{{`"`, `1`}, {`[`, `{`}, {`null`, `[]`}, {`Z"`, `"`}} {
				_, _ = n.Normalize(format, []byte(strings.ReplaceAll(string(raw), swap[0], swap[1])))
			}
		}
	}
}

func TestAggregatorLocationText(t *testing.T) {
	tests := []struct {
		in   string
		want *Location
	}{
		{"Chicago, IL", &Location{City: "Chicago", State: "IL"}},
		{"Los Angeles, CA, US", &Location{City: "Los Angeles", State: "CA", Country: "US"}},
		{"HERNANDO, FL 34442", &Location{City: "HERNANDO", State: "FL", PostalCode: "34442"}},
		{"SEATTLE, WA, 98101", &Location{City: "SEATTLE", State: "WA", PostalCode: "98101"}},
		{"TORONTO, ON", &Location{City: "TORONTO", State: "ON"}},
		{"United States", nil},
		{"Berlin - Germany", nil},
		{"Manchester Mail Centre", nil},
		{"Chicago, Illinois", nil},
		{"12 Main St, Springfield, IL", nil},
		{"", nil},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, aggLocationText(tc.in), "%q", tc.in)
	}
}

func BenchmarkNormalizeAggregators(b *testing.B) {
	n := NewNormalizer(NormalizerConfig{})
	for _, f := range []struct{ format, path string }{
		{FormatEasyPost, "testdata/easypost/fedex_delivered_event.json"},
		{FormatAfterShip, "testdata/aftership/usps_delivered.json"},
		{FormatShippo, "testdata/shippo/usps_delivered_webhook.json"},
		{FormatKarrio, "testdata/karrio/fedex_tracker_updated.json"},
	} {
		raw, err := os.ReadFile(f.path)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(f.format, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(raw)))
			for b.Loop() {
				if _, err := n.Normalize(f.format, raw); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

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
		{"bad time in the webhook", `{"resource_type":"API_TRACK","data":{"tracking_number":"T1","events":[{"occurred_at":"2025-06-03T06:44:10Z"},{"occurred_at":"soon"}]}}`,
			[]string{"data.events[1]", "soon"}},
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
