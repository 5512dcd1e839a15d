package shipevents

// EasyPost: the Event webhook ({"object":"Event","description":
// "tracker.updated","result":{Tracker}}) or a bare Tracker
// ({"object":"Tracker",...}). One event per result.tracking_details[].
//
// Both shapes decode into easypostPayload in one pass: a bare Tracker fills
// the embedded fields, an Event fills Result (its own id, status and
// timestamps land harmlessly in the embedded fields and are read only as
// the Event's mode and created_at).

type easypostPayload struct {
	easypostTracker
	Description string           `json:"description"`
	Result      *easypostTracker `json:"result"`
}

type easypostTracker struct {
	ID              string `json:"id"`
	Object          string `json:"object"`
	Mode            string `json:"mode"`
	CreatedAt       string `json:"created_at"`
	UpdatedAt       string `json:"updated_at"`
	TrackingCode    string `json:"tracking_code"`
	Carrier         string `json:"carrier"`
	Status          string `json:"status"`
	StatusDetail    string `json:"status_detail"`
	SignedBy        string `json:"signed_by"`
	EstDeliveryDate string `json:"est_delivery_date"`
	IsReturn        bool   `json:"is_return"`
	CarrierDetail   *struct {
		Service string `json:"service"`
	} `json:"carrier_detail"`
	TrackingDetails []easypostDetail `json:"tracking_details"`
}

type easypostDetail struct {
	Message          string `json:"message"`
	Description      string `json:"description"`
	Status           string `json:"status"`
	StatusDetail     string `json:"status_detail"`
	Datetime         string `json:"datetime"`
	Source           string `json:"source"`
	CarrierCode      string `json:"carrier_code"`
	EstDeliveryDate  string `json:"est_delivery_date"`
	TrackingLocation *struct {
		City    string `json:"city"`
		State   string `json:"state"`
		Zip     string `json:"zip"`
		Country string `json:"country"`
	} `json:"tracking_location"`
}

func parseEasyPost(b *batch, raw []byte) error {
	var p easypostPayload
	if err := b.decode(raw, &p); err != nil {
		return err
	}
	tr := &p.easypostTracker
	prefix := ""
	mode := tr.Mode
	fallbackTime := tr.UpdatedAt
	switch {
	case p.Object == "Event":
		b.at("result")
		if p.Result == nil {
			return b.fail("Event has no result")
		}
		if p.Result.Object != "" && p.Result.Object != "Tracker" {
			return b.fail("Event result is a %s, not a Tracker", quote(p.Result.Object))
		}
		tr, prefix = p.Result, "result."
		if mode == "" {
			mode = tr.Mode
		}
		fallbackTime = tr.UpdatedAt
		if fallbackTime == "" {
			fallbackTime = p.CreatedAt
		}
	case p.Object == "Tracker", p.Object == "" && (tr.TrackingCode != "" || tr.TrackingDetails != nil):
	default:
		b.at("object")
		return b.fail("object %s is neither an Event nor a Tracker", quote(p.Object))
	}
	b.at("%stracking_code", prefix)
	if tr.TrackingCode == "" {
		return b.fail("tracker has no tracking_code")
	}

	base := scan{
		carrier:        CarrierSlug(tr.Carrier),
		trackingNumber: tr.TrackingCode,
		testMode:       mode == "test",
	}
	if tr.IsReturn {
		base.direction = DirectionReturn
	}
	if tr.CarrierDetail != nil {
		base.data.Service = tr.CarrierDetail.Service
	}
	trackerETA := estimateInstant(tr.EstDeliveryDate)

	if len(tr.TrackingDetails) == 0 {
		// No scans yet: one event from the tracker's own status.
		b.at("%sstatus", prefix)
		if tr.Status == "" && tr.StatusDetail == "" {
			return b.fail("tracker has no tracking_details and no status")
		}
		s := base
		s.data.EstimatedDelivery = trackerETA
		if err := easypostStatus(b, &s, tr.Status, tr.StatusDetail, "", fallbackTime, tr.SignedBy); err != nil {
			return err
		}
		s.data.Extra = aggExtra(s.data.Extra, "easypost_tracker_id", tr.ID)
		return b.add(&s)
	}
	reserveEvents(b, len(tr.TrackingDetails))
	for i := range tr.TrackingDetails {
		d := &tr.TrackingDetails[i]
		b.at("%stracking_details[%d]", prefix, i)
		s := base
		if s.carrier == "" {
			s.carrier = CarrierSlug(d.Source)
		}
		s.data.Description = d.Message
		if s.data.Description == "" {
			s.data.Description = d.Description
		}
		if l := d.TrackingLocation; l != nil {
			s.loc = locationOf(l.City, l.State, l.Zip, l.Country, "")
		}
		s.data.EstimatedDelivery = estimateInstant(d.EstDeliveryDate)
		if s.data.EstimatedDelivery == nil {
			s.data.EstimatedDelivery = trackerETA
		}
		if err := easypostStatus(b, &s, d.Status, d.StatusDetail, d.Message, d.Datetime, tr.SignedBy); err != nil {
			return err
		}
		s.data.Extra = aggExtra(s.data.Extra, "carrier_code", d.CarrierCode)
		s.data.Extra = aggExtra(s.data.Extra, "easypost_tracker_id", tr.ID)
		if err := b.add(&s); err != nil {
			return err
		}
	}
	return nil
}

// easypostStatus fills the status, time and signature of one EasyPost scan.
// The raw code is status_detail (EasyPost's finer vocabulary) with status
// as its type; status_detail is looked up first, then status.
func easypostStatus(b *batch, s *scan, status, detail, message, at, signedBy string) error {
	s.raw = CarrierStatus{Code: detail, Type: status, Description: message}
	if s.raw.Code == "" {
		s.raw.Code = status
	}
	s.lookup(FormatEasyPost, "status_detail", detail)
	s.lookup(FormatEasyPost, "status", status)
	b.aggResolve(s)
	if at == "" {
		return b.fail("scan has no datetime")
	}
	t, src, err := parseTimestamp(at)
	if err != nil {
		return b.fail("datetime: %v", err)
	}
	// EasyPost writes every datetime with Z, but defaults to UTC "when
	// location information is incomplete": the Z is recorded as the payload
	// states it (TimeExplicit) and the original string kept.
	s.occurredAt, s.timeSource, s.carrierTime = t, src, at
	if status == "delivered" {
		s.data.SignedBy = signedBy
	}
	return nil
}
