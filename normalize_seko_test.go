package shipevents

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func FuzzNormalizeSEKO(f *testing.F) { fuzzNormalize(f, FormatSEKO) }

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
