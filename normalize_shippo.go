package shipevents

// Shippo: the track_updated webhook {"event":"track_updated","test":bool,
// "data":{Track}} or a bare Track. One event per tracking_history[] entry
// (oldest first in the payload), plus tracking_status when its object_id
// is not in the history.
//
// Both shapes decode into shippoPayload in one pass: a bare Track fills
// the embedded fields, a webhook fills Data.

type shippoPayload struct {
	shippoTrack
	Event string       `json:"event"`
	Test  bool         `json:"test"`
	Data  *shippoTrack `json:"data"`
}

type shippoTrack struct {
	Carrier        string `json:"carrier"`
	TrackingNumber string `json:"tracking_number"`
	ETA            string `json:"eta"`
	Metadata       string `json:"metadata"`
	Servicelevel   *struct {
		Name string `json:"name"`
	} `json:"servicelevel"`
	TrackingStatus  *shippoStatus  `json:"tracking_status"`
	TrackingHistory []shippoStatus `json:"tracking_history"`
}

type shippoStatus struct {
	ObjectID  string `json:"object_id"`
	Status    string `json:"status"`
	Substatus *struct {
		Code string `json:"code"`
		Text string `json:"text"`
	} `json:"substatus"`
	StatusDetails string `json:"status_details"`
	StatusDate    string `json:"status_date"`
	Location      *struct {
		City    string `json:"city"`
		State   string `json:"state"`
		Zip     string `json:"zip"`
		Country string `json:"country"`
	} `json:"location"`
}

func parseShippo(b *batch, raw []byte) error {
	var p shippoPayload
	if err := b.decode(raw, &p); err != nil {
		return err
	}
	tr, prefix := &p.shippoTrack, ""
	if p.Event != "" || p.Data != nil {
		b.at("event")
		if p.Event != "track_updated" {
			return b.fail("event %s is not track_updated", quote(p.Event))
		}
		b.at("data")
		if p.Data == nil {
			return b.fail("track_updated has no data")
		}
		tr, prefix = p.Data, "data."
	}
	b.at("%stracking_number", prefix)
	if tr.TrackingNumber == "" {
		return b.fail("track has no tracking_number")
	}
	base := scan{
		carrier:        CarrierSlug(tr.Carrier),
		trackingNumber: tr.TrackingNumber,
		testMode:       p.Test,
	}
	base.data.EstimatedDelivery = estimateInstant(tr.ETA)
	if tr.Servicelevel != nil {
		base.data.Service = tr.Servicelevel.Name
	}

	reserveEvents(b, len(tr.TrackingHistory))
	for i := range tr.TrackingHistory {
		b.at("%stracking_history[%d]", prefix, i)
		if err := shippoAdd(b, &base, tr, &tr.TrackingHistory[i]); err != nil {
			return err
		}
	}
	// tracking_status is normally the last history entry again; add it
	// only when the history does not hold its object_id (a repeat without
	// an object_id is still dropped by the batch if its id matches).
	if st := tr.TrackingStatus; st != nil && (st.Status != "" || st.StatusDate != "") {
		inHistory := false
		if st.ObjectID != "" {
			for i := range tr.TrackingHistory {
				if tr.TrackingHistory[i].ObjectID == st.ObjectID {
					inHistory = true
					break
				}
			}
		}
		if !inHistory {
			b.at("%stracking_status", prefix)
			if err := shippoAdd(b, &base, tr, st); err != nil {
				return err
			}
		}
	}
	if len(b.events) == 0 {
		b.at("%stracking_history", prefix)
		return b.fail("track has no tracking_history and no tracking_status")
	}
	return nil
}

func shippoAdd(b *batch, base *scan, tr *shippoTrack, st *shippoStatus) error {
	s := *base
	sub, subText := "", ""
	if st.Substatus != nil {
		sub, subText = st.Substatus.Code, st.Substatus.Text
	}
	s.raw = CarrierStatus{Code: sub, Type: st.Status, Description: subText}
	if s.raw.Code == "" {
		s.raw.Code = st.Status
	}
	if s.raw.Description == "" {
		s.raw.Description = st.StatusDetails
	}
	if s.raw.Code == "" {
		return b.fail("entry has no status")
	}
	s.lookup(FormatShippo, "substatus", sub)
	s.lookup(FormatShippo, "status", st.Status)
	b.aggResolve(&s)
	s.data.Description = st.StatusDetails
	if l := st.Location; l != nil {
		s.loc = locationOf(l.City, l.State, l.Zip, l.Country, "")
	}
	s.data.Extra = aggExtra(nil, "metadata", tr.Metadata)
	s.data.Extra = aggExtra(s.data.Extra, "shippo_object_id", st.ObjectID)
	if st.StatusDate == "" {
		return b.fail("entry has no status_date")
	}
	// status_date is documented as UTC; one without a zone is read as UTC
	// and reported as such (TimeAssumedUTC).
	t, src, err := parseTimestamp(st.StatusDate)
	if err != nil {
		return b.fail("status_date: %v", err)
	}
	s.occurredAt, s.timeSource, s.carrierTime = t, src, st.StatusDate
	return b.add(&s)
}
