package shipevents

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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

func FuzzNormalizeLaPoste(f *testing.F) { fuzzNormalize(f, FormatLaPoste) }
