package shipevents

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
)

func TestNormalizeBadInput(t *testing.T) {
	deep := strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000)
	deepArr := `{"trackResponse":` + strings.Repeat("[", 50000) + strings.Repeat("]", 50000) + `}`
	huge := `{"trackResponse":{"shipment":[],"pad":"` + strings.Repeat("x", DefaultMaxPayloadBytes) + `"}}`
	tests := []struct {
		name, format, raw string
		want              error
	}{
		{"empty", FormatUPS, "", ErrInvalidPayload},
		{"whitespace", FormatUPS, "   ", ErrInvalidPayload},
		{"truncated", FormatUPS, `{"trackResponse":{"shipment":[{"package":[`, ErrInvalidPayload},
		{"not json", FormatFedEx, `<xml/>`, ErrInvalidPayload},
		{"wrong type", FormatUSPS, `{"trackingNumber":42,"trackingEvents":[]}`, ErrInvalidPayload},
		{"wrong type nested", FormatUPS, `{"trackResponse":{"shipment":[{"package":[{"trackingNumber":"1Z","activity":"nope"}]}]}}`, ErrInvalidPayload},
		{"absurd date", FormatShippo, `{"event":"track_updated","data":{"carrier":"usps","tracking_number":"9","tracking_history":[{"status":"TRANSIT","status_date":"9999-01-01T00:00:00Z"}]}}`, ErrInvalidPayload},
		{"ancient date", FormatAfterShip, `{"ts":1,"msg":{"slug":"usps","tracking_number":"9","checkpoints":[{"checkpoint_time":"1901-01-01T00:00:00Z","tag":"InTransit"}]}}`, ErrInvalidPayload},
		{"deep objects", FormatUPS, deep, ErrPayloadTooDeep},
		{"deep arrays", FormatUPS, deepArr, ErrPayloadTooDeep},
		{"too large", FormatUPS, huge, ErrPayloadTooLarge},
		{"NUL byte", FormatUPS, "{\"trackResponse\":\x00}", ErrInvalidPayload},
		{"invalid utf-8", FormatEasyPost, "{\"object\":\"Tracker\",\"tracking_code\":\"\xff\xfe\"}", ErrInvalidPayload},
		{"top-level array for detection", FormatDetect, `[1,2,3]`, ErrUnknownFormat},
		{"unknown shape", FormatDetect, `{"hello":"world"}`, ErrUnknownFormat},
		{"unknown format", "royalmail", `{}`, ErrUnknownFormat},
		{"no scans", FormatUPS, `{"trackResponse":{"shipment":[{"package":[{"trackingNumber":"1Z","activity":[]}]}]}}`, ErrInvalidPayload},
		{"null", FormatDHL, `null`, ErrInvalidPayload},
		{"tracking number too long for an index", FormatShippo, `{"event":"track_updated","data":{"carrier":"usps","tracking_number":"` +
			strings.Repeat("9", MaxIdentifierBytes+1) + `","tracking_history":[{"status":"TRANSIT","status_date":"2025-01-01T00:00:00Z"}]}}`, ErrInvalidPayload},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			events, err := Normalize(tt.format, []byte(tt.raw))
			if !errors.Is(err, tt.want) {
				t.Fatalf("Normalize error = %v, want errors.Is %v", err, tt.want)
			}
			if events != nil {
				t.Errorf("events returned with an error: %d", len(events))
			}
			if errors.Is(tt.want, ErrPayloadTooDeep) || errors.Is(tt.want, ErrPayloadTooLarge) {
				if !errors.Is(err, ErrInvalidPayload) {
					t.Errorf("%v does not also match ErrInvalidPayload", err)
				}
			}
		})
	}
}

func TestPayloadErrorSaysWhere(t *testing.T) {
	_, err := Normalize(FormatUSPS, []byte(`{"trackingNumber":"9400","trackingEvents":[{"eventType":"Delivered","eventCode":"01","GMTTimestamp":12}]}`))
	var pe *PayloadError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *PayloadError", err)
	}
	if pe.Format != FormatUSPS || !strings.Contains(err.Error(), "GMTTimestamp") {
		t.Errorf("error %q does not name the format and field", err)
	}
}

func TestUnknownCodeKeepsRaw(t *testing.T) {
	raw := []byte(`{"trackingNumber":"1Z999AA10123456784","localActivityDate":"20250314","localActivityTime":"091519","activityStatus":{"type":"Q","code":"ZZ","description":"Something new"},"gmtActivityDate":"20250314","gmtActivityTime":"131519","gmtOffset":"-04.00"}`)
	events, err := Normalize(FormatUPS, raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 1 {
		t.Fatalf("%d events", len(events))
	}
	e := events[0]
	if e.Status != StatusUnknown || e.EventName != "UNMAPPED_STATUS" || e.CarrierStatus == nil || e.CarrierStatus.Code != "ZZ" || e.CarrierStatus.Type != "Q" {
		t.Errorf("unknown code: status %s name %s raw %+v", e.Status, e.EventName, e.CarrierStatus)
	}
	if want := time.Date(2025, 3, 14, 13, 15, 19, 0, time.UTC); !e.OccurredAt.Equal(want) {
		t.Errorf("occurred_at = %v, want %v (the GMT fields)", e.OccurredAt, want)
	}
}

func TestNormalizerCustomMapper(t *testing.T) {
	m := DefaultMapper()
	if err := m.Set(Row{Carrier: "ups", Namespace: "type_code", Code: "Q:ZZ", Status: StatusDelivered, EventName: "DELIVERED_TO_NEIGHBOR"}); err != nil {
		t.Fatal(err)
	}
	n := NewNormalizer(NormalizerConfig{Mapper: m})
	raw := []byte(`{"trackingNumber":"1Z9","activityStatus":{"type":"Q","code":"ZZ"},"gmtActivityDate":"20250314","gmtActivityTime":"131519","gmtOffset":"-04.00"}`)
	events, err := n.Normalize(FormatUPS, raw)
	if err != nil {
		t.Fatal(err)
	}
	if events[0].EventName != "DELIVERED_TO_NEIGHBOR" {
		t.Errorf("custom mapping not used: %s", events[0].EventName)
	}
	small := NewNormalizer(NormalizerConfig{MaxPayloadBytes: 64})
	if _, err := small.Normalize(FormatUPS, raw); !errors.Is(err, ErrPayloadTooLarge) {
		t.Errorf("size limit not applied: %v", err)
	}
}

func TestParseOffsetAndTimestamps(t *testing.T) {
	for in, want := range map[string]int{"-04:00": -4 * 3600, "-04.00": -4 * 3600, "+0530": 5*3600 + 30*60, "Z": 0, "-5": -5 * 3600} {
		got, err := parseOffset(in)
		if err != nil || got != want {
			t.Errorf("parseOffset(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0400", "-25:00", "+04:99", "abc"} {
		if _, err := parseOffset(bad); err == nil {
			t.Errorf("parseOffset(%q) accepted", bad)
		}
	}
	for in, want := range map[string]string{
		"2025-03-14T07:10:00-04:00": TimeExplicit,
		"2025-03-14T11:10:00Z":      TimeExplicit,
		"2025-03-14T07:10:00":       TimeAssumedUTC,
		"2025-03-14 07:10":          TimeAssumedUTC,
		"2025-03-14":                TimeDateOnly,
	} {
		_, src, err := parseTimestamp(in)
		if err != nil || src != want {
			t.Errorf("parseTimestamp(%q) source = %q, %v; want %q", in, src, err, want)
		}
	}
}

// TestCarrierSlugsMatchNativeFormats: the names aggregators give carriers
// that also have a native format resolve to the slug that format puts in
// the envelope, so a shipment reads the same whichever way it arrives.
func TestCarrierSlugsMatchNativeFormats(t *testing.T) {
	for name, want := range map[string]string{
		"DHL Express": "dhl", "dhl_express": "dhl", "MyDHL": "dhl", "DHL": "dhl",
		"GLS": "gls", "GLS Group": "gls",
		"La Poste": "laposte", "Colissimo": "colissimo", "la_poste_colissimo": "colissimo", "Chronopost": "chronopost",
		"Hermes": "hermes", "Hermes Germany": "hermes",
	} {
		if got := CarrierSlug(name); got != want {
			t.Errorf("CarrierSlug(%q) = %q, want %q", name, got, want)
		}
	}
}

// fuzzNormalize fuzzes one format, seeded with its fixtures. Properties:
// no panic; errors are ErrInvalidPayload; on success every event is valid,
// events are sorted oldest first, ids are deterministic (a second call
// gives the same ids), and each event survives a JSON round trip unchanged.
// Detection is exercised on the same input.
func fuzzNormalize(f *testing.F, format string) {
	for _, p := range fixtures(f)[format] {
		raw, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		n := goldenNormalizer()
		events, err := n.Normalize(format, raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidPayload) {
				t.Fatalf("Normalize(%q) error %v is not ErrInvalidPayload", format, err)
			}
		} else {
			again, err := n.Normalize(format, raw)
			if err != nil || len(again) != len(events) {
				t.Fatalf("second call differs: %d events, %v", len(again), err)
			}
			for i := range events {
				checkFuzzedEvent(t, events, i)
				if again[i].ID != events[i].ID {
					t.Fatalf("event %d: id %s then %s", i, events[i].ID, again[i].ID)
				}
			}
		}
		if _, err := n.Normalize(FormatDetect, raw); err != nil &&
			!errors.Is(err, ErrInvalidPayload) && !errors.Is(err, ErrUnknownFormat) {
			t.Fatalf("detection error %v is neither ErrInvalidPayload nor ErrUnknownFormat", err)
		}
	})
}

func checkFuzzedEvent(t *testing.T, events []Event, i int) {
	t.Helper()
	e := &events[i]
	if err := e.Validate(); err != nil {
		t.Fatalf("invalid event: %v", err)
	}
	if i > 0 && e.OccurredAt.Before(events[i-1].OccurredAt) {
		t.Fatalf("events not sorted")
	}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	var back Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("unmarshal: %v", err)
	}
	b2, _ := json.Marshal(&back)
	if !bytes.Equal(b, b2) {
		t.Fatalf("round trip changed the event:\n%s\n%s", b, b2)
	}
	if !reflect.DeepEqual(back.Status, e.Status) || !back.OccurredAt.Equal(e.OccurredAt) {
		t.Fatalf("round trip changed status or time")
	}
}

// formatFuzzTargets maps each format to its fuzz target, so that
// TestEveryFormatIsComplete can tell a format without one (go test does
// not list them to the test binary).
var formatFuzzTargets = map[string]func(*testing.F){
	FormatUPS:            FuzzNormalizeUPS,
	FormatFedEx:          FuzzNormalizeFedEx,
	FormatDHL:            FuzzNormalizeDHL,
	FormatUSPS:           FuzzNormalizeUSPS,
	FormatDHLExpress:     FuzzNormalizeDHLExpress,
	FormatGLS:            FuzzNormalizeGLS,
	FormatLaPoste:        FuzzNormalizeLaPoste,
	FormatHermes:         FuzzNormalizeHermes,
	FormatAmazonShipping: FuzzNormalizeAmazonShipping,
	FormatParcelOne:      FuzzNormalizeParcelOne,
	FormatSEKO:           FuzzNormalizeSEKO,
	FormatSpring:         FuzzNormalizeSpring,
	FormatEasyPost:       FuzzNormalizeEasyPost,
	FormatAfterShip:      FuzzNormalizeAfterShip,
	FormatShippo:         FuzzNormalizeShippo,
	FormatKarrio:         FuzzNormalizeKarrio,
	FormatShipEngine:     FuzzNormalizeShipEngine,
	FormatFulfillment:    FuzzNormalizeFulfillment,
	FormatCanadaPost:     FuzzNormalizeCanadaPost,
	FormatPurolator:      FuzzNormalizePurolator,
	FormatDHLParcelDE:    FuzzNormalizeDHLParcelDE,
	FormatBpost:          FuzzNormalizeBpost,
}

func FuzzNormalizeUPS(f *testing.F)            { fuzzNormalize(f, FormatUPS) }
func FuzzNormalizeFedEx(f *testing.F)          { fuzzNormalize(f, FormatFedEx) }
func FuzzNormalizeDHL(f *testing.F)            { fuzzNormalize(f, FormatDHL) }
func FuzzNormalizeUSPS(f *testing.F)           { fuzzNormalize(f, FormatUSPS) }
func FuzzNormalizeDHLExpress(f *testing.F)     { fuzzNormalize(f, FormatDHLExpress) }
func FuzzNormalizeGLS(f *testing.F)            { fuzzNormalize(f, FormatGLS) }
func FuzzNormalizeLaPoste(f *testing.F)        { fuzzNormalize(f, FormatLaPoste) }
func FuzzNormalizeHermes(f *testing.F)         { fuzzNormalize(f, FormatHermes) }
func FuzzNormalizeAmazonShipping(f *testing.F) { fuzzNormalize(f, FormatAmazonShipping) }
func FuzzNormalizeParcelOne(f *testing.F)      { fuzzNormalize(f, FormatParcelOne) }
func FuzzNormalizeSEKO(f *testing.F)           { fuzzNormalize(f, FormatSEKO) }
func FuzzNormalizeSpring(f *testing.F)         { fuzzNormalize(f, FormatSpring) }
func FuzzNormalizeEasyPost(f *testing.F)       { fuzzNormalize(f, FormatEasyPost) }
func FuzzNormalizeAfterShip(f *testing.F)      { fuzzNormalize(f, FormatAfterShip) }
func FuzzNormalizeShippo(f *testing.F)         { fuzzNormalize(f, FormatShippo) }
func FuzzNormalizeKarrio(f *testing.F)         { fuzzNormalize(f, FormatKarrio) }
func FuzzNormalizeShipEngine(f *testing.F)     { fuzzNormalize(f, FormatShipEngine) }
func FuzzNormalizeFulfillment(f *testing.F)    { fuzzNormalize(f, FormatFulfillment) }
func FuzzNormalizeCanadaPost(f *testing.F)     { fuzzNormalize(f, FormatCanadaPost) }
func FuzzNormalizePurolator(f *testing.F)      { fuzzNormalize(f, FormatPurolator) }
func FuzzNormalizeDHLParcelDE(f *testing.F)    { fuzzNormalize(f, FormatDHLParcelDE) }
func FuzzNormalizeBpost(f *testing.F)          { fuzzNormalize(f, FormatBpost) }

// TestScanIDStable pins the id derivation: a v5 UUID, in a fixed
// namespace, of carrier, tracking number, raw type and code and the instant
// in Unix nanoseconds, NUL-separated. Changing it would re-deliver every
// event a host has already seen, so it must never change.
func TestScanIDStable(t *testing.T) {
	at := time.Date(2025, 3, 14, 13, 15, 19, 0, time.UTC)
	ns := uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/shipevents/shipevents/scan"))
	want := uuid.NewSHA1(ns, []byte("ups\x001Z999AA10123456784\x00I\x00OT\x00"+strconv.FormatInt(at.UnixNano(), 10))).String()
	if got := ScanID("ups", "1Z999AA10123456784", "I", "OT", at); got != want {
		t.Errorf("ScanID = %s, want %s", got, want)
	}
	if got := ScanID("ups", "1Z999AA10123456784", "I", "OT", at.In(time.FixedZone("EDT", -4*3600))); got != want {
		t.Errorf("ScanID depends on the zone the instant is written in: %s", got)
	}
	if ScanID("ups", "1Z999AA10123456784", "I", "OT", at.Add(time.Second)) == want {
		t.Error("a different instant gives the same id")
	}
	if v := uuid.MustParse(want).Version(); v != 5 {
		t.Errorf("version %d, want 5", v)
	}
}

// DeliveryID of an event without a tenant is the id it always was, so
// stored delivery ids stay valid; with a tenant, the tenant is part of the
// name, in a namespace of its own.
func TestDeliveryIDMatchesUUIDv5(t *testing.T) {
	ns := uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/shipevents/shipevents/delivery"))
	want := uuid.NewSHA1(ns, []byte("evt-1\x00sub-1")).String()
	if got := DeliveryID(EventKey{ID: "evt-1"}, "sub-1"); got != want {
		t.Errorf("DeliveryID = %s, want %s", got, want)
	}
	if DeliveryID(EventKey{ID: "evt-1"}, "sub-2") == want {
		t.Error("different pairs share an id")
	}
	tns := uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/shipevents/shipevents/tenant-delivery"))
	wantTenant := uuid.NewSHA1(tns, []byte("acme\x00evt-1\x00sub-1")).String()
	if got := DeliveryID(EventKey{TenantID: "acme", ID: "evt-1"}, "sub-1"); got != wantTenant {
		t.Errorf("DeliveryID with a tenant = %s, want %s", got, wantTenant)
	}
	ids := map[string]EventKey{}
	for _, k := range []EventKey{{ID: "evt-1"}, {TenantID: "acme", ID: "evt-1"}, {TenantID: "globex", ID: "evt-1"}, {TenantID: "acme", ID: "evt-2"}} {
		id := DeliveryID(k, "sub-1")
		if prev, dup := ids[id]; dup {
			t.Errorf("events %s and %s share the delivery id %s to one subscription", prev, k, id)
		}
		ids[id] = k
	}
}

// MessageID, the webhook-id, is the event id without a tenant and a
// version-5 UUID of tenant and id with one, so one scan published by two
// tenants reaches a receiver of both under two ids.
func TestMessageID(t *testing.T) {
	if got := MessageID(EventKey{ID: "evt-1"}); got != "evt-1" {
		t.Errorf("MessageID without a tenant = %q, want the event id", got)
	}
	ns := uuid.NewSHA1(uuid.NameSpaceURL, []byte("https://github.com/shipevents/shipevents/message"))
	want := uuid.NewSHA1(ns, []byte("acme\x00evt-1")).String()
	if got := MessageID(EventKey{TenantID: "acme", ID: "evt-1"}); got != want {
		t.Errorf("MessageID with a tenant = %s, want %s", got, want)
	}
	if MessageID(EventKey{TenantID: "globex", ID: "evt-1"}) == want {
		t.Error("two tenants' copies of one event share a message id")
	}
	if strings.Contains(want, ".") {
		t.Errorf("message id %q contains a '.', which Standard Webhooks reserves", want)
	}
}

func TestEventKeyString(t *testing.T) {
	for k, want := range map[EventKey]string{
		{ID: "evt-1"}:                      `"evt-1"`,
		{TenantID: "acme", ID: "evt-1"}:    `"acme"/"evt-1"`,
		{TenantID: "a\nb", ID: "x\x00\"y"}: `"a\nb"/"x\x00\"y"`,
		{ID: strings.Repeat("x", 5000)}:    `"` + strings.Repeat("x", maxQuoted) + `"... (5000 bytes)`,
	} {
		if got := k.String(); got != want {
			t.Errorf("EventKey%+v.String() = %s, want %s", k, got, want)
		}
	}
}

// TestParseISOAgreesWithTimeParse checks the direct ISO parser against
// time.Parse on the shapes it claims, and that it refuses what it cannot
// read (the slower layouts handle those).
func TestParseISOAgreesWithTimeParse(t *testing.T) {
	cases := map[string]string{ // input -> time.Parse layout
		"2025-03-14T07:10:00-04:00":         time.RFC3339,
		"2025-03-14T11:10:00Z":              time.RFC3339,
		"2025-03-14T11:10:00.123456789Z":    time.RFC3339Nano,
		"2025-03-14T11:10:00.5+05:30":       time.RFC3339Nano,
		"2025-03-14T11:10:00+0530":          "2006-01-02T15:04:05Z0700",
		"2025-03-14T11:10:00-07":            "2006-01-02T15:04:05-07",
		"2025-03-14 11:10:00":               "2006-01-02 15:04:05",
		"2025-03-14T11:10":                  "2006-01-02T15:04",
		"2025-03-14":                        "2006-01-02",
		"2024-02-29T23:59:59Z":              time.RFC3339,
		"2025-12-31T00:00:00.000000000001Z": "",
	}
	for in, layout := range cases {
		got, _, ok := parseISO(in)
		if layout == "" {
			continue
		}
		want, err := time.Parse(layout, in)
		if err != nil {
			t.Fatalf("time.Parse(%q): %v", in, err)
		}
		if !ok || !got.Equal(want) {
			t.Errorf("parseISO(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, bad := range []string{"2025-02-30T00:00:00Z", "2025-13-01", "2025-03-14T24:00:00Z", "2025-03-14T11:10:00+25:00",
		"2025-03-14X11:10", "20250314", "2025-03-14T11:10:00.Z", "2025-03-14T11:10:00 PST", "2025-3-14"} {
		if _, _, ok := parseISO(bad); ok {
			t.Errorf("parseISO(%q) accepted", bad)
		}
	}
}

func FuzzParseISO(f *testing.F) {
	for _, s := range []string{"2025-03-14T07:10:00-04:00", "2025-03-14T11:10:00.123Z", "2025-03-14 11:10", "2025-03-14"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, src, ok := parseISO(s)
		if !ok {
			return
		}
		// Whatever it accepts, time.Parse reads the same instant with one
		// of the layouts matching the source it reported.
		layouts := explicitLayouts
		if src != TimeExplicit {
			layouts = append(slices.Clone(localLayouts), "2006-01-02")
		}
		for _, l := range layouts {
			if want, err := time.Parse(l, s); err == nil {
				if !want.Equal(got) {
					t.Fatalf("parseISO(%q) = %v, time.Parse(%q) = %v", s, got, l, want)
				}
				return
			}
		}
	})
}

// A megabyte of empty array elements would decode into hundreds of
// megabytes of structs; the decoder refuses it once the arrays outgrow
// their budget, having allocated a small multiple of the input.
func TestNormalizeBoundsArrayMemory(t *testing.T) {
	shapes := map[string][2]string{
		FormatUPS:   {`{"trackResponse":{"shipment":[{"package":[{"activity":[`, `]}]}]}}`},
		FormatFedEx: {`{"transactionId":"x","output":{"completeTrackResults":[{"trackResults":[{"scanEvents":[`, `]}]}]}}`},
		FormatUSPS:  {`{"trackingNumber":"x","trackingEvents":[`, `]}`},
	}
	for format, shape := range shapes {
		n := (DefaultMaxPayloadBytes - len(shape[0]) - len(shape[1])) / 3
		raw := []byte(shape[0] + strings.TrimSuffix(strings.Repeat("{},", n), ",") + shape[1])
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Normalize(format, raw)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrPayloadTooLarge) || !errors.Is(err, ErrInvalidPayload) {
			t.Errorf("%s: error %v, want ErrPayloadTooLarge", format, err)
		}
		alloc := after.TotalAlloc - before.TotalAlloc
		if alloc > 64<<20 {
			t.Errorf("%s: %d MB allocated for a %d KB payload", format, alloc>>20, len(raw)>>10)
		}
		t.Logf("%s: %d MB allocated for a %d KB payload of empty elements", format, alloc>>20, len(raw)>>10)
	}
}

// A real history near the size limit stays well within that budget.
func TestNormalizeLargeRealHistory(t *testing.T) {
	const n = 4000
	var acts []string
	for i := range n {
		at := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Minute)
		acts = append(acts, `{"location":{"address":{"city":"Secaucus","stateProvince":"NJ","countryCode":"US"}},`+
			`"status":{"type":"I","code":"OT","description":"Out For Delivery Today"},`+
			`"date":"`+at.Format("20060102")+`","time":"`+at.Format("150405")+`"}`)
	}
	raw := []byte(`{"trackResponse":{"shipment":[{"inquiryNumber":"1Z999AA10123456784","package":[{"trackingNumber":"1Z999AA10123456784","activity":[` +
		strings.Join(acts, ",") + `]}]}]}}`)
	if len(raw) > DefaultMaxPayloadBytes {
		t.Fatalf("payload of %d bytes is over the size limit", len(raw))
	}
	events, err := Normalize(FormatUPS, raw)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != n {
		t.Errorf("%d events, want %d", len(events), n)
	}
}

// TestNormalizeRefusesEscapedNUL: a JSON-escaped NUL decodes into a NUL
// byte, which no PostgreSQL text column takes: a payload holding one in any
// string is refused, saying where, while an escaped backslash followed by
// "u0000" is ordinary text.
func TestNormalizeRefusesEscapedNUL(t *testing.T) {
	payload := func(tracking, note string) []byte {
		return []byte(`{"event":"track_updated","data":{"carrier":"usps","tracking_number":"` + tracking +
			`","note":"` + note + `","tracking_history":[{"status":"TRANSIT","status_date":"2025-01-01T00:00:00Z"}]}}`)
	}
	for name, raw := range map[string][]byte{
		"in the tracking number":     payload(`9400\u0000`, "x"),
		"in a field no parser reads": payload("9400", `a\u0000b`),
		"after an escaped backslash": payload(`9400\\\u0000`, "x"),
	} {
		for _, format := range []string{FormatShippo, FormatDetect} {
			_, err := Normalize(format, raw)
			var pe *PayloadError
			if !errors.Is(err, ErrInvalidPayload) || !errors.As(err, &pe) {
				t.Errorf("%s (format %q): Normalize = %v, want a PayloadError", name, format, err)
				continue
			}
			if pe.Offset < 0 || !bytes.HasPrefix(raw[pe.Offset:], []byte(`\u0000`)) {
				t.Errorf("%s: offset %d does not point at the escape", name, pe.Offset)
			}
		}
	}
	events, err := Normalize(FormatShippo, payload(`9400\\u0000`, "x"))
	if err != nil {
		t.Fatalf("a literal backslash before u0000 refused: %v", err)
	}
	if got := events[0].TrackingNumber; got != `9400\u0000` {
		t.Errorf("tracking number %q", got)
	}
}

// TestNormalizeErrorsQuoteHostileText: a format name, a payload's keys and
// the values parsers quote in their errors come from outside, so messages
// quote them (no raw newline can forge a log line) and bound them.
func TestNormalizeErrorsQuoteHostileText(t *testing.T) {
	huge := strings.Repeat("k", 500_000)
	forged := `x\nlevel=ERROR msg=forged`
	cases := map[string]struct{ format, raw string }{
		"unknown format name":      {huge + "\nlevel=ERROR", `{}`},
		"keys of an unknown shape": {FormatDetect, `{"` + huge + `":1,"` + forged + `":2}`},
		"UPS error response":       {FormatUPS, `{"response":{"errors":[{"code":"` + forged + `","message":"` + huge + `"}]}}`},
		"FedEx errors":             {FormatFedEx, `{"transactionId":"t","output":{"completeTrackResults":[]},"errors":[{"code":"` + forged + `","message":"` + huge + `"}]}`},
		"EasyPost object":          {FormatEasyPost, `{"object":"` + huge + forged + `"}`},
		"EasyPost result":          {FormatEasyPost, `{"object":"Event","result":{"object":"` + huge + forged + `"}}`},
		"Shippo event":             {FormatShippo, `{"event":"` + huge + forged + `","data":{}}`},
		"Karrio event type":        {FormatKarrio, `{"type":"` + huge + forged + `","data":{}}`},
		"fulfillment kind":         {FormatFulfillment, `{"kind":"` + huge + forged + `","time":"2025-01-01T00:00:00Z","shipmentId":"1"}`},
		"timestamp":                {FormatShippo, `{"event":"track_updated","data":{"carrier":"usps","tracking_number":"9","tracking_history":[{"status":"TRANSIT","status_date":"` + forged + huge + `"}]}}`},
		"Amazon Shipping errors":   {FormatAmazonShipping, `{"errors":[{"code":"` + forged + `","message":"` + huge + `"}]}`},
		"Amazon Shipping time":     {FormatAmazonShipping, `{"trackingId":"Q","eventHistory":[{"eventCode":"Delivered","eventTime":"` + forged + huge + `"}]}`},
		"Parcel.One error":         {FormatParcelOne, `{"Error":"` + forged + huge + `"}`},
		"Spring error":             {FormatSpring, `{"ErrorLevel":10,"Error":"` + forged + huge + `"}`},
		"SEKO errors":              {FormatSEKO, `{"Errors":[{"Property":"` + forged + `","Message":"` + huge + `"}]}`},
		"SEKO time":                {FormatSEKO, `[{"ConsignmentNo":"A","Events":[{"EventDT":"` + forged + huge + `","OmniCode":"OP-1"}]}]`},
		"ShipEngine resource type": {FormatShipEngine, `{"resource_type":"` + huge + forged + `","data":{}}`},
		"ShipEngine status":        {FormatShipEngine, `{"tracking_number":"T","status_code":"` + forged + huge + `","events":[]}`},
		"UPS date":                 {FormatUPS, `{"trackResponse":{"shipment":[{"package":[{"trackingNumber":"1Z","activity":[{"date":"` + forged + huge + `","time":"101010","status":{"type":"I","code":"OT"}}]}]}]}}`},
	}
	for name, c := range cases {
		_, err := Normalize(c.format, []byte(c.raw))
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		msg := err.Error()
		if strings.Contains(msg, "\n") {
			t.Errorf("%s: message holds a raw newline: %.300q", name, msg)
		}
		if len(msg) > 1000 {
			t.Errorf("%s: message of %d bytes: %.200q...", name, len(msg), msg)
		}
	}
}
