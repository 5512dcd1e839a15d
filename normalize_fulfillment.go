package shipevents

import (
	"bytes"
	"strconv"
	"time"
)

// Fulfillment: a fulfilment platform's shipment events {"id","kind","time",
// "transactionId","shipmentId",...}, one object or a JSON array of them (a
// batch, detected by format "" from its first element).
//
//   - shipment.created and shipment.status.changed move the shipment's
//     status: they become shipment events through the fulfillment "status"
//     table (created counts as status "pending"). The warehouse is not a
//     carrier, so the envelope carrier is empty and the tracking number is
//     the shipmentId, which keys the shipment's timeline.
//   - shipment.updated, shipment.items.assigned and shipment.deleted are
//     record events (no status) with the catalogue's shipments/* refs.

type fulfillmentEvent struct {
	ID                     string `json:"id"`
	Kind                   string `json:"kind"`
	Time                   string `json:"time"`
	TransactionID          string `json:"transactionId"`
	ShipmentID             string `json:"shipmentId"`
	ShipmentShortID        string `json:"shipmentShortId"`
	PreviousShipmentStatus string `json:"previousShipmentStatus"`
	CurrentShipmentStatus  string `json:"currentShipmentStatus"`
	ShipmentOrderID        string `json:"shipmentOrderId"`
}

// fulfillmentRecordRefs maps the record kinds to their catalogue refs.
var fulfillmentRecordRefs = map[string]string{
	"shipment.updated":        "shipments/updated",
	"shipment.items.assigned": "shipments/items_assigned",
	"shipment.deleted":        "shipments/deleted",
}

func parseFulfillment(b *batch, raw []byte) error {
	trimmed := bytes.TrimLeft(raw, " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var list []fulfillmentEvent
		if err := b.decode(raw, &list); err != nil {
			return err
		}
		if len(list) == 0 {
			return b.fail("empty batch: no events")
		}
		reserveEvents(b, len(list))
		for i := range list {
			if err := fulfillmentAdd(b, &list[i], "["+strconv.Itoa(i)+"]."); err != nil {
				return err
			}
		}
		return nil
	}
	var ev fulfillmentEvent
	if err := b.decode(raw, &ev); err != nil {
		return err
	}
	return fulfillmentAdd(b, &ev, "")
}

func fulfillmentAdd(b *batch, ev *fulfillmentEvent, prefix string) error {
	b.at("%sshipmentId", prefix)
	if ev.ShipmentID == "" {
		return b.fail("event has no shipmentId")
	}
	b.at("%stime", prefix)
	if ev.Time == "" {
		return b.fail("event has no time")
	}
	t, src, err := parseTimestamp(ev.Time)
	if err != nil {
		return b.fail("%v", err)
	}
	b.at("%skind", prefix)
	data := EventData{ShipmentID: ev.ShipmentID}
	data.Extra = aggExtra(nil, "shipment_short_id", ev.ShipmentShortID)
	data.Extra = aggExtra(data.Extra, "fulfillment_event_id", ev.ID)

	if ref, ok := fulfillmentRecordRefs[ev.Kind]; ok {
		a, ok := LookupAction(ref)
		if !ok {
			return b.fail("catalogue has no action %s for kind %s", quote(ref), quote(ev.Kind))
		}
		data.OrderID = ev.ShipmentOrderID
		data.CarrierTime, data.OccurredAtSource = ev.Time, src
		e := Event{
			ID:             fulfillmentRecordID(ev, t),
			Type:           a.Type,
			Source:         a.Source(),
			Ref:            a.Ref,
			EventName:      a.EventName,
			EventGroup:     a.Group,
			TrackingNumber: ev.ShipmentID,
			OccurredAt:     t,
			TransactionID:  ev.TransactionID,
			Data:           data,
		}
		return b.addEvent(e)
	}

	s := scan{
		trackingNumber: ev.ShipmentID,
		transactionID:  ev.TransactionID,
		occurredAt:     t,
		timeSource:     src,
		carrierTime:    ev.Time,
	}
	var status string
	switch ev.Kind {
	case "shipment.created":
		s.typ = TypeShipmentCreated
		status = "pending" // a new shipment is pending (the seed's status list)
	case "shipment.status.changed":
		s.typ = TypeShipmentStatus
		status = ev.CurrentShipmentStatus
		b.at("%scurrentShipmentStatus", prefix)
		if status == "" {
			return b.fail("status change has no currentShipmentStatus")
		}
		data.PreviousStatus = ev.PreviousShipmentStatus
	case "":
		return b.fail("event has no kind")
	default:
		return b.fail("unknown kind %s", quote(ev.Kind))
	}
	s.data = data
	s.raw = CarrierStatus{Code: status, Type: ev.Kind}
	s.lookup(FormatFulfillment, "status", status)
	b.aggResolve(&s)
	if !s.mapped && ev.Kind == "shipment.created" {
		// A creation is a booking whatever the table says about "pending".
		s.mapping, s.mapped = Mapping{Status: StatusBooked, EventName: "SHIPMENT_CREATED"}, true
	}
	return b.add(&s)
}

// fulfillmentRecordID derives a record event's id from the payload's own
// event id, so a redelivered webhook gets the same id; without one, from
// the shipment, kind and time.
func fulfillmentRecordID(ev *fulfillmentEvent, t time.Time) string {
	if ev.ID == "" {
		return ScanID(FormatFulfillment, ev.ShipmentID, ev.Kind, "", t)
	}
	return nameUUID(fulfillmentNamespace, ev.Kind, ev.ShipmentID, ev.ID)
}
