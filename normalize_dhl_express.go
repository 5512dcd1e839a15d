package shipevents

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// DHL Express, MyDHL API tracking response (GET /tracking, GET
// /shipments/{shipmentTrackingNumber}/tracking): shipments[] with the
// waybill number in shipmentTrackingNumber and one event per events[]
// checkpoint. A shipment whose shipment-level events are missing falls
// back to its pieces' events (repeats across pieces are dropped).
//
// The checkpoint's typeCode (PU, AF, PL, DF, WC, OK, ...) is looked up in
// the MyDHL table first, then in the table of DHL Express's older XML
// service, which names the same checkpoint vocabulary (the two agree on
// every code they share).
//
// Times: each event has a local date and time at the checkpoint. With
// GMTOffset (sent when the request asks for requestGMTOffsetPerEvent) the
// instant is explicit; without it the local time is read as UTC
// (TimeAssumedUTC). The carrier time keeps the date and time as sent.
//
// The envelope carrier is "dhl", the slug every DHL service has.

type dhlExpressPayload struct {
	Shipments []dhlExpressShipment `json:"shipments"`
}

type dhlExpressShipment struct {
	ShipmentTrackingNumber  string            `json:"shipmentTrackingNumber"`
	ProductCode             string            `json:"productCode"`
	EstimatedDeliveryDate   string            `json:"estimatedDeliveryDate"`
	EstimatedTimeOfDelivery string            `json:"estimatedTimeOfDelivery"`
	Events                  []dhlExpressEvent `json:"events"`
	Pieces                  []struct {
		Events []dhlExpressEvent `json:"events"`
	} `json:"pieces"`
}

type dhlExpressEvent struct {
	Date        string `json:"date"`
	Time        string `json:"time"`
	GMTOffset   string `json:"GMTOffset"`
	TypeCode    string `json:"typeCode"`
	Description string `json:"description"`
	ServiceArea []struct {
		Code        string `json:"code"`
		Description string `json:"description"`
	} `json:"serviceArea"`
	SignedBy string `json:"signedBy"`
	Remarks  []struct {
		Value string `json:"value"`
	} `json:"remarks"`
}

func parseDHLExpress(b *batch, raw []byte) error {
	var p dhlExpressPayload
	if err := b.decode(raw, &p); err != nil {
		return err
	}
	n := 0
	for i := range p.Shipments {
		n += dhlExpressEventCount(&p.Shipments[i])
	}
	reserveEvents(b, n)
	for i := range p.Shipments {
		sh := &p.Shipments[i]
		if dhlExpressEventCount(sh) == 0 {
			continue
		}
		b.at("shipments[%d].shipmentTrackingNumber", i)
		tn := strings.TrimSpace(sh.ShipmentTrackingNumber)
		if tn == "" {
			return b.fail("missing tracking number")
		}
		eta := estimateInstant(pickNonBlank(sh.EstimatedDeliveryDate, sh.EstimatedTimeOfDelivery))
		service := strings.TrimSpace(sh.ProductCode)
		for k := range sh.Events {
			b.at("shipments[%d].events[%d]", i, k)
			if err := addDHLExpressEvent(b, &sh.Events[k], tn, service, eta); err != nil {
				return err
			}
		}
		if len(sh.Events) > 0 {
			continue
		}
		for j := range sh.Pieces {
			for k := range sh.Pieces[j].Events {
				b.at("shipments[%d].pieces[%d].events[%d]", i, j, k)
				if err := addDHLExpressEvent(b, &sh.Pieces[j].Events[k], tn, service, eta); err != nil {
					return err
				}
			}
		}
	}
	if len(b.events) == 0 {
		b.at("shipments")
		return b.fail("no shipment with events")
	}
	return nil
}

// dhlExpressEventCount returns how many events a shipment yields: its own,
// or else its pieces'.
func dhlExpressEventCount(sh *dhlExpressShipment) int {
	if len(sh.Events) > 0 {
		return len(sh.Events)
	}
	n := 0
	for k := range sh.Pieces {
		n += len(sh.Pieces[k].Events)
	}
	return n
}

func addDHLExpressEvent(b *batch, ev *dhlExpressEvent, tn, service string, eta *time.Time) error {
	s := scan{carrier: "dhl", trackingNumber: tn}
	code := strings.TrimSpace(ev.TypeCode)
	s.raw = CarrierStatus{Code: code, Description: strings.TrimSpace(ev.Description)}
	s.lookup("mydhl", "type_code", code)
	s.lookup("dhl_express", "event_code", code)
	at, src, written, err := dhlExpressInstant(ev)
	if err != nil {
		return b.fail("%v", err)
	}
	s.occurredAt, s.timeSource, s.carrierTime = at, src, written
	if len(ev.ServiceArea) > 0 {
		s.loc = dhlServiceArea(ev.ServiceArea[0].Code, ev.ServiceArea[0].Description)
	}
	s.data.Description = s.raw.Description
	s.data.Service = service
	s.data.EstimatedDelivery = eta
	s.data.SignedBy = strings.TrimSpace(ev.SignedBy)
	for _, r := range ev.Remarks {
		if v := strings.TrimSpace(r.Value); v != "" {
			s.data.Extra = map[string]any{"remark": v}
			break
		}
	}
	return b.add(&s)
}

// dhlExpressInstant reads an event's date, time and optional GMTOffset,
// and returns the date and time as written ("2025-09-16 11:37:58").
func dhlExpressInstant(ev *dhlExpressEvent) (t time.Time, source, written string, err error) {
	date, clock := strings.TrimSpace(ev.Date), strings.TrimSpace(ev.Time)
	if date == "" {
		return time.Time{}, "", "", errors.New("event has no date")
	}
	if len(date)+len(clock) > 30 {
		return time.Time{}, "", "", fmt.Errorf("date %.20q time %.20q is too long", date, clock)
	}
	written = date
	if clock != "" {
		written = date + " " + clock // the space form parses as ISO 8601 too
	}
	t, source, err = parseTimestamp(written)
	if err != nil {
		return time.Time{}, "", "", err
	}
	if off := strings.TrimSpace(ev.GMTOffset); off != "" && source == TimeAssumedUTC {
		secs, err := parseOffset(off)
		if err != nil {
			return time.Time{}, "", "", err
		}
		return t.Add(-time.Duration(secs) * time.Second), TimeExplicit, written, nil
	}
	return t, source, written, nil
}

// dhlServiceArea turns a DHL service area ("SYD", "SYDNEY-AU") into a
// location: the code is the facility, and a trailing "-CC" of two capital
// letters is the country.
func dhlServiceArea(code, desc string) Location {
	desc = strings.TrimSpace(desc)
	city, country := desc, ""
	if n := len(desc); n > 3 && desc[n-3] == '-' && isUpperASCII(desc[n-2]) && isUpperASCII(desc[n-1]) {
		city, country = strings.TrimSpace(desc[:n-3]), desc[n-2:]
	}
	return locationOf(city, "", "", country, code)
}

func isUpperASCII(c byte) bool { return c >= 'A' && c <= 'Z' }
