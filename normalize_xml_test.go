package shipevents

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shipevents/shipevents/internal/xmlscan"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var xmlFormats = []string{FormatCanadaPost, FormatPurolator, FormatDHLParcelDE, FormatBpost}

// xmlCarrier is the envelope carrier each XML format gives.
var xmlCarrier = map[string]string{
	FormatCanadaPost: "canadapost", FormatPurolator: "purolator", FormatDHLParcelDE: "dhl", FormatBpost: "bpost",
}

func TestXMLHostilePayloads(t *testing.T) {
	laughs := `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">` +
		`<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">` +
		`<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>` +
		`<tracking-detail xmlns="http://www.canadapost.ca/ws/track"><pin>&lol3;</pin></tracking-detail>`
	xxe := `<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>` +
		`<data name="piece-shipment-list" code="0"><data name="piece-shipment" piece-code="&xxe;"/></data>`
	deep := `<itemTracking xmlns="http://schema.post.be/tracking/v1/">` + strings.Repeat("<x>", 5000) + strings.Repeat("</x>", 5000) + `</itemTracking>`
	huge := `<tracking-detail><pin>` + strings.Repeat("1", DefaultMaxPayloadBytes) + `</pin></tracking-detail>`
	hugeAttr := `<data name="piece-shipment-list" code="0" pad="` + strings.Repeat("x", 900<<10) + `"/>`
	undeclared := `<itemTracking xmlns="http://schema.post.be/tracking/v1/"><itemCode>&xxe;</itemCode></itemTracking>`
	tests := []struct {
		name, format, raw string
		want              error
		offset            int64 // -1: not checked
	}{
		{"billion laughs, detected", FormatDetect, laughs, ErrInvalidPayload, int64(strings.Index(laughs, "<!DOCTYPE"))},
		{"billion laughs, named", FormatCanadaPost, laughs, ErrInvalidPayload, int64(strings.Index(laughs, "<!DOCTYPE"))},
		{"external entity", FormatDHLParcelDE, xxe, ErrInvalidPayload, int64(strings.Index(xxe, "<!DOCTYPE"))},
		{"undeclared entity", FormatBpost, undeclared, ErrInvalidPayload, int64(strings.Index(undeclared, "&xxe;"))},
		{"deep nesting, detected", FormatDetect, deep, ErrPayloadTooDeep, int64(len(`<itemTracking xmlns="http://schema.post.be/tracking/v1/">`) + 3*(DefaultMaxDepth-1))},
		{"deep nesting, named", FormatBpost, deep, ErrPayloadTooDeep, -1},
		{"too large", FormatCanadaPost, huge, ErrPayloadTooLarge, -1},
		{"huge attribute, no piece-shipment", FormatDHLParcelDE, hugeAttr, ErrInvalidPayload, -1},
		{"NUL", FormatPurolator, "<Envelope>\x00</Envelope>", ErrInvalidPayload, 10},
		{"invalid UTF-8", FormatBpost, "<itemTracking>\xff</itemTracking>", ErrInvalidPayload, -1},
		{"two roots", FormatCanadaPost, `<tracking-detail/><tracking-detail/>`, ErrInvalidPayload, 18},
		{"unclosed", FormatCanadaPost, `<tracking-detail><pin>1</pin>`, ErrInvalidPayload, 29},
		{"JSON for an XML format", FormatPurolator, `{"trackResponse":{}}`, ErrInvalidPayload, 0},
		{"empty SOAP body", FormatPurolator, `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body/></s:Envelope>`, ErrInvalidPayload, -1},
		{"unknown XML root", FormatDetect, `<rss version="2.0"><channel/></rss>`, ErrUnknownFormat, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			ev, err := Normalize(tc.format, []byte(tc.raw))
			runtime.ReadMemStats(&after)
			require.Error(t, err)
			assert.Nil(t, ev)
			assert.True(t, errors.Is(err, tc.want), "error %v, want %v", err, tc.want)
			if tc.want != ErrUnknownFormat {
				assert.True(t, errors.Is(err, ErrInvalidPayload), "%v also matches ErrInvalidPayload", err)
			}
			if tc.offset >= 0 {
				var pe *PayloadError
				require.ErrorAs(t, err, &pe)
				assert.Equal(t, tc.offset, pe.Offset, "offset of %v", err)
			}
			assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(8<<20), "allocated for %d input bytes", len(tc.raw))
		})
	}
	// The DTD itself is what is refused, before any entity is expanded.
	_, err := Normalize(FormatDetect, []byte(laughs))
	assert.ErrorIs(t, err, xmlscan.ErrDTD)
	_, err = Normalize(FormatDHLParcelDE, []byte(xxe))
	assert.ErrorIs(t, err, xmlscan.ErrDTD)
	_, err = Normalize(FormatBpost, []byte(`<itemTracking><itemCode>&xxe;</itemCode></itemTracking>`))
	assert.ErrorIs(t, err, xmlscan.ErrEntity)
}

func TestDetectXMLFormats(t *testing.T) {
	tests := []struct {
		name, raw, want string
	}{
		{"canada post details", `<tracking-detail xmlns="http://www.canadapost.ca/ws/track"><pin>1</pin></tracking-detail>`, FormatCanadaPost},
		{"canada post without namespace", `<tracking-detail><pin>1</pin></tracking-detail>`, FormatCanadaPost},
		{"canada post error", `<messages xmlns="http://www.canadapost.ca/ws/messages"><message><code>E002</code></message></messages>`, FormatCanadaPost},
		{"purolator in SOAP", `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><h:ResponseContext xmlns:h="http://purolator.com/pws/datatypes/v1"/></s:Header><s:Body><TrackPackagesByPinResponse xmlns="http://purolator.com/pws/datatypes/v1"/></s:Body></s:Envelope>`, FormatPurolator},
		{"purolator SOAP 1.2, v2 namespace", `<e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"><e:Body><p:TrackPackagesByReferenceResponse xmlns:p="http://purolator.com/pws/datatypes/v2"/></e:Body></e:Envelope>`, FormatPurolator},
		{"purolator bare", ` <TrackPackagesByPinResponse xmlns="http://purolator.com/pws/datatypes/v1"/>`, FormatPurolator},
		{"dhl parcel de", `<?xml version="1.0"?><data name="piece-shipment-list" code="100" error="No data found"/>`, FormatDHLParcelDE},
		{"bpost", "\ufeff<itemTracking xmlns=\"http://schema.post.be/tracking/v1/\"/>", FormatBpost},
		{"bpost error", `<businessException xmlns="http://schema.post.be/api/shm/v1/"><code>404</code></businessException>`, FormatBpost},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := DetectFormat([]byte(tc.raw))
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
	for _, raw := range []string{
		`<data name="signature-list" code="0"/>`,
		`<itemTracking xmlns="urn:someone-else"/>`,
		`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode></s:Fault></s:Body></s:Envelope>`,
		`<TrackPackagesByPinResponse/>`,
	} {
		_, err := DetectFormat([]byte(raw))
		assert.ErrorIs(t, err, ErrUnknownFormat, "%s", raw)
		assert.Contains(t, fmt.Sprint(err), "XML root element")
	}
}

// TestXMLFixturesDeterministic re-normalizes the XML fixtures with the
// embedded tables: the carrier slug, raw codes kept as sent, ids stable
// and events sorted.
func TestXMLFixturesDeterministic(t *testing.T) {
	all := fixtures(t)
	for _, format := range xmlFormats {
		require.GreaterOrEqual(t, len(all[format]), 3, "fixtures for %s", format)
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
					assert.Equal(t, xmlCarrier[format], a[i].Carrier)
					assert.NotEmpty(t, a[i].TrackingNumber)
					require.NotNil(t, a[i].CarrierStatus)
					assert.Contains(t, string(raw), a[i].CarrierStatus.Code, "raw code kept as sent")
					assert.NotEmpty(t, a[i].Data.OccurredAtSource)
					if i > 0 {
						assert.False(t, a[i].OccurredAt.Before(a[i-1].OccurredAt), "sorted oldest first")
					}
				}
			})
		}
	}
}

// xmlTestNormalizer uses only the given rows, so the tests check the
// parsers' lookups, not the embedded tables.
func xmlTestNormalizer(t *testing.T, rows ...Row) *Normalizer {
	t.Helper()
	m, err := NewMapper(rows...)
	require.NoError(t, err)
	return NewNormalizer(NormalizerConfig{Mapper: m, Now: func() time.Time { return goldenNow }})
}

func canadaPostDoc(occurrences ...string) string {
	return `<?xml version="1.0" encoding="UTF-8"?><tracking-detail xmlns="http://www.canadapost.ca/ws/track">` +
		`<significant-events>` + strings.Join(occurrences, "") + `</significant-events>` +
		`<pin> 7023210039414604 </pin><service-name>Expedited Parcels</service-name>` +
		`<expected-delivery-date>2026-04-05</expected-delivery-date><changed-expected-date></changed-expected-date></tracking-detail>`
}

func canadaPostOccurrence(id, date, clock, zone string) string {
	return `<occurrence><event-identifier>` + id + `</event-identifier><event-date>` + date + `</event-date>` +
		`<event-time>` + clock + `</event-time><event-time-zone>` + zone + `</event-time-zone>` +
		`<event-description>Item out for delivery</event-description><signatory-name/><event-site>SAINTE-FOY</event-site>` +
		`<event-province>QC</event-province><event-retail-location-id/><event-retail-name/></occurrence>`
}

func TestCanadaPostTimesAndPadding(t *testing.T) {
	n := xmlTestNormalizer(t,
		aggRow("canadapost", "event_identifier", "0174", StatusOutForDelivery, "OUT_FOR_DELIVERY"),
		aggRow("canadapost", "event_identifier", "1496", StatusDelivered, "SUCCESSFULLY_DELIVERED"))
	tests := []struct {
		name, id, date, clock, zone string
		want, wantSource            string
		wantStatus                  Status
	}{
		{"EST", "0174", "2026-02-03", "08:27:43", "EST", "2026-02-03T13:27:43Z", TimeExplicit, StatusOutForDelivery},
		{"EDT, lower case", "0174", "2026-07-03", "08:27:43", "edt", "2026-07-03T12:27:43Z", TimeExplicit, StatusOutForDelivery},
		{"Newfoundland half hour", "0174", "2026-02-03", "08:27:43", "NST", "2026-02-03T11:57:43Z", TimeExplicit, StatusOutForDelivery},
		{"foreign zone read as UTC", "1496", "2026-05-02", "15:49:00", "ISRAEL", "2026-05-02T15:49:00Z", TimeAssumedUTC, StatusDelivered},
		{"no zone read as UTC", "1496", "2026-05-02", "15:49:00", "", "2026-05-02T15:49:00Z", TimeAssumedUTC, StatusDelivered},
		{"no time", "1496", "2026-05-02", "", "EST", "2026-05-02T00:00:00Z", TimeDateOnly, StatusDelivered},
		{"identifier read as a number", "174", "2026-02-03", "08:27:43", "AST", "2026-02-03T12:27:43Z", TimeExplicit, StatusOutForDelivery},
		{"unknown identifier kept", "20", "2026-02-03", "11:59:59", "EST", "2026-02-03T16:59:59Z", TimeExplicit, StatusUnknown},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := n.Normalize(FormatDetect, []byte(canadaPostDoc(canadaPostOccurrence(tc.id, tc.date, tc.clock, tc.zone))))
			require.NoError(t, err)
			require.Len(t, ev, 1)
			e := ev[0]
			assert.Equal(t, mustTime(t, tc.want), e.OccurredAt)
			assert.Equal(t, tc.wantSource, e.Data.OccurredAtSource)
			assert.Equal(t, tc.wantStatus, e.Status)
			assert.Equal(t, tc.id, e.CarrierStatus.Code, "identifier kept as sent")
			assert.Equal(t, "event_identifier", e.CarrierStatus.Namespace)
			assert.Equal(t, "7023210039414604", e.TrackingNumber, "pin trimmed, read after the events")
			assert.Equal(t, strings.TrimSpace(tc.date+" "+tc.clock+" "+tc.zone), e.Data.CarrierTime)
			assert.Equal(t, &Location{City: "SAINTE-FOY", State: "QC"}, e.Data.Location)
			assert.Equal(t, "Expedited Parcels", e.Data.Service)
			require.NotNil(t, e.Data.EstimatedDelivery)
			assert.Equal(t, mustTime(t, "2026-04-05T00:00:00Z"), *e.Data.EstimatedDelivery)
		})
	}
	// Newest first in the payload, oldest first out; a shared instant keeps
	// the later payload entry (the older one) first.
	raw := canadaPostDoc(
		canadaPostOccurrence("1496", "2026-02-03", "11:59:59", "EST"),
		canadaPostOccurrence("20", "2026-02-03", "11:59:59", "EST"),
		canadaPostOccurrence("0174", "2026-02-03", "08:27:43", "EST"))
	ev, err := n.Normalize(FormatCanadaPost, []byte(raw))
	require.NoError(t, err)
	var codes []string
	for _, e := range ev {
		codes = append(codes, e.CarrierStatus.Code)
	}
	assert.Equal(t, []string{"0174", "20", "1496"}, codes)
}

func TestXMLCarrierErrors(t *testing.T) {
	n := xmlTestNormalizer(t)
	tests := []struct {
		name, format, raw string
		want              []string
	}{
		{"canada post messages", FormatDetect,
			`<messages xmlns="http://www.canadapost.ca/ws/messages"><message><code>E002</code><description>AAA Authentication Failure</description></message></messages>`,
			[]string{"canadapost", "E002: AAA Authentication Failure"}},
		{"canada post no pin", FormatCanadaPost, `<tracking-detail><significant-events>` + canadaPostOccurrence("0174", "2026-02-03", "08:27:43", "EST") + `</significant-events></tracking-detail>`,
			[]string{"pin", "missing tracking number"}},
		{"canada post no events", FormatCanadaPost, `<tracking-detail><pin>1</pin><significant-events/></tracking-detail>`,
			[]string{"no significant events"}},
		{"canada post no date", FormatCanadaPost, canadaPostDoc(canadaPostOccurrence("0174", "", "08:27:43", "EST")),
			[]string{"significant-events.occurrence[0]", "no event-date"}},
		{"canada post bad date", FormatCanadaPost, canadaPostDoc(canadaPostOccurrence("0174", "03/02/2026", "08:27:43", "EST")),
			[]string{"occurrence[0]", "03/02/2026"}},
		{"canada post wrong root", FormatCanadaPost, `<tracking-summary/>`, []string{"tracking-summary", "not tracking-detail"}},
		{"purolator fault", FormatPurolator,
			`<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Body><s:Fault><faultcode>s:Client</faultcode><faultstring>Invalid user token</faultstring></s:Fault></s:Body></s:Envelope>`,
			[]string{"SOAP fault", "s:Client: Invalid user token"}},
		{"purolator errors only", FormatPurolator,
			`<TrackPackagesByPinResponse xmlns="http://purolator.com/pws/datatypes/v1"><ResponseInformation><Errors><Error><Code>1100</Code><Description>Invalid PIN</Description></Error></Errors></ResponseInformation><TrackingInformationList/></TrackPackagesByPinResponse>`,
			[]string{"no scans", "1100: Invalid PIN"}},
		{"purolator bad time", FormatPurolator,
			`<TrackPackagesByPinResponse><TrackingInformationList><TrackingInformation><PIN><Value>1</Value></PIN><Scans><Scan><ScanType>Other</ScanType><ScanDate>2026-04-09</ScanDate><ScanTime>25h</ScanTime></Scan></Scans></TrackingInformation></TrackingInformationList></TrackPackagesByPinResponse>`,
			[]string{"Scans.Scan[0]", "25h"}},
		{"purolator no scan type", FormatPurolator,
			`<TrackPackagesByPinResponse><TrackingInformationList><TrackingInformation><PIN><Value>1</Value></PIN><Scans><Scan><ScanDate>2026-04-09</ScanDate></Scan></Scans></TrackingInformation></TrackingInformationList></TrackPackagesByPinResponse>`,
			[]string{"no ScanType"}},
		{"dhl parcel de error code", FormatDetect, `<data name="piece-shipment-list" code="100" error="No data found" request-id="r1"/>`,
			[]string{"dhl_parcel_de", "100: No data found"}},
		{"dhl parcel de every piece unknown", FormatDHLParcelDE,
			`<data name="piece-shipment-list" code="0"><data name="piece-shipment" error-status="100" piece-code="00340434161094015902"/></data>`,
			[]string{"no piece events", "100: no tracking data for 00340434161094015902"}},
		{"dhl parcel de bad timestamp", FormatDHLParcelDE,
			`<data name="piece-shipment-list" code="0"><data name="piece-shipment" piece-code="1"><data name="piece-event-list"><data name="piece-event" event-timestamp="2026-03-18 10:02" ice="DLVRD"/></data></data></data>`,
			[]string{"piece-event[0]", "DD.MM.YYYY"}},
		{"dhl parcel de signature list", FormatDHLParcelDE, `<data name="signature-list" code="0"/>`, []string{"not piece-shipment-list"}},
		{"bpost business exception", FormatDetect,
			`<businessException xmlns="http://schema.post.be/api/shm/v1/"><code>404</code><message>Item not found</message></businessException>`,
			[]string{"bpost", "404: Item not found"}},
		{"bpost system exception, several lines", FormatDetect,
			"<systemException xmlns=\"http://schema.post.be/api/shm/common/v2/\" xmlns:ns2=\"http://schema.post.be/common/exception/v1/\">" +
				"<ns2:message>An unexpected error occurred.\r\n        Please try again later.</ns2:message><ns2:timestamp>2026-04-29+02:00</ns2:timestamp></systemException>",
			[]string{"bpost systemException", "An unexpected error occurred. ", "Please try again later."}},
		{"bpost no states", FormatBpost, `<itemTracking xmlns="http://schema.post.be/tracking/v1/"><itemCode>323212345659900040669030</itemCode></itemTracking>`,
			[]string{"no stateInfo"}},
		{"bpost bad time", FormatBpost,
			`<itemTracking><itemCode>1</itemCode><stateInfo><time>yesterday</time><stateCode>U01</stateCode></stateInfo></itemTracking>`,
			[]string{"stateInfo[0]", "yesterday"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev, err := n.Normalize(tc.format, []byte(tc.raw))
			require.Error(t, err)
			assert.Nil(t, ev)
			assert.ErrorIs(t, err, ErrInvalidPayload)
			var pe *PayloadError
			require.ErrorAs(t, err, &pe)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "\n", "one line")
		})
	}
}

func TestPurolatorScans(t *testing.T) {
	n := xmlTestNormalizer(t,
		aggRow("purolator", "scan_type", "Delivery", StatusDelivered, "SUCCESSFULLY_DELIVERED"),
		aggRow("purolator", "scan_type", "OnDelivery", StatusOutForDelivery, "OUT_FOR_DELIVERY"))
	raw := `<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/"><s:Header><x:Noise xmlns:x="urn:x"><x:Deep><x:Deeper/></x:Deep></x:Noise></s:Header><s:Body>
	<TrackPackagesByPinResponse xmlns="http://purolator.com/pws/datatypes/v1" xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
	<TrackingInformationList><TrackingInformation><PIN><Value>329014521622</Value></PIN><Scans>
	<Scan i:type="DeliveryScan"><ScanType>Delivery</ScanType><Depot><Name>TORONTO</Name></Depot><ScanDate>2026-04-09</ScanDate><ScanTime>141205</ScanTime>
	 <Description>Shipment delivered</Description><Comment>Left with &lt;RECEPTION&gt;</Comment><ScanDetails><DeliverySignature>J.OKAFOR</DeliverySignature></ScanDetails></Scan>
	<Scan><ScanType>OnDelivery</ScanType><Depot><Name>TORONTO</Name></Depot><ScanDate>2026-04-09</ScanDate><ScanTime>83704</ScanTime><Description>On vehicle</Description></Scan>
	<Scan><ScanType>Exception</ScanType><PIN><Value>329014521622</Value></PIN><ScanDate>2026-04-08</ScanDate><ScanTime>2230</ScanTime></Scan>
	</Scans></TrackingInformation></TrackingInformationList></TrackPackagesByPinResponse></s:Body></s:Envelope>`
	ev, err := n.Normalize(FormatDetect, []byte(raw))
	require.NoError(t, err)
	require.Len(t, ev, 3)
	assert.Equal(t, StatusUnknown, ev[0].Status)
	assert.Equal(t, mustTime(t, "2026-04-08T22:30:00Z"), ev[0].OccurredAt, "HHMM")
	assert.Equal(t, mustTime(t, "2026-04-09T08:37:04Z"), ev[1].OccurredAt, "a lost leading zero restored")
	assert.Equal(t, StatusOutForDelivery, ev[1].Status)
	d := ev[2]
	assert.Equal(t, StatusDelivered, d.Status)
	assert.Equal(t, "329014521622", d.TrackingNumber)
	assert.Equal(t, "J.OKAFOR", d.Data.SignedBy)
	assert.Equal(t, "Left with <RECEPTION>", d.Data.Extra["comment"])
	assert.Equal(t, &Location{Facility: "TORONTO"}, d.Data.Location)
	assert.Equal(t, TimeAssumedUTC, d.Data.OccurredAtSource)
	assert.Equal(t, "2026-04-09 141205", d.Data.CarrierTime)
}

func TestDHLParcelDELookupOrder(t *testing.T) {
	n := xmlTestNormalizer(t,
		aggRow("dhl_parcel_de", "ice_ric", "DLVRD:NGHBR", StatusDelivered, "DELIVERED_TO_NEIGHBOR"),
		aggRow("dhl_parcel_de", "ice", "DLVRD", StatusDelivered, "SUCCESSFULLY_DELIVERED"),
		aggRow("dhl_parcel_de", "standard_event_code", "PO", StatusOutForDelivery, "OUT_FOR_DELIVERY"),
		aggRow("dhl_parcel_de", "standard_event_code", "ZU", StatusDelivered, "SUCCESSFULLY_DELIVERED"))
	event := func(ice, ric, code string) string {
		return `<data name="piece-event" event-timestamp="18.03.2026 10:02" event-status="Status text" event-short-status="Short" ice="` +
			ice + `" ric="` + ric + `" standard-event-code="` + code + `" event-location="Bonn" event-country="Germany"/>`
	}
	tests := []struct {
		name, ice, ric, code string
		wantName, wantNS     string
	}{
		{"ICE and RIC together first", "DLVRD", "NGHBR", "ZU", "DELIVERED_TO_NEIGHBOR", "ice_ric"},
		{"then the ICE", "DLVRD", "OTHER", "ZU", "SUCCESSFULLY_DELIVERED", "ice"},
		{"then the standard event code", "SRTED", "NRQRD", "PO", "OUT_FOR_DELIVERY", "standard_event_code"},
		{"nothing known", "STORN", "NRQRD", "DD", "UNMAPPED_STATUS", "ice_ric"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := `<data name="piece-shipment-list" code="0"><data name="piece-shipment" error-status="0" piece-code="00340434161094015902" product-name="DHL PAKET (parcel)" delivery-date="19.03.2026" ruecksendung="true">` +
				`<data name="piece-event-list">` + event(tc.ice, tc.ric, tc.code) + `</data></data></data>`
			ev, err := n.Normalize(FormatDHLParcelDE, []byte(raw))
			require.NoError(t, err)
			require.Len(t, ev, 1)
			e := ev[0]
			assert.Equal(t, tc.wantName, e.EventName)
			assert.Equal(t, &CarrierStatus{Code: tc.ice, Type: tc.ric, Description: "Status text", Namespace: tc.wantNS}, e.CarrierStatus)
			assert.Equal(t, "dhl", e.Carrier)
			assert.Equal(t, DirectionReturn, e.Direction, "ruecksendung")
			assert.Equal(t, mustTime(t, "2026-03-18T10:02:00Z"), e.OccurredAt)
			assert.Equal(t, "18.03.2026 10:02", e.Data.CarrierTime)
			assert.Equal(t, &Location{City: "Bonn", Country: "Germany"}, e.Data.Location)
			assert.Equal(t, tc.code, e.Data.Extra["standard_event_code"])
			assert.Equal(t, "Short", e.Data.Extra["short_status"])
			require.NotNil(t, e.Data.EstimatedDelivery)
			assert.Equal(t, mustTime(t, "2026-03-19T00:00:00Z"), *e.Data.EstimatedDelivery)
		})
	}
	// A piece without events gives one event from its own status.
	raw := `<data name="piece-shipment-list" code="0"><data name="piece-shipment" piece-code="00340434161094015902" status-timestamp="18.03.2026 10:02" status="Delivered" ice="DLVRD" ric="NGHBR" standard-event-code="ZU"/></data>`
	ev, err := n.Normalize(FormatDHLParcelDE, []byte(raw))
	require.NoError(t, err)
	require.Len(t, ev, 1)
	assert.Equal(t, "DELIVERED_TO_NEIGHBOR", ev[0].EventName)
	assert.Equal(t, "Delivered", ev[0].Data.Description)
}

func TestBpostStates(t *testing.T) {
	n := xmlTestNormalizer(t, aggRow("bpost", "state_code", "U01", StatusDelivered, "SUCCESSFULLY_DELIVERED"))
	raw := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
	<itemTracking xmlns="http://schema.post.be/tracking/v1/" xmlns:ns2="http://schema.post.be/announcement/common/v1/">
	<itemCode>323212345659900040669030</itemCode><sender><ns2:name>A</ns2:name></sender>
	<deliveryTime>2026-11-23T09:31:07+01:00</deliveryTime><customerReference>REF 1</customerReference>
	<itemDetail><weightInGrams>380</weightInGrams><productCode>bpack 24h Pro</productCode></itemDetail>
	<stateInfo><time>2026-11-23T09:31:07.427+01:00</time><stateCode>U01</stateCode><stateDescription>DistributedNormally - regular</stateDescription></stateInfo>
	<stateInfo><time>2026-11-22T23:19:29+01:00</time><location>BRUSSEL X</location><stateCode>T00</stateCode></stateInfo>
	<trackingId>gqwxvsyt</trackingId></itemTracking>`
	ev, err := n.Normalize(FormatDetect, []byte(raw))
	require.NoError(t, err)
	require.Len(t, ev, 2)
	assert.Equal(t, "T00", ev[0].CarrierStatus.Code)
	assert.Equal(t, StatusUnknown, ev[0].Status)
	assert.Equal(t, &Location{City: "BRUSSEL X"}, ev[0].Data.Location)
	d := ev[1]
	assert.Equal(t, StatusDelivered, d.Status)
	assert.Equal(t, mustTime(t, "2026-11-23T08:31:07.427Z"), d.OccurredAt)
	assert.Equal(t, TimeExplicit, d.Data.OccurredAtSource)
	assert.Equal(t, "bpack 24h Pro", d.Data.Service)
	assert.Equal(t, map[string]any{"tracking_id": "gqwxvsyt", "customer_reference": "REF 1"}, d.Data.Extra)
	require.NotNil(t, d.Data.EstimatedDelivery)
	assert.Equal(t, mustTime(t, "2026-11-23T08:31:07Z"), *d.Data.EstimatedDelivery)
}

// A megabyte of empty scan elements is refused once it passes the event
// limit, having allocated a small multiple of the input.
func TestXMLBoundsMemory(t *testing.T) {
	shapes := map[string][3]string{
		FormatCanadaPost:  {`<tracking-detail><pin>1</pin><significant-events>`, `<occurrence/>`, `</significant-events></tracking-detail>`},
		FormatPurolator:   {`<TrackPackagesByPinResponse><TrackingInformationList><TrackingInformation><Scans>`, `<Scan/>`, `</Scans></TrackingInformation></TrackingInformationList></TrackPackagesByPinResponse>`},
		FormatDHLParcelDE: {`<data name="piece-shipment-list"><data name="piece-shipment" piece-code="1"><data name="piece-event-list">`, `<data name="piece-event"/>`, `</data></data></data>`},
		FormatBpost:       {`<itemTracking><itemCode>1</itemCode>`, `<stateInfo/>`, `</itemTracking>`},
	}
	for format, shape := range shapes {
		n := (DefaultMaxPayloadBytes - len(shape[0]) - len(shape[2])) / len(shape[1])
		raw := []byte(shape[0] + strings.Repeat(shape[1], n) + shape[2])
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Normalize(format, raw)
		runtime.ReadMemStats(&after)
		assert.ErrorIs(t, err, ErrInvalidPayload, format)
		assert.Contains(t, fmt.Sprint(err), "more than 10000 events", format)
		alloc := after.TotalAlloc - before.TotalAlloc
		assert.Less(t, alloc, uint64(32<<20), "%s: %d bytes allocated for %d KB", format, alloc, len(raw)>>10)
		t.Logf("%s: %d KB allocated for a %d KB payload of empty scans", format, alloc>>10, len(raw)>>10)
	}
}

// TestXMLTruncatedNoPanic feeds every prefix of each XML fixture: errors
// are fine, panics are not, and no prefix short of the whole parses.
func TestXMLTruncatedNoPanic(t *testing.T) {
	all := fixtures(t)
	for _, format := range xmlFormats {
		for _, p := range all[format] {
			raw, err := os.ReadFile(p)
			require.NoError(t, err)
			end := len(strings.TrimRight(string(raw), " \n"))
			for i := 0; i < end; i += 5 {
				_, err := Normalize(format, raw[:i])
				assert.ErrorIs(t, err, ErrInvalidPayload, "%s[:%d]", p, i)
			}
		}
	}
}
