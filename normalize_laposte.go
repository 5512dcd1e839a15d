package shipevents

import (
	"bytes"
	"strconv"
	"strings"
)

// La Poste Suivi API v2 (api.laposte.fr/suivi/v2/idships/{idship}): one
// response object per tracked item, or an array of them when several
// items (up to 10, comma separated) are asked for. Each response has a
// returnCode; a 2xx one carries shipment.event[], one event per entry,
// newest first. Responses without a shipment (104 unknown item, 400
// invalid number, ...) are skipped, and reported if nothing is left.
//
// One format covers every La Poste network: shipment.holder says which one
// handled the item (1 Courrier, 3 Chronopost, 4 Colissimo), and the
// envelope carrier follows it ("laposte", "chronopost", "colissimo"); a
// response without holder falls back to the product name. Event codes are
// La Poste's 3-character Suivi codes (DR1, PC1, ET1, MD2, DI1, ...), looked
// up in the network's own table first, then in La Poste's.
//
// Event dates carry an offset ("2023-03-09T09:38:00+01:00"): explicit
// instants.

type laposteResponse struct {
	ReturnCode    int              `json:"returnCode"`
	ReturnMessage string           `json:"returnMessage"`
	IDShip        string           `json:"idShip"`
	Shipment      *laposteShipment `json:"shipment"`
}

type laposteShipment struct {
	IDShip    string  `json:"idShip"`
	Holder    float64 `json:"holder"` // a JSON number: 1, 3 or 4
	Product   string  `json:"product"`
	EstimDate string  `json:"estimDate"`
	Event     []struct {
		Code  string `json:"code"`
		Label string `json:"label"`
		Date  string `json:"date"`
	} `json:"event"`
}

func parseLaPoste(b *batch, raw []byte) error {
	var list []laposteResponse
	if t := bytes.TrimLeft(raw, " \t\r\n"); len(t) > 0 && t[0] == '[' {
		if err := b.decode(raw, &list); err != nil {
			return err
		}
	} else {
		list = make([]laposteResponse, 1)
		if err := b.decode(raw, &list[0]); err != nil {
			return err
		}
	}
	b.newestFirst = true
	n := 0
	for i := range list {
		if list[i].Shipment != nil {
			n += len(list[i].Shipment.Event)
		}
	}
	reserveEvents(b, n)
	var skipped []string
	for i := range list {
		r := &list[i]
		sh := r.Shipment
		if sh == nil || r.ReturnCode < 200 || r.ReturnCode > 299 {
			skipped = append(skipped, strings.TrimSpace(strconv.Itoa(r.ReturnCode)+" "+r.ReturnMessage))
			continue
		}
		b.at("[%d].shipment.idShip", i)
		tn := pickNonBlank(sh.IDShip, r.IDShip)
		if tn == "" {
			return b.fail("missing tracking number")
		}
		carrier := laposteCarrier(sh.Holder, sh.Product)
		eta := estimateInstant(sh.EstimDate)
		service := strings.TrimSpace(sh.Product)
		for k := range sh.Event {
			ev := &sh.Event[k]
			b.at("[%d].shipment.event[%d]", i, k)
			s := scan{carrier: carrier, trackingNumber: tn}
			code := strings.TrimSpace(ev.Code)
			s.raw = CarrierStatus{Code: code, Description: strings.TrimSpace(ev.Label)}
			if carrier != "laposte" {
				s.lookup(carrier, "code", code)
			}
			s.lookup("laposte", "code", code)
			if strings.TrimSpace(ev.Date) == "" {
				return b.fail("event has no date")
			}
			at, src, err := parseTimestamp(ev.Date)
			if err != nil {
				return b.fail("date: %v", err)
			}
			s.occurredAt, s.timeSource, s.carrierTime = at, src, strings.TrimSpace(ev.Date)
			s.data.Description = s.raw.Description
			s.data.Service = service
			s.data.EstimatedDelivery = eta
			if err := b.add(&s); err != nil {
				return err
			}
		}
	}
	if len(b.events) == 0 {
		b.at("shipment.event")
		if len(skipped) > 0 {
			return b.fail("no shipment with events (%.200q)", strings.Join(skipped, "; "))
		}
		return b.fail("no shipment with events")
	}
	return nil
}

// laposteCarrier names the La Poste network that handled an item.
func laposteCarrier(holder float64, product string) string {
	switch holder {
	case 1:
		return "laposte"
	case 3:
		return "chronopost"
	case 4:
		return "colissimo"
	}
	p := strings.ToLower(product)
	switch {
	case strings.Contains(p, "colissimo"):
		return "colissimo"
	case strings.Contains(p, "chronopost"):
		return "chronopost"
	}
	return "laposte"
}
