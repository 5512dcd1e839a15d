package shipevents

import "strings"

// Hermes Germany, HSI shipment info (GET /services/hsi/shipmentinfo):
// shipmentinfo[] with the shipment number in shipmentID and one event per
// status[] entry. An entry whose result code starts with "e" (e001: no
// information for the number) is skipped, and reported if nothing is left.
//
// Codes are Hermes's 4-digit "2x2" event codes (a 2-digit main status and a
// 2-digit detail: 3500 delivered, 3731 not at home on the first attempt,
// ...), kept with their leading zeros ("0000").
//
// Timestamps carry an offset ("2024-01-20T14:30:00+01:00"): explicit
// instants. The delivery forecast is a date only.

type hermesPayload struct {
	ShipmentInfo []struct {
		ShipmentID string `json:"shipmentID"`
		Result     struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"result"`
		DeliveryForecast struct {
			Date string `json:"date"`
		} `json:"deliveryForecast"`
		Status []struct {
			Timestamp    string `json:"timestamp"`
			Code         string `json:"code"`
			Description  string `json:"description"`
			ScanningUnit struct {
				Name        string `json:"name"`
				City        string `json:"city"`
				CountryCode string `json:"countryCode"`
			} `json:"scanningUnit"`
		} `json:"status"`
	} `json:"shipmentinfo"`
}

func parseHermes(b *batch, raw []byte) error {
	var p hermesPayload
	if err := b.decode(raw, &p); err != nil {
		return err
	}
	n := 0
	for i := range p.ShipmentInfo {
		n += len(p.ShipmentInfo[i].Status)
	}
	reserveEvents(b, n)
	var skipped []string
	for i := range p.ShipmentInfo {
		si := &p.ShipmentInfo[i]
		if rc := strings.TrimSpace(si.Result.Code); strings.HasPrefix(rc, "e") || strings.HasPrefix(rc, "E") {
			skipped = append(skipped, strings.TrimSpace(rc+" "+si.Result.Message))
			continue
		}
		if len(si.Status) == 0 {
			continue
		}
		b.at("shipmentinfo[%d].shipmentID", i)
		tn := strings.TrimSpace(si.ShipmentID)
		if tn == "" {
			return b.fail("missing tracking number")
		}
		eta := estimateInstant(si.DeliveryForecast.Date)
		for k := range si.Status {
			ev := &si.Status[k]
			b.at("shipmentinfo[%d].status[%d]", i, k)
			s := scan{carrier: "hermes", trackingNumber: tn}
			code := strings.TrimSpace(ev.Code)
			s.raw = CarrierStatus{Code: code, Description: strings.TrimSpace(ev.Description)}
			s.lookup("hermes", "event_code", code)
			if strings.TrimSpace(ev.Timestamp) == "" {
				return b.fail("status has no timestamp")
			}
			at, src, err := parseTimestamp(ev.Timestamp)
			if err != nil {
				return b.fail("timestamp: %v", err)
			}
			s.occurredAt, s.timeSource, s.carrierTime = at, src, strings.TrimSpace(ev.Timestamp)
			u := &ev.ScanningUnit
			s.loc = locationOf(u.City, "", "", u.CountryCode, u.Name)
			s.data.Description = s.raw.Description
			s.data.EstimatedDelivery = eta
			if err := b.add(&s); err != nil {
				return err
			}
		}
	}
	if len(b.events) == 0 {
		b.at("shipmentinfo")
		if len(skipped) > 0 {
			return b.fail("no shipment with status events (%.200q)", strings.Join(skipped, "; "))
		}
		return b.fail("no shipment with status events")
	}
	return nil
}
