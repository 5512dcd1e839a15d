package shipevents

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"testing"

	"github.com/shipevents/shipevents/internal/xmlscan"
)

// The XML formats' baselines: xml.Unmarshal of the same bytes into a
// struct of exactly the fields each parser reads (xmlTypedTargets), a
// generic encoding/xml token walk (xmlTokenWalk, the XML counterpart of the
// map[string]any decode) and the library's own tokenizer walking every
// token (xmlScanWalk, the parsing part of Normalize).

var xmlTypedTargets = map[string]func() any{
	FormatCanadaPost:  func() any { return new(canadaPostXML) },
	FormatPurolator:   func() any { return new(purolatorXML) },
	FormatDHLParcelDE: func() any { return new(dhlParcelDEXML) },
	FormatBpost:       func() any { return new(bpostXML) },
}

type canadaPostXML struct {
	PIN         string `xml:"pin"`
	ServiceName string `xml:"service-name"`
	Expected    string `xml:"expected-delivery-date"`
	Changed     string `xml:"changed-expected-date"`
	Events      []struct {
		Identifier  string `xml:"event-identifier"`
		Date        string `xml:"event-date"`
		Time        string `xml:"event-time"`
		Zone        string `xml:"event-time-zone"`
		Description string `xml:"event-description"`
		Signatory   string `xml:"signatory-name"`
		Site        string `xml:"event-site"`
		Province    string `xml:"event-province"`
		RetailID    string `xml:"event-retail-location-id"`
		RetailName  string `xml:"event-retail-name"`
	} `xml:"significant-events>occurrence"`
}

type purolatorXMLError struct {
	Code        string `xml:"Code"`
	Description string `xml:"Description"`
}

type purolatorXML struct {
	Response struct {
		Errors []purolatorXMLError `xml:"ResponseInformation>Errors>Error"`
		Infos  []struct {
			PIN   string `xml:"PIN>Value"`
			Scans []struct {
				ScanType    string `xml:"ScanType"`
				PIN         string `xml:"PIN>Value"`
				Depot       string `xml:"Depot>Name"`
				Date        string `xml:"ScanDate"`
				Time        string `xml:"ScanTime"`
				Description string `xml:"Description"`
				Comment     string `xml:"Comment"`
				Summary     string `xml:"SummaryScanIndicator"`
				Signature   string `xml:"ScanDetails>DeliverySignature"`
			} `xml:"Scans>Scan"`
			Errors []purolatorXMLError `xml:"ResponseInformation>Errors>Error"`
		} `xml:"TrackingInformationList>TrackingInformation"`
	} `xml:"Body>TrackPackagesByPinResponse"`
}

type dhlParcelDEEventXML struct {
	Name              string `xml:"name,attr"`
	Timestamp         string `xml:"event-timestamp,attr"`
	Status            string `xml:"event-status,attr"`
	Text              string `xml:"event-text,attr"`
	ShortStatus       string `xml:"event-short-status,attr"`
	ICE               string `xml:"ice,attr"`
	RIC               string `xml:"ric,attr"`
	StandardEventCode string `xml:"standard-event-code,attr"`
	Location          string `xml:"event-location,attr"`
	Country           string `xml:"event-country,attr"`
}

type dhlParcelDEXML struct {
	Name      string `xml:"name,attr"`
	Code      string `xml:"code,attr"`
	Error     string `xml:"error,attr"`
	Shipments []struct {
		dhlParcelDEEventXML
		ErrorStatus     string `xml:"error-status,attr"`
		PieceCode       string `xml:"piece-code,attr"`
		Searched        string `xml:"searched-piece-code,attr"`
		PieceIdentifier string `xml:"piece-identifier,attr"`
		ProductName     string `xml:"product-name,attr"`
		DeliveryDate    string `xml:"delivery-date,attr"`
		Return          string `xml:"ruecksendung,attr"`
		StatusTimestamp string `xml:"status-timestamp,attr"`
		StatusText      string `xml:"status,attr"`
		ShortStatusText string `xml:"short-status,attr"`
		Lists           []struct {
			Name   string                `xml:"name,attr"`
			Events []dhlParcelDEEventXML `xml:"data"`
		} `xml:"data"`
	} `xml:"data"`
}

type bpostXML struct {
	ItemCode     string `xml:"itemCode"`
	TrackingID   string `xml:"trackingId"`
	Reference    string `xml:"customerReference"`
	DeliveryTime string `xml:"deliveryTime"`
	WindowEnd    string `xml:"deliveryTimeWindow>plannedDeliveryDateWindowEnd"`
	Product      string `xml:"itemDetail>productCode"`
	States       []struct {
		Time        string `xml:"time"`
		Location    string `xml:"location"`
		Code        string `xml:"stateCode"`
		Description string `xml:"stateDescription"`
	} `xml:"stateInfo"`
}

// normalizeBaselines returns the three baselines Normalize is measured
// against: for a JSON format the map[string]any decode, the typed
// json.Unmarshal and the library's own typed decode; for an XML format the
// encoding/xml token walk, the typed xml.Unmarshal and the library's
// tokenizer walk.
func normalizeBaselines(format string) (generic, typed, own func(raw []byte) error) {
	if mk, ok := xmlTypedTargets[format]; ok {
		sc := xmlscan.New(nil, xmlscan.Limits{})
		return xmlTokenWalk,
			func(raw []byte) error { return xml.Unmarshal(raw, mk()) },
			func(raw []byte) error { return xmlScanWalk(sc, raw) }
	}
	mk := typedTargets[format]
	return func(raw []byte) error {
			var m any // map[string]any for an object, []any of them for a batch
			return json.Unmarshal(raw, &m)
		},
		func(raw []byte) error { return json.Unmarshal(raw, mk()) },
		func(raw []byte) error { return decodeJSON(raw, mk()) }
}

// xmlTokenWalk reads every token with encoding/xml.
func xmlTokenWalk(raw []byte) error {
	d := xml.NewDecoder(bytes.NewReader(raw))
	for {
		if _, err := d.Token(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// xmlScanWalk reads every token with the library's tokenizer.
func xmlScanWalk(sc *xmlscan.Scanner, raw []byte) error {
	sc.Reset(raw, xmlscan.Limits{MaxDepth: DefaultMaxDepth})
	for {
		if _, err := sc.Next(); err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
	}
}

// TestXMLTypedTargetsRead keeps the baseline honest: the typed
// xml.Unmarshal of each largest fixture finds as many scans as Normalize
// makes events, so the baseline decodes the same data.
func TestXMLTypedTargetsRead(t *testing.T) {
	for _, format := range xmlFormats {
		raw := largestFixture(t, format)
		v := xmlTypedTargets[format]()
		if err := xml.Unmarshal(raw, v); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		n := 0
		switch v := v.(type) {
		case *canadaPostXML:
			n = len(v.Events)
		case *purolatorXML:
			for _, info := range v.Response.Infos {
				n += len(info.Scans)
			}
		case *dhlParcelDEXML:
			for _, s := range v.Shipments {
				for _, l := range s.Lists {
					n += len(l.Events)
				}
			}
		case *bpostXML:
			n = len(v.States)
		}
		events, err := Normalize(format, raw)
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 || n != len(events) {
			t.Errorf("%s: xml.Unmarshal found %d scans, Normalize made %d events", format, n, len(events))
		}
	}
}
