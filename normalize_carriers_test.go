package shipevents

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// carrierTestRows is a small crosswalk for the carrier parser tests, so
// that they test the parsers' lookup order and not the embedded tables.
var carrierTestRows = []Row{
	{Carrier: "ups", Namespace: "type_code", Code: "I:OT", Status: StatusOutForDelivery, EventName: "OUT_FOR_DELIVERY"},
	{Carrier: "ups", Namespace: "type_code", Code: "D:FS", Status: StatusDelivered, EventName: "SUCCESSFULLY_DELIVERED"},
	{Carrier: "ups", Namespace: "type", Code: "I", Status: StatusInTransit, EventName: "IN_TRANSIT"},
	{Carrier: "ups", Namespace: "type", Code: "D", Status: StatusDelivered, EventName: "SUCCESSFULLY_DELIVERED"},
	{Carrier: "ups", Namespace: "status_code", Code: "011", Status: StatusDelivered, EventName: "SUCCESSFULLY_DELIVERED"},
	{Carrier: "fedex", Namespace: "event_type", Code: "OD", Status: StatusOutForDelivery, EventName: "OUT_FOR_DELIVERY"},
	{Carrier: "fedex", Namespace: "event_type", Code: "DL", Status: StatusDelivered, EventName: "SUCCESSFULLY_DELIVERED"},
	{Carrier: "fedex", Namespace: "derived_status_code", Code: "IT", Status: StatusInTransit, EventName: "IN_TRANSIT"},
	{Carrier: "dhl", Namespace: "status", Code: "PROCESSED", Status: StatusInTransit, EventName: "PROCESSED_AT_FACILITY"},
	{Carrier: "dhl", Namespace: "status_code", Code: "transit", Status: StatusInTransit, EventName: "IN_TRANSIT"},
	{Carrier: "dhl", Namespace: "status_code", Code: "pre-transit", Status: StatusBooked, EventName: "INFO_RECEIVED"},
	{Carrier: "dhl", Namespace: "status_code", Code: "delivered", Status: StatusDelivered, EventName: "SUCCESSFULLY_DELIVERED"},
	{Carrier: "usps", Namespace: "event_code", Code: "01", Status: StatusDelivered, EventName: "SUCCESSFULLY_DELIVERED"},
	{Carrier: "usps", Namespace: "event_code", Code: "OF", Status: StatusOutForDelivery, EventName: "OUT_FOR_DELIVERY"},
	{Carrier: "usps", Namespace: "event_type", Code: "in transit to next facility", Status: StatusInTransit, EventName: "IN_TRANSIT"},
}

var carrierTestNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func carrierNormalizer(t *testing.T) *Normalizer {
	t.Helper()
	m, err := NewMapper(carrierTestRows...)
	require.NoError(t, err)
	return NewNormalizer(NormalizerConfig{Mapper: m, Now: func() time.Time { return carrierTestNow }})
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return v.UTC()
}

// upsAlertJSON builds a Track Alert webhook body.
func upsAlertJSON(typ, code, descCode, localDate, localTime, gmtDate, gmtTime, offset string) string {
	return fmt.Sprintf(`{"trackingNumber":"1Z999AA10123456784","localActivityDate":%q,"localActivityTime":%q,
		"activityLocation":{"city":"Atlanta","stateProvince":"GA","postalCode":"30303","country":"US"},
		"activityStatus":{"type":%q,"code":%q,"description":"Some activity","descriptionCode":%q},
		"scheduledDeliveryDate":"20250314","gmtActivityDate":%q,"gmtActivityTime":%q,"gmtOffset":%q}`,
		localDate, localTime, typ, code, descCode, gmtDate, gmtTime, offset)
}

func TestUPSTypeCodePrecedence(t *testing.T) {
	n := carrierNormalizer(t)
	tests := []struct {
		name, typ, code, statusCode string
		wantStatus                  Status
		wantEvent                   string
	}{
		{"type+code wins over type", "I", "OT", "021", StatusOutForDelivery, "OUT_FOR_DELIVERY"},
		{"type alone when type+code and status code unknown", "I", "QQ", "999", StatusInTransit, "IN_TRANSIT"},
		{"status code before the bare type", "I", "ZZ", "011", StatusDelivered, "SUCCESSFULLY_DELIVERED"},
		{"status code last", "Q", "ZZ", "011", StatusDelivered, "SUCCESSFULLY_DELIVERED"},
		{"nothing known", "Q", "ZZ", "999", StatusUnknown, "UNMAPPED_STATUS"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := upsAlertJSON(tc.typ, tc.code, tc.statusCode, "20250314", "091519", "20250314", "131519", "-04.00")
			ev, err := n.Normalize(FormatUPS, []byte(raw))
			require.NoError(t, err)
			require.Len(t, ev, 1)
			assert.Equal(t, tc.wantStatus, ev[0].Status)
			assert.Equal(t, tc.wantEvent, ev[0].EventName)
			require.NotNil(t, ev[0].CarrierStatus)
			assert.Equal(t, tc.code, ev[0].CarrierStatus.Code, "raw code kept")
			assert.Equal(t, tc.typ, ev[0].CarrierStatus.Type, "raw type kept")
			assert.Equal(t, "Some activity", ev[0].CarrierStatus.Description)
			assert.NoError(t, ev[0].Validate())
		})
	}

	// The same precedence on the Track API shape.
	api := `{"trackResponse":{"shipment":[{"package":[{"trackingNumber":"1Z999AA10123456784","activity":[
		{"date":"20250314","time":"081200","status":{"type":"I","code":"OT","description":"Out For Delivery Today","statusCode":"021"}},
		{"date":"20250313","time":"224500","status":{"type":"I","code":"AR","description":"Arrived at Facility","statusCode":"005"}}]}]}]}}`
	ev, err := n.Normalize(FormatUPS, []byte(api))
	require.NoError(t, err)
	require.Len(t, ev, 2)
	assert.Equal(t, StatusInTransit, ev[0].Status)
	assert.Equal(t, StatusOutForDelivery, ev[1].Status)
	assert.Equal(t, "021", ev[1].Data.Extra["status_code"])
}

func TestUPSTimes(t *testing.T) {
	n := carrierNormalizer(t)
	tests := []struct {
		name                                           string
		localDate, localTime, gmtDate, gmtTime, offset string
		want                                           string
		wantSource                                     string
		wantCarrier                                    string
	}{
		{"GMT fields are already GMT, -04.00 ignored", "20250423", "091519", "20250423", "131519", "-04.00",
			"2025-04-23T13:15:19Z", TimeExplicit, "20250423 091519"},
		{"GMT date differs from local date", "20250422", "212901", "20250423", "012901", "-04.00",
			"2025-04-23T01:29:01Z", TimeExplicit, "20250422 212901"},
		{"local time shifted by -04.00", "20250423", "091519", "", "", "-04.00",
			"2025-04-23T13:15:19Z", TimeExplicit, "20250423 091519"},
		{"local time shifted by -0400", "20250423", "091519", "", "", "-0400",
			"2025-04-23T13:15:19Z", TimeExplicit, "20250423 091519"},
		{"local time shifted by +05:30", "20250423", "091519", "", "", "+05:30",
			"2025-04-23T03:45:19Z", TimeExplicit, "20250423 091519"},
		{"local only is assumed UTC", "20250423", "091519", "", "", "",
			"2025-04-23T09:15:19Z", TimeAssumedUTC, "20250423 091519"},
		{"GMT time without its leading zero", "20250423", "034700", "20250423", "74700", "-04:00",
			"2025-04-23T07:47:00Z", TimeExplicit, "20250423 034700"},
		{"GMT time with colons", "20250423", "034700", "20250423", "07:47:00", "-04:00",
			"2025-04-23T07:47:00Z", TimeExplicit, "20250423 034700"},
		{"date only", "20250423", "", "", "", "",
			"2025-04-23T00:00:00Z", TimeDateOnly, "20250423"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := upsAlertJSON("I", "OT", "021", tc.localDate, tc.localTime, tc.gmtDate, tc.gmtTime, tc.offset)
			ev, err := n.Normalize(FormatUPS, []byte(raw))
			require.NoError(t, err)
			require.Len(t, ev, 1)
			assert.Equal(t, mustTime(t, tc.want), ev[0].OccurredAt)
			assert.Equal(t, tc.wantSource, ev[0].Data.OccurredAtSource)
			assert.Equal(t, tc.wantCarrier, ev[0].Data.CarrierTime)
		})
	}
}

func TestUPSAlertFields(t *testing.T) {
	n := carrierNormalizer(t)
	raw := `{"trackingNumber":" 1Z204W4R0308071865","localActivityDate":"20240423","localActivityTime":"095004",
		"activityLocation":{"city":"CHARLOTTE","stateProvince":"NC","postalCode":"28209","country":"US"},
		"activityStatus":{"type":"D","code":"FS","description":"Delivered","descriptionCode":11},
		"scheduledDeliveryDate":"","actualDeliveryDate":"20240423","actualDeliveryTime":"095004",
		"gmtActivityDate":"20240423","gmtActivityTime":"135004","receivedBy":"OKAFOR"}`
	ev, err := n.Normalize(FormatDetect, []byte(raw))
	require.NoError(t, err)
	require.Len(t, ev, 1)
	e := ev[0]
	assert.Equal(t, "ups", e.Carrier)
	assert.Equal(t, "1Z204W4R0308071865", e.TrackingNumber, "tracking number trimmed")
	assert.Equal(t, StatusDelivered, e.Status)
	assert.Equal(t, "OKAFOR", e.Data.SignedBy)
	assert.Equal(t, &Location{City: "CHARLOTTE", State: "NC", PostalCode: "28209", Country: "US"}, e.Data.Location)
	assert.Equal(t, mustTime(t, "2024-04-23T13:50:04Z"), e.OccurredAt)
	assert.Nil(t, e.Data.EstimatedDelivery, "empty scheduledDeliveryDate")
	assert.Equal(t, "11", e.Data.Extra["status_code"], "numeric descriptionCode accepted")
}

func TestUPSNewestFirstComesOutOldestFirst(t *testing.T) {
	n := carrierNormalizer(t)
	// Newest first, as UPS sends it; the last two share an instant, so only
	// the payload order can tell which came first (the later index).
	raw := `{"trackResponse":{"shipment":[{"inquiryNumber":"1Z999AA10123456784","package":[{"trackingNumber":"1Z999AA10123456784",
		"deliveryDate":[{"type":"SDD","date":"20250314"},{"type":"RDD","date":"20250315"}],
		"deliveryInformation":{"receivedBy":"JONES"},
		"activity":[
		{"date":"20250315","time":"141500","gmtDate":"20250315","gmtTime":"181500","gmtOffset":"-04:00","status":{"type":"D","code":"FS","description":"Delivered"}},
		{"date":"20250315","time":"071000","gmtDate":"20250315","gmtTime":"111000","gmtOffset":"-04:00","status":{"type":"I","code":"OT","description":"Out For Delivery Today"},
		 "location":{"address":{"city":"Atlanta","stateProvince":"GA","postalCode":"30303","country":"US"}}},
		{"date":"20250313","time":"224500","gmtDate":"20250314","gmtTime":"024500","gmtOffset":"-04:00","status":{"type":"I","code":"DP","description":"Departed from Facility"}},
		{"date":"20250313","time":"224500","gmtDate":"20250314","gmtTime":"024500","gmtOffset":"-04:00","status":{"type":"I","code":"AR","description":"Arrived at Facility"}}
		]}]}]}}`
	ev, err := n.Normalize(FormatUPS, []byte(raw))
	require.NoError(t, err)
	var codes []string
	for _, e := range ev {
		codes = append(codes, e.CarrierStatus.Code)
	}
	assert.Equal(t, []string{"AR", "DP", "OT", "FS"}, codes)
	assert.Equal(t, mustTime(t, "2025-03-14T02:45:00Z"), ev[0].OccurredAt)
	assert.Equal(t, "20250313 224500", ev[0].Data.CarrierTime)
	assert.Equal(t, StatusOutForDelivery, ev[2].Status)
	assert.Equal(t, &Location{City: "Atlanta", State: "GA", PostalCode: "30303", Country: "US"}, ev[2].Data.Location)
	assert.Equal(t, "JONES", ev[3].Data.SignedBy, "receivedBy on the delivered activity")
	assert.Empty(t, ev[2].Data.SignedBy, "and on no other")
	require.NotNil(t, ev[0].Data.EstimatedDelivery)
	assert.Equal(t, mustTime(t, "2025-03-15T00:00:00Z"), *ev[0].Data.EstimatedDelivery, "rescheduled date wins")
}

func TestUPSSeveralPackages(t *testing.T) {
	n := carrierNormalizer(t)
	raw := `{"trackResponse":{"shipment":[
		{"inquiryNumber":"1ZAAA","package":[
			{"trackingNumber":"1ZAAA","activity":[{"date":"20250314","time":"081200","status":{"type":"I","code":"OT"}}]},
			{"trackingNumber":"1ZBBB","activity":[{"date":"20250314","time":"091200","status":{"type":"D","code":"FS"}}]}]},
		{"inquiryNumber":"1ZCCC","package":[
			{"activity":[{"date":"20250313","time":"101200","status":{"type":"I","code":"AR"}}]}]},
		{"inquiryNumber":"1ZDDD","warnings":[{"code":"TW0001","message":"Tracking Information Not Found"}]}]}}`
	ev, err := n.Normalize(FormatUPS, []byte(raw))
	require.NoError(t, err)
	got := map[string]Status{}
	for _, e := range ev {
		got[e.TrackingNumber] = e.Status
	}
	assert.Equal(t, map[string]Status{"1ZAAA": StatusOutForDelivery, "1ZBBB": StatusDelivered, "1ZCCC": StatusInTransit}, got,
		"each package under its own number; a lone package falls back to the inquiry number")
}

func TestFedExEventTypePreferred(t *testing.T) {
	n := carrierNormalizer(t)
	tests := []struct {
		name, eventType, derived string
		wantStatus               Status
		wantNamespace            string // the table that decided, or the first asked
	}{
		{"eventType wins", "OD", "IT", StatusOutForDelivery, "event_type"},
		{"derivedStatusCode as fallback", "XX", "IT", StatusInTransit, "derived_status_code"},
		{"neither known", "XX", "", StatusUnknown, "event_type"},
		{"neither known, derived unknown too", "XX", "ZZ", StatusUnknown, "event_type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := fmt.Sprintf(`{"transactionId":"t1","output":{"completeTrackResults":[{"trackingNumber":"794600000000","trackResults":[{
				"trackingNumberInfo":{"trackingNumber":"794600000000","carrierCode":"FDXG"},
				"scanEvents":[{"date":"2025-03-14T04:44:00-05:00","eventType":%q,"eventDescription":"On FedEx vehicle for delivery",
					"exceptionCode":"","exceptionDescription":"","derivedStatusCode":%q,
					"scanLocation":{"city":"MANKATO","stateOrProvinceCode":"MN","countryCode":"US"}}]}]}]}}`, tc.eventType, tc.derived)
			ev, err := n.Normalize(FormatDetect, []byte(raw))
			require.NoError(t, err)
			require.Len(t, ev, 1)
			e := ev[0]
			assert.Equal(t, tc.wantStatus, e.Status)
			assert.Equal(t, &CarrierStatus{Code: tc.eventType, Description: "On FedEx vehicle for delivery", Namespace: tc.wantNamespace}, e.CarrierStatus)
			assert.Equal(t, mustTime(t, "2025-03-14T09:44:00Z"), e.OccurredAt)
			assert.Equal(t, TimeExplicit, e.Data.OccurredAtSource)
			assert.Equal(t, "2025-03-14T04:44:00-05:00", e.Data.CarrierTime)
			if tc.derived != "" {
				assert.Equal(t, tc.derived, e.Data.Extra["derived_status_code"])
			} else {
				assert.NotContains(t, e.Data.Extra, "derived_status_code")
			}
			assert.Equal(t, "FDXG", e.Data.Extra["carrier_code"])
			assert.NotContains(t, e.Data.Extra, "exception_code", "empty exception fields are left out")
		})
	}
}

func TestFedExSeveralResults(t *testing.T) {
	n := carrierNormalizer(t)
	raw := `{"transactionId":"t2","output":{"completeTrackResults":[
		{"trackingNumber":"111111111111","trackResults":[
			{"trackingNumberInfo":{"trackingNumber":"111111111111","carrierCode":"FDXE"},
			 "serviceDetail":{"description":"FedEx Priority Overnight"},
			 "dateAndTimes":[{"type":"ESTIMATED_DELIVERY","dateTime":"2025-06-04T10:30:00-04:00"}],
			 "scanEvents":[{"date":"2025-06-04T01:12:00-05:00","eventType":"AR","derivedStatusCode":"IT"}]},
			{"trackingNumberInfo":{"trackingNumber":"111111111111"},
			 "deliveryDetails":{"receivedByName":"S.PATEL"},
			 "scanEvents":[
				{"date":"2024-11-19T15:21:00-05:00","eventType":"DL","exceptionCode":"","derivedStatusCode":"DL"},
				{"date":"2024-11-19T08:02:00-05:00","eventType":"DE","exceptionCode":"08","exceptionDescription":"Customer not available"}]}]},
		{"trackingNumber":"222222222222","trackResults":[{"trackingNumberInfo":{"trackingNumber":"222222222222"},
			"error":{"code":"TRACKING.TRACKINGNUMBER.NOTFOUND","message":"Tracking number cannot be found."}}]},
		{"trackingNumber":"333333333333","trackResults":[{"scanEvents":[{"date":"2025-06-01T10:00:00Z","eventType":"PU"}]}]}]}}`
	ev, err := n.Normalize(FormatFedEx, []byte(raw))
	require.NoError(t, err)
	require.Len(t, ev, 4, "the not-found result is skipped")
	assert.Equal(t, "111111111111", ev[0].TrackingNumber)
	assert.Equal(t, "DE", ev[0].CarrierStatus.Code)
	assert.Equal(t, map[string]any{"exception_code": "08", "exception_description": "Customer not available"}, ev[0].Data.Extra)
	assert.Equal(t, StatusDelivered, ev[1].Status)
	assert.Equal(t, "S.PATEL", ev[1].Data.SignedBy)
	assert.Equal(t, "333333333333", ev[2].TrackingNumber, "falls back to completeTrackResults[].trackingNumber")
	assert.Equal(t, "FedEx Priority Overnight", ev[3].Data.Service)
	require.NotNil(t, ev[3].Data.EstimatedDelivery)
	assert.Equal(t, mustTime(t, "2025-06-04T14:30:00Z"), *ev[3].Data.EstimatedDelivery)
}

func TestUSPSGMTTimestampPreferred(t *testing.T) {
	n := carrierNormalizer(t)
	tests := []struct {
		name        string
		event       string
		want        string
		wantSource  string
		wantCarrier string
	}{
		{"GMTTimestamp wins", `"eventTimestamp":"2025-03-14T13:58:00","GMTTimestamp":"2025-03-14T17:58:40Z","GMTOffset":"-04:00"`,
			"2025-03-14T17:58:40Z", TimeExplicit, "2025-03-14T13:58:00"},
		{"GMTTimestamp without Z is still GMT", `"eventTimestamp":"2025-03-14T13:58:00","GMTTimestamp":"2025-03-14T17:58:40"`,
			"2025-03-14T17:58:40Z", TimeExplicit, "2025-03-14T13:58:00"},
		{"local time shifted by GMTOffset", `"eventTimestamp":"2025-03-14T13:58:00","GMTTimestamp":null,"GMTOffset":"-04:00"`,
			"2025-03-14T17:58:00Z", TimeExplicit, "2025-03-14T13:58:00"},
		{"local time only", `"eventTimestamp":"2025-03-14T13:58:00","GMTTimestamp":null,"GMTOffset":null`,
			"2025-03-14T13:58:00Z", TimeAssumedUTC, "2025-03-14T13:58:00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := `{"trackingNumber":"9400100000000000000000","mailClass":"USPS Ground Advantage","expectedDeliveryTimeStamp":null,
				"trackingEvents":[{"eventType":"Delivered, In/At Mailbox","eventCode":"01",` + tc.event + `,
				"eventCity":"HERNANDO","eventState":"FL","eventZIP":"34442","eventCountry":null,"firm":null,"name":null,"authorizedAgent":false}]}`
			ev, err := n.Normalize(FormatDetect, []byte(raw))
			require.NoError(t, err)
			require.Len(t, ev, 1)
			e := ev[0]
			assert.Equal(t, mustTime(t, tc.want), e.OccurredAt)
			assert.Equal(t, tc.wantSource, e.Data.OccurredAtSource)
			assert.Equal(t, tc.wantCarrier, e.Data.CarrierTime)
			assert.Equal(t, StatusDelivered, e.Status)
			assert.Equal(t, &CarrierStatus{Code: "01", Description: "Delivered, In/At Mailbox", Namespace: "event_code"}, e.CarrierStatus)
			assert.Equal(t, &Location{City: "HERNANDO", State: "FL", PostalCode: "34442"}, e.Data.Location)
			assert.Equal(t, "USPS Ground Advantage", e.Data.Service)
		})
	}
}

func TestUSPSLookupOrder(t *testing.T) {
	n := carrierNormalizer(t)
	raw := `{"trackingNumber":"9400100000000000000000","trackingEvents":[
		{"eventType":"Out for Delivery","eventCode":"OF","GMTTimestamp":"2025-03-14T11:10:00Z"},
		{"eventType":"  In Transit to Next Facility ","eventCode":"NT","GMTTimestamp":"2025-03-13T11:10:00Z"},
		{"eventType":"Something New","eventCode":"Q7","GMTTimestamp":"2025-03-12T11:10:00Z"}]}`
	ev, err := n.Normalize(FormatUSPS, []byte(raw))
	require.NoError(t, err)
	require.Len(t, ev, 3)
	assert.Equal(t, StatusUnknown, ev[0].Status)
	assert.Equal(t, "Q7", ev[0].CarrierStatus.Code, "unknown code kept")
	assert.Equal(t, StatusInTransit, ev[1].Status, "event text, trimmed and lower-cased")
	assert.Equal(t, StatusOutForDelivery, ev[2].Status, "event code")
}

func TestDHLEvents(t *testing.T) {
	n := carrierNormalizer(t)
	raw := `{"shipments":[
		{"id":"00340434292135100100","service":"parcel-de",
		 "status":{"timestamp":"2025-03-14T09:12:00Z","statusCode":"transit","status":"PROCESSED"},
		 "estimatedTimeOfDelivery":"2025-03-14T00:00:00Z",
		 "events":[
			{"timestamp":"2025-03-14T09:12:00","statusCode":"transit","status":"PROCESSED","description":"Loaded onto the delivery vehicle",
			 "location":{"address":{"addressLocality":"Berlin","postalCode":"10115","countryCode":"DE"}}},
			{"timestamp":"2025-03-13T18:40:00+01:00","statusCode":"pre-transit","status":"ACCEPTED","description":"Electronic notification received"},
			{"timestamp":"2025-03-13T20:00:00","statusCode":"weird","status":"MYSTERY","remark":"new"}]},
		{"id":"JJD000390007751234","service":"express",
		 "status":{"timestamp":"2025-03-10T08:00:00Z","statusCode":"delivered","description":"Delivered"}}]}`
	ev, err := n.Normalize(FormatDetect, []byte(raw))
	require.NoError(t, err)
	require.Len(t, ev, 4)

	st := ev[0] // the status-only shipment
	assert.Equal(t, "JJD000390007751234", st.TrackingNumber)
	assert.Equal(t, StatusDelivered, st.Status)
	assert.Equal(t, &CarrierStatus{Code: "delivered", Description: "Delivered", Namespace: "status_code"}, st.CarrierStatus)
	assert.Equal(t, TimeExplicit, st.Data.OccurredAtSource)

	acc := ev[1]
	assert.Equal(t, mustTime(t, "2025-03-13T17:40:00Z"), acc.OccurredAt)
	assert.Equal(t, StatusBooked, acc.Status, "status word unknown, statusCode decides")
	assert.Equal(t, &CarrierStatus{Code: "ACCEPTED", Type: "pre-transit", Description: "Electronic notification received", Namespace: "status_code"}, acc.CarrierStatus)

	unk := ev[2]
	assert.Equal(t, StatusUnknown, unk.Status)
	assert.Equal(t, "MYSTERY", unk.CarrierStatus.Code)
	assert.Equal(t, "new", unk.Data.Extra["remark"])

	proc := ev[3]
	assert.Equal(t, "PROCESSED_AT_FACILITY", proc.EventName, "status word first")
	assert.Equal(t, mustTime(t, "2025-03-14T09:12:00Z"), proc.OccurredAt)
	assert.Equal(t, TimeAssumedUTC, proc.Data.OccurredAtSource, "zone-less event timestamp")
	assert.Equal(t, "2025-03-14T09:12:00", proc.Data.CarrierTime)
	assert.Equal(t, &Location{City: "Berlin", PostalCode: "10115", Country: "DE"}, proc.Data.Location)
	assert.Equal(t, "parcel-de", proc.Data.Service)
	require.NotNil(t, proc.Data.EstimatedDelivery)
	assert.Equal(t, mustTime(t, "2025-03-14T00:00:00Z"), *proc.Data.EstimatedDelivery)
}

func TestCarrierPayloadErrors(t *testing.T) {
	n := carrierNormalizer(t)
	tests := []struct {
		name, format, raw string
		want              []string // substrings of the error message
	}{
		{"ups wrong type for status code", FormatUPS,
			`{"trackResponse":{"shipment":[{"package":[{"trackingNumber":"1Z1","activity":[{"date":"20250314","time":"081200","status":{"type":"I","code":5}}]}]}]}}`,
			[]string{"status.code"}},
		{"ups activity not an array", FormatUPS,
			`{"trackResponse":{"shipment":[{"package":[{"trackingNumber":"1Z1","activity":{"date":"20250314"}}]}]}}`,
			[]string{"activity"}},
		{"ups descriptionCode object", FormatUPS,
			`{"trackingNumber":"1Z1","localActivityDate":"20250314","localActivityTime":"081200","activityStatus":{"type":"I","code":"OT","descriptionCode":{}}}`,
			[]string{"descriptionCode"}},
		{"ups missing tracking number", FormatUPS,
			`{"trackResponse":{"shipment":[{"package":[{"activity":[{"date":"20250314","time":"081200","status":{"type":"I","code":"OT"}}]}]}]}}`,
			[]string{"trackResponse.shipment[0].package[0].trackingNumber", "missing tracking number"}},
		{"ups alert missing tracking number", FormatUPS,
			`{"trackingNumber":"  ","localActivityDate":"20250314","localActivityTime":"081200","activityStatus":{"type":"I","code":"OT"}}`,
			[]string{"missing tracking number"}},
		{"ups no activity", FormatUPS,
			`{"trackResponse":{"shipment":[{"inquiryNumber":"1Z1","warnings":[{"code":"TW0001","message":"Tracking Information Not Found"}]}]}}`,
			[]string{"no activity", "TW0001"}},
		{"ups unparseable date", FormatUPS,
			`{"trackResponse":{"shipment":[{"package":[{"trackingNumber":"1Z1","activity":[{"date":"2025031","time":"081200","status":{"type":"I","code":"OT"}}]}]}]}}`,
			[]string{"activity[0]", "YYYYMMDD"}},
		{"ups no date", FormatUPS,
			`{"trackResponse":{"shipment":[{"package":[{"trackingNumber":"1Z1","activity":[{"status":{"type":"I","code":"OT"}}]}]}]}}`,
			[]string{"activity[0]", "no date"}},
		{"ups bad offset", FormatUPS,
			`{"trackingNumber":"1Z1","localActivityDate":"20250314","localActivityTime":"081200","gmtOffset":"EST","activityStatus":{"type":"I","code":"OT"}}`,
			[]string{"gmtOffset"}},
		{"ups absurd date", FormatUPS,
			`{"trackingNumber":"1Z1","gmtActivityDate":"19700101","gmtActivityTime":"000000","activityStatus":{"type":"I","code":"OT"}}`,
			[]string{"plausible range"}},
		{"ups error response", FormatUPS,
			`{"response":{"errors":[{"code":"TV1002","message":"Invalid inquiry number"}]}}`,
			[]string{"TV1002", "Invalid inquiry number"}},
		{"ups neither shape", FormatUPS, `{"foo":1}`, []string{"trackResponse"}},

		{"fedex wrong type for date", FormatFedEx,
			`{"output":{"completeTrackResults":[{"trackResults":[{"trackingNumberInfo":{"trackingNumber":"1"},"scanEvents":[{"date":20250314,"eventType":"PU"}]}]}]}}`,
			[]string{"scanEvents[0].date"}},
		{"fedex missing tracking number", FormatFedEx,
			`{"output":{"completeTrackResults":[{"trackResults":[{"scanEvents":[{"date":"2025-03-14T04:44:00-05:00","eventType":"PU"}]}]}]}}`,
			[]string{"trackResults[0].trackingNumberInfo.trackingNumber", "missing tracking number"}},
		{"fedex only errors", FormatFedEx,
			`{"output":{"completeTrackResults":[{"trackingNumber":"1","trackResults":[{"error":{"code":"TRACKING.TRACKINGNUMBER.NOTFOUND","message":"not found"}}]}]}}`,
			[]string{"no scan events", "TRACKING.TRACKINGNUMBER.NOTFOUND"}},
		{"fedex empty output", FormatFedEx, `{"transactionId":"x","output":{}}`, []string{"no scan events"}},
		{"fedex scan without date", FormatFedEx,
			`{"output":{"completeTrackResults":[{"trackingNumber":"1","trackResults":[{"scanEvents":[{"eventType":"PU"}]}]}]}}`,
			[]string{"scanEvents[0]", "no date"}},
		{"fedex unparseable date", FormatFedEx,
			`{"output":{"completeTrackResults":[{"trackingNumber":"1","trackResults":[{"scanEvents":[{"date":"yesterday","eventType":"PU"}]}]}]}}`,
			[]string{"scanEvents[0]", "yesterday"}},

		{"dhl wrong type for id", FormatDHL, `{"shipments":[{"id":123,"events":[]}]}`, []string{"shipments[0].id"}},
		{"dhl missing id", FormatDHL,
			`{"shipments":[{"events":[{"timestamp":"2025-03-14T09:12:00","statusCode":"transit"}]}]}`,
			[]string{"shipments[0].id", "missing tracking number"}},
		{"dhl no events", FormatDHL, `{"shipments":[{"id":"1","events":[]}]}`, []string{"no shipment with events"}},
		{"dhl no timestamp", FormatDHL,
			`{"shipments":[{"id":"1","events":[{"statusCode":"transit"}]}]}`,
			[]string{"shipments[0].events[0]", "no timestamp"}},

		{"usps events not an array", FormatUSPS, `{"trackingNumber":"94001","trackingEvents":{}}`, []string{"trackingEvents"}},
		{"usps wrong type for eventCode", FormatUSPS,
			`{"trackingNumber":"94001","trackingEvents":[{"eventCode":1,"GMTTimestamp":"2025-03-14T11:10:00Z"}]}`,
			[]string{"trackingEvents[0].eventCode"}},
		{"usps missing tracking number", FormatUSPS,
			`{"trackingNumber":null,"trackingEvents":[{"eventCode":"01","GMTTimestamp":"2025-03-14T11:10:00Z"}]}`,
			[]string{"missing tracking number"}},
		{"usps no events", FormatUSPS, `{"trackingNumber":"94001","trackingEvents":[]}`, []string{"no tracking events"}},
		{"usps no time", FormatUSPS,
			`{"trackingNumber":"94001","trackingEvents":[{"eventCode":"01","GMTTimestamp":null,"eventTimestamp":""}]}`,
			[]string{"trackingEvents[0]", "neither GMTTimestamp nor eventTimestamp"}},
		{"usps absurd date", FormatUSPS,
			`{"trackingNumber":"94001","trackingEvents":[{"eventCode":"01","GMTTimestamp":"2999-01-01T00:00:00Z"}]}`,
			[]string{"plausible range"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := n.Normalize(tc.format, []byte(tc.raw))
			require.Error(t, err)
			assert.Nil(t, ev)
			assert.True(t, errors.Is(err, ErrInvalidPayload), "errors.Is(%v, ErrInvalidPayload)", err)
			var pe *PayloadError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.format, pe.Format)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

// TestCarrierFixturesDeterministic re-normalizes the carrier fixtures with
// the embedded tables: ids are stable, events valid and sorted, and every
// event keeps the carrier's raw code.
func TestCarrierFixturesDeterministic(t *testing.T) {
	all := fixtures(t)
	for _, format := range []string{FormatUPS, FormatFedEx, FormatDHL, FormatUSPS} {
		require.GreaterOrEqual(t, len(all[format]), 4, "fixtures for %s", format)
		for _, path := range all[format] {
			t.Run(strings.TrimPrefix(path, "testdata/"), func(t *testing.T) {
				raw, err := os.ReadFile(path)
				require.NoError(t, err)
				a, err := Normalize(format, raw)
				require.NoError(t, err)
				b, err := Normalize(FormatDetect, raw)
				require.NoError(t, err)
				require.Equal(t, len(a), len(b))
				for i := range a {
					assert.Equal(t, a[i].ID, b[i].ID)
					assert.Equal(t, format, a[i].Carrier)
					assert.NotEmpty(t, a[i].TrackingNumber)
					require.NotNil(t, a[i].CarrierStatus)
					assert.NotEmpty(t, a[i].CarrierStatus.Code)
					assert.NotEmpty(t, a[i].Data.OccurredAtSource)
					if i > 0 {
						assert.False(t, a[i].OccurredAt.Before(a[i-1].OccurredAt), "sorted oldest first")
					}
				}
			})
		}
	}
}

// ---- DHL Express (MyDHL API) ----

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

// ---- GLS ----

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

// ---- La Poste ----

// laposteJSON builds one Suivi response; holder "" leaves it out.
func laposteJSON(holder, product, events string) string {
	h := ""
	if holder != "" {
		h = `"holder":` + holder + `,`
	}
	return `{"lang":"fr_FR","scope":"open","returnCode":200,"shipment":{"idShip":"6A20817744831",` + h +
		`"product":"` + product + `","isFinal":false,"event":[` + events + `]}}`
}

const laposteDI1 = `{"code":"DI1","label":"Votre colis est livré.","date":"2025-04-09T12:14:00+02:00"}`

func TestLaPosteCarrierFollowsTheNetwork(t *testing.T) {
	n := aggNormalizer(t,
		aggRow("laposte", "code", "DI1", StatusDelivered, "SUCCESSFULLY_DELIVERED"),
		aggRow("colissimo", "code", "DI1", StatusDelivered, "DELIVERED_TO_NEIGHBOR"),
	)
	tests := []struct {
		name, holder, product string
		wantCarrier, wantName string
	}{
		{"holder 4 is Colissimo, its table first", "4", "colissimo", "colissimo", "DELIVERED_TO_NEIGHBOR"},
		{"holder wins over the product", "4", "Lettre suivie", "colissimo", "DELIVERED_TO_NEIGHBOR"},
		{"holder 3 is Chronopost: no table, La Poste's", "3", "Chrono 13", "chronopost", "SUCCESSFULLY_DELIVERED"},
		{"holder 1 is Courrier", "1", "Lettre recommandée", "laposte", "SUCCESSFULLY_DELIVERED"},
		{"no holder: the product says Colissimo", "", "Colissimo Expert International", "colissimo", "DELIVERED_TO_NEIGHBOR"},
		{"no holder: the product says Chronopost", "", "CHRONOPOST Relais", "chronopost", "SUCCESSFULLY_DELIVERED"},
		{"no holder, other product", "", "Lettre suivie", "laposte", "SUCCESSFULLY_DELIVERED"},
		{"unknown holder", "9", "", "laposte", "SUCCESSFULLY_DELIVERED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := n.Normalize(FormatLaPoste, []byte(laposteJSON(tc.holder, tc.product, laposteDI1)))
			require.NoError(t, err)
			require.Len(t, ev, 1)
			assert.Equal(t, tc.wantCarrier, ev[0].Carrier)
			assert.Equal(t, tc.wantName, ev[0].EventName)
			assert.Equal(t, "code", ev[0].CarrierStatus.Namespace)
			aggValid(t, ev)
		})
	}
}

func TestLaPosteFields(t *testing.T) {
	n := aggNormalizer(t)
	raw := `{"returnCode":200,"shipment":{"idShip":" 6A20817744831 ","holder":4,"product":"colissimo",
		"estimDate":"2025-04-10T00:00:00+02:00","event":[` + laposteDI1 + `,
		{"code":"MD2","label":"En cours de livraison","date":"2025-04-09T08:21:00+02:00"}]}}`
	ev, err := n.Normalize(FormatLaPoste, []byte(raw))
	require.NoError(t, err)
	require.Len(t, ev, 2)
	md2, di1 := ev[0], ev[1]
	assert.Equal(t, "MD2", md2.CarrierStatus.Code, "newest first in the payload, oldest first out")
	assert.Equal(t, "6A20817744831", di1.TrackingNumber)
	assert.Equal(t, &CarrierStatus{Code: "DI1", Description: "Votre colis est livré.", Namespace: "code"}, di1.CarrierStatus)
	assert.Equal(t, mustTime(t, "2025-04-09T10:14:00Z"), di1.OccurredAt)
	assert.Equal(t, TimeExplicit, di1.Data.OccurredAtSource)
	assert.Equal(t, "2025-04-09T12:14:00+02:00", di1.Data.CarrierTime)
	assert.Equal(t, "colissimo", di1.Data.Service)
	require.NotNil(t, di1.Data.EstimatedDelivery)
	assert.Equal(t, mustTime(t, "2025-04-09T22:00:00Z"), *di1.Data.EstimatedDelivery)
	assert.Nil(t, di1.Data.Location)
}

// TestLaPosteObjectAndArray: a single item comes as an object, several as
// an array of the same responses; unknown items are skipped.
func TestLaPosteObjectAndArray(t *testing.T) {
	n := aggNormalizer(t)
	one := laposteJSON("4", "colissimo", laposteDI1)
	a, err := n.Normalize(FormatDetect, []byte(one))
	require.NoError(t, err)
	notFound := `{"lang":"fr_FR","scope":"open","returnCode":104,"idShip":"6A99999999999","returnMessage":"Votre suivi n'est pas encore disponible."}`
	b, err := n.Normalize(FormatDetect, []byte(" \n["+notFound+","+one+"]"))
	require.NoError(t, err)
	require.Len(t, b, 1)
	assert.Equal(t, a[0].ID, b[0].ID)
	assert.Equal(t, a, b)
}

func TestLaPosteErrors(t *testing.T) {
	n := aggNormalizer(t)
	tests := []struct {
		name, raw string
		want      []string
	}{
		{"not found", `{"returnCode":104,"idShip":"6A99999999999","returnMessage":"Votre suivi n'est pas encore disponible."}`,
			[]string{"no shipment with events", "104 Votre suivi"}},
		{"every item fails", `[{"returnCode":400,"returnMessage":"Le numéro n'est pas valide."},{"returnCode":105,"returnMessage":"Numéro inconnu"}]`,
			[]string{"400 Le numéro", "105 Numéro inconnu"}},
		{"error code with a shipment", `{"returnCode":504,"shipment":{"idShip":"1","event":[` + laposteDI1 + `]}}`, []string{"504"}},
		{"no events", laposteJSON("4", "colissimo", ""), []string{"no shipment with events"}},
		{"missing number", `{"returnCode":200,"shipment":{"event":[` + laposteDI1 + `]}}`,
			[]string{"[0].shipment.idShip", "missing tracking number"}},
		{"no date", laposteJSON("4", "colissimo", `{"code":"DI1"}`), []string{"[0].shipment.event[0]", "no date"}},
		{"bad date", laposteJSON("4", "colissimo", `{"code":"DI1","date":"09/04/2025"}`), []string{"event[0]", "09/04/2025"}},
		{"wrong type", `{"returnCode":"200","shipment":{}}`, []string{"returnCode"}},
		{"wrong type in array", `[{"returnCode":200,"shipment":{"event":{}}}]`, []string{"event"}},
		{"empty array", `[]`, []string{"no shipment with events"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := n.Normalize(FormatLaPoste, []byte(tc.raw))
			require.Error(t, err)
			assert.Nil(t, ev)
			assert.True(t, errors.Is(err, ErrInvalidPayload), "%v", err)
			var pe *PayloadError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, FormatLaPoste, pe.Format)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestLaPosteDetection(t *testing.T) {
	for _, raw := range []string{
		laposteJSON("4", "colissimo", laposteDI1),
		`[` + laposteJSON("1", "Lettre suivie", laposteDI1) + `]`,
		`{"returnCode":104,"returnMessage":"Votre suivi n'est pas encore disponible.","idShip":"1"}`,
	} {
		got, err := DetectFormat([]byte(raw))
		require.NoError(t, err, raw)
		assert.Equal(t, FormatLaPoste, got, raw)
	}
	_, err := DetectFormat([]byte(`[{"returnCode":200}]`))
	assert.ErrorIs(t, err, ErrUnknownFormat, "a bare returnCode is no La Poste response")
}

// ---- Hermes ----

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
		{"no event time in the response body", `{"payload":{"trackingId":"Q1","eventHistory":[{"eventCode":"Delivered"},{"eventCode":"Lost"}]}}`,
			[]string{"payload.eventHistory[0]", "no eventTime"}},
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

const sekoConsignmentJSON = `{"ConsignmentNo":"WFY9001843","Status":"In transit","Picked":null,"Delivered":null,
	"Reference1":"S5828797:0","Events":[
	{"EventDT":"2021-03-01T21:47:50.643","Code":null,"OmniCode":"OP-1","Description":"Tracking number allocated & order ready","Location":"SAN BERNARDINO,CA,US","Part":1},
	{"EventDT":"2021-03-05T08:56:22","Code":"0.100","OmniCode":"OP-8","Description":"Data received","Location":"Essen, DE","Part":1}]}`

func TestSEKOListAndSingleAgree(t *testing.T) {
	n := goldenNormalizer()
	single, err := n.Normalize(FormatDetect, []byte(sekoConsignmentJSON))
	require.NoError(t, err)
	list, err := n.Normalize(FormatDetect, []byte("[\n"+sekoConsignmentJSON+"]"))
	require.NoError(t, err)
	assert.Equal(t, single, list)

	require.Len(t, single, 2)
	e := single[0]
	assert.Equal(t, "seko", e.Carrier)
	assert.Equal(t, "WFY9001843", e.TrackingNumber)
	assert.Equal(t, mustTime(t, "2021-03-01T21:47:50.643Z"), e.OccurredAt)
	assert.Equal(t, TimeAssumedUTC, e.Data.OccurredAtSource, "EventDT has no zone")
	assert.Equal(t, &CarrierStatus{Code: "OP-1", Description: "Tracking number allocated & order ready", Namespace: "status"}, e.CarrierStatus)
	assert.Equal(t, StatusBooked, e.Status)
	assert.Equal(t, &Location{City: "SAN BERNARDINO", State: "CA", Country: "US"}, e.Data.Location)
	assert.Nil(t, e.Data.Extra)
	assert.Equal(t, &CarrierStatus{Code: "OP-8", Type: "0.100", Description: "Data received", Namespace: "status"}, single[1].CarrierStatus,
		"the last-mile carrier's code as the type")
}

func TestSEKOLocation(t *testing.T) {
	for in, want := range map[string]Location{
		"SAN BERNARDINO,CA,US": {City: "SAN BERNARDINO", State: "CA", Country: "US"},
		"Carson, CA,US":        {City: "Carson", State: "CA", Country: "US"},
		"Essen, DE":            {City: "Essen", Country: "DE"},
		"Egham, Surrey,GB":     {City: "Egham, Surrey", Country: "GB"},
		"NL":                   {Country: "NL"},
		"Utrecht,,NL":          {City: "Utrecht", Country: "NL"},
		"LONDON,EGHAM,GB":      {City: "LONDON,EGHAM", Country: "GB"},
		" Essen , DE, ":        {City: "Essen", Country: "DE"},
	} {
		got, extra := sekoLocation(in)
		assert.Equal(t, want, got, in)
		assert.Nil(t, extra, in)
	}
	for _, in := range []string{"Depot 4471, IL,US", "International transit", "a,b,c,d,GB", ","} {
		got, extra := sekoLocation(in)
		assert.True(t, got.IsZero(), in)
		assert.Equal(t, map[string]any{"location_text": in}, extra, in)
	}
	got, extra := sekoLocation("  ")
	assert.True(t, got.IsZero())
	assert.Nil(t, extra)
}

func TestSEKOErrors(t *testing.T) {
	tests := []struct {
		name, raw string
		want      []string
	}{
		{"error body", `{"Errors":[{"Property":"Destination.Address.CountryCode","Message":"CountryCode is required","Key":"CountryCode","Value":""}]}`,
			[]string{"Errors[0]", `"Destination.Address.CountryCode"`, `"CountryCode is required"`}},
		{"no number", `[{"Events":[{"EventDT":"2021-03-01T21:47:50","OmniCode":"OP-1"}]}]`, []string{"[0].ConsignmentNo", "missing tracking number"}},
		{"no events anywhere", `[{"ConsignmentNo":"A","Events":[]},{"ConsignmentNo":"B"}]`, []string{"no consignment with events"}},
		{"empty list", `[]`, []string{"no consignment with events"}},
		{"no time", `{"ConsignmentNo":"A","Events":[{"OmniCode":"OP-1"}]}`, []string{"[0].Events[0]", "no EventDT"}},
		{"bad time", `{"ConsignmentNo":"A","Events":[{"EventDT":"01/03/2021","OmniCode":"OP-1"}]}`, []string{"EventDT", "01/03/2021"}},
		{"not a list or object", `"WFY9001843"`, []string{"seko"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := Normalize(FormatSEKO, []byte(tc.raw))
			require.Error(t, err)
			assert.Nil(t, ev)
			assert.True(t, errors.Is(err, ErrInvalidPayload), "%v", err)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
		})
	}
}

func TestSEKODetection(t *testing.T) {
	for raw, want := range map[string]string{
		`[{"ConsignmentNo":"A","Events":[]}]`:                         FormatSEKO,
		`{"ConsignmentNo":"A","Status":"x","Events":[]}`:              FormatSEKO,
		`[{"kind":"shipment.created","time":"2025-01-01T00:00:00Z"}]`: FormatFulfillment,
		`[{"ConsignmentNo":"A"}]`:                                     "",
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
