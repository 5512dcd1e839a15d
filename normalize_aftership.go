package shipevents

import (
	"strconv"
	"time"
)

// AfterShip: the tracking webhook {"ts","event","event_id","msg":{tracking}}.
// One event per msg.checkpoints[]; with no checkpoints, one event from
// msg.tag/subtag at ts.

type aftershipPayload struct {
	TS      *int64             `json:"ts"`
	Event   string             `json:"event"`
	EventID string             `json:"event_id"`
	Msg     *aftershipTracking `json:"msg"`
}

type aftershipTracking struct {
	ID               string                `json:"id"`
	TrackingNumber   string                `json:"tracking_number"`
	Slug             string                `json:"slug"`
	Tag              string                `json:"tag"`
	Subtag           string                `json:"subtag"`
	SubtagMessage    string                `json:"subtag_message"`
	SignedBy         string                `json:"signed_by"`
	ExpectedDelivery string                `json:"expected_delivery"`
	ShipmentType     string                `json:"shipment_type"`
	Checkpoints      []aftershipCheckpoint `json:"checkpoints"`
}

type aftershipCheckpoint struct {
	Slug           string `json:"slug"`
	CreatedAt      string `json:"created_at"`
	CheckpointTime string `json:"checkpoint_time"`
	Message        string `json:"message"`
	City           string `json:"city"`
	State          string `json:"state"`
	Zip            string `json:"zip"`
	CountryISO3    string `json:"country_iso3"`
	CountryRegion  string `json:"country_region"`
	Location       string `json:"location"`
	Tag            string `json:"tag"`
	Subtag         string `json:"subtag"`
	SubtagMessage  string `json:"subtag_message"`
	RawTag         string `json:"raw_tag"`
}

func parseAfterShip(b *batch, raw []byte) error {
	var p aftershipPayload
	if err := b.decode(raw, &p); err != nil {
		return err
	}
	b.at("msg")
	if p.Msg == nil {
		return b.fail("no msg (the tracking object)")
	}
	m := p.Msg
	b.at("msg.tracking_number")
	if m.TrackingNumber == "" {
		return b.fail("tracking has no tracking_number")
	}
	// return_to_sender marks a forward shipment on its way back; the
	// direction stays forward and the status (Exception_010/011) says so.
	base := scan{
		carrier:        CarrierSlug(m.Slug),
		trackingNumber: m.TrackingNumber,
	}
	base.data.Service = m.ShipmentType
	base.data.EstimatedDelivery = estimateInstant(m.ExpectedDelivery)

	if len(m.Checkpoints) == 0 {
		b.at("msg.tag")
		if m.Tag == "" && m.Subtag == "" {
			return b.fail("tracking has no checkpoints and no tag")
		}
		b.at("ts")
		if p.TS == nil {
			return b.fail("tracking has no checkpoints and the payload no ts")
		}
		s := base
		s.data.Extra = aggExtra(nil, "aftership_event_id", p.EventID)
		aftershipStatus(b, &s, m.Tag, m.Subtag, m.SubtagMessage, m.SignedBy)
		s.occurredAt = time.Unix(*p.TS, 0).UTC()
		s.timeSource = TimeExplicit
		s.carrierTime = strconv.FormatInt(*p.TS, 10)
		return b.add(&s)
	}
	reserveEvents(b, len(m.Checkpoints))
	for i := range m.Checkpoints {
		c := &m.Checkpoints[i]
		b.at("msg.checkpoints[%d]", i)
		s := base
		if s.carrier == "" {
			s.carrier = CarrierSlug(c.Slug)
		}
		s.data.Description = c.Message
		country := c.CountryISO3
		if country == "" {
			country = c.CountryRegion
		}
		s.data.Extra = aggExtra(nil, "aftership_event_id", p.EventID)
		s.data.Extra = aggExtra(s.data.Extra, "carrier_code", c.RawTag)
		// The structured fields win. Without a city, the free-text location
		// ("Manchester Mail Centre", "HERNANDO, FL 34442") fills the
		// Location when it clearly reads "City, ST" and nothing structured
		// was given; otherwise it is kept verbatim in Extra["location_text"].
		s.loc = locationOf(c.City, c.State, c.Zip, country, "")
		if c.City == "" && c.Location != "" {
			var parsed *Location
			if s.data.Location == nil {
				parsed = aggLocationText(c.Location)
			}
			if parsed != nil {
				s.data.Location = parsed
			} else {
				s.data.Extra = aggExtra(s.data.Extra, "location_text", c.Location)
			}
		}
		aftershipStatus(b, &s, c.Tag, c.Subtag, c.SubtagMessage, m.SignedBy)
		// checkpoint_time is when the scan happened, in the carrier's local
		// time, with or without an offset. created_at is only when
		// AfterShip recorded it, so it is used (as TimeReceived) only when
		// checkpoint_time is missing.
		at, src := c.CheckpointTime, ""
		if at == "" {
			at, src = c.CreatedAt, TimeReceived
		}
		if at == "" {
			return b.fail("checkpoint has no checkpoint_time")
		}
		t, parsedSrc, err := parseTimestamp(at)
		if err != nil {
			return b.fail("checkpoint_time: %v", err)
		}
		if src == "" {
			src = parsedSrc
		}
		s.occurredAt, s.timeSource, s.carrierTime = t, src, at
		if err := b.add(&s); err != nil {
			return err
		}
	}
	return nil
}

// aftershipStatus sets the raw status (subtag, typed by its tag) and looks
// up subtag then tag.
func aftershipStatus(b *batch, s *scan, tag, subtag, subtagMessage, signedBy string) {
	s.raw = CarrierStatus{Code: subtag, Type: tag, Description: subtagMessage}
	if s.raw.Code == "" {
		s.raw.Code = tag
	}
	s.lookup(FormatAfterShip, "subtag", subtag)
	s.lookup(FormatAfterShip, "tag", tag)
	b.aggResolve(s)
	if tag == "Delivered" {
		s.data.SignedBy = signedBy
	}
}
