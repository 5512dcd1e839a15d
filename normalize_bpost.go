package shipevents

import "strings"

// bpost track and trace (the shipping manager API's item tracking): an
// itemTracking document in the http://schema.post.be/tracking/v1/
// namespace, with the itemCode (the barcode) and one stateInfo per event,
// oldest first. The stateCode ("U01", "N03", ...) is looked up in the
// state_code table. An error response (businessException or
// systemException) becomes a PayloadError naming bpost's code and message.
//
// Times: stateInfo/time is an xs:dateTime with its offset, an explicit
// instant.

const (
	bpostTrackingNS = "http://schema.post.be/tracking/v1/"
	bpostNSPrefix   = "http://schema.post.be/"
)

type bpostTracking struct {
	itemCode, trackingID, reference, product string
	deliveryTime, windowEnd                  string
	states                                   []bpostState
}

type bpostState struct {
	time, location, code, description string
}

func parseBpost(b *batch, raw []byte) error {
	d, root, err := b.openXML(raw)
	if err != nil {
		return err
	}
	defer d.close()
	switch string(root.Local) {
	case "itemTracking":
	case "businessException", "systemException":
		return bpostException(d, string(root.Local))
	default:
		return b.fail("root element %s is not itemTracking", shortName(string(root.Local)))
	}
	var p bpostTracking
	if err := readBpostTracking(d, &p); err != nil {
		return err
	}
	if err := d.end(); err != nil {
		return err
	}
	b.at("itemCode")
	if p.itemCode == "" {
		return b.fail("missing tracking number")
	}
	if len(p.states) == 0 {
		b.at("stateInfo")
		return b.fail("no stateInfo")
	}
	reserveEvents(b, len(p.states))
	eta := estimateInstant(pickNonBlank(p.windowEnd, p.deliveryTime))
	for i := range p.states {
		st := &p.states[i]
		b.at("stateInfo[%d]", i)
		if st.code == "" {
			return b.fail("stateInfo has no stateCode")
		}
		if st.time == "" {
			return b.fail("stateInfo has no time")
		}
		s := scan{carrier: "bpost", trackingNumber: p.itemCode}
		s.raw = CarrierStatus{Code: st.code, Description: st.description}
		s.lookup("bpost", "state_code", st.code)
		at, src, err := parseTimestamp(st.time)
		if err != nil {
			return b.fail("time: %v", err)
		}
		s.occurredAt, s.timeSource, s.carrierTime = at, src, st.time
		s.loc = locationOf(st.location, "", "", "", "")
		s.data.Description = st.description
		s.data.Service = p.product
		s.data.EstimatedDelivery = eta
		s.data.Extra = bpostExtra(&p)
		if err := b.add(&s); err != nil {
			return err
		}
	}
	return nil
}

// bpostExtra keeps the item's own references: bpost's tracking id (the
// "external id") and the sender's customer reference.
func bpostExtra(p *bpostTracking) map[string]any {
	if p.trackingID == "" && p.reference == "" {
		return nil
	}
	m := make(map[string]any, 2)
	if p.trackingID != "" {
		m["tracking_id"] = p.trackingID
	}
	if p.reference != "" {
		m["customer_reference"] = p.reference
	}
	return m
}

func readBpostTracking(d *xmlDoc, p *bpostTracking) error {
	for {
		tok, ok, err := d.child()
		if err != nil || !ok {
			return err
		}
		switch string(tok.Local) {
		case "itemCode":
			p.itemCode, err = d.text()
		case "trackingId":
			p.trackingID, err = d.text()
		case "customerReference":
			p.reference, err = d.text()
		case "deliveryTime":
			p.deliveryTime, err = d.text()
		case "deliveryTimeWindow":
			p.windowEnd, err = d.childText("plannedDeliveryDateWindowEnd")
		case "itemDetail":
			p.product, err = d.childText("productCode")
		case "stateInfo":
			d.b.at("stateInfo[%d]", len(p.states))
			if err := d.b.tooManyScans(len(p.states) + 1); err != nil {
				return err
			}
			p.states = append(p.states, bpostState{})
			err = readBpostState(d, &p.states[len(p.states)-1])
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
}

func readBpostState(d *xmlDoc, st *bpostState) error {
	for {
		tok, ok, err := d.child()
		if err != nil || !ok {
			return err
		}
		switch string(tok.Local) {
		case "time":
			st.time, err = d.text()
		case "location":
			st.location, err = d.text()
		case "stateCode":
			st.code, err = d.text()
		case "stateDescription":
			st.description, err = d.text()
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
}

// bpostException reports a bpost businessException (code, message) or
// systemException (message).
func bpostException(d *xmlDoc, kind string) error {
	var code, msg string
	for {
		tok, ok, err := d.child()
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		switch string(tok.Local) {
		case "code":
			code, err = d.text()
		case "message":
			msg, err = d.text()
		default:
			err = d.skip()
		}
		if err != nil {
			return err
		}
	}
	d.b.at(kind)
	return d.b.fail("bpost %s (%s)", kind, strings.Join(appendMessage(nil, code, msg), ""))
}
