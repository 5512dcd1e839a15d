package shipevents

import "strings"

// carrierAliases maps the names aggregators use to the envelope's slugs.
var carrierAliases = map[string]string{
	"fedex": "fedex", "fedex_ground": "fedex", "fdxg": "fedex", "fdxe": "fedex", "federal_express": "fedex",
	"ups": "ups", "united_parcel_service": "ups", "upsn": "ups",
	"usps": "usps", "united_states_postal_service": "usps", "stamps_com": "usps",
	"dhl": "dhl", "dhl_express": "dhl", "dhlexpress": "dhl", "dhl_ecommerce": "dhl", "dhl_parcel": "dhl", "dhl_parcel_de": "dhl", "dhl_universal": "dhl", "mydhl": "dhl",
	"canada_post": "canadapost", "canadapost": "canadapost",
	"royal_mail": "royalmail", "royalmail": "royalmail",
	"australia_post": "australiapost", "australiapost": "australiapost",
	"la_poste": "laposte", "laposte": "laposte", "la_poste_colissimo": "colissimo",
	"dpd": "dpd", "gls": "gls", "gls_group": "gls", "hermes": "hermes", "hermes_germany": "hermes", "evri": "hermes",
	"purolator": "purolator", "ontrac": "ontrac", "lasership": "lasership", "amazon": "amazon_shipping",
}

// CarrierSlug returns the envelope's lower-case slug for a carrier name as
// an aggregator writes it ("FedEx", "UPS", "dhl-express", "Canada Post").
// Names it does not know are lower-cased with spaces and hyphens turned
// into underscores.
func CarrierSlug(name string) string {
	name = strings.TrimSpace(name)
	if name == "" {
		return ""
	}
	s := strings.Map(func(r rune) rune {
		switch {
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		case r == ' ' || r == '-' || r == '.':
			return '_'
		}
		return r
	}, name)
	if alias, ok := carrierAliases[s]; ok {
		return alias
	}
	return s
}
