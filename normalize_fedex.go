package shipevents

import (
	"strings"
	"time"
)

// FedEx Track API response: output.completeTrackResults[].trackResults[],
// one event per scanEvents[] entry (newest first in FedEx responses; the
// batch sorts by instant anyway). A trackResults entry with an error and no
// scans (tracking number not found, ...) is skipped.
//
// The scan's eventType is the precise code and is looked up first;
// derivedStatusCode is FedEx's own coarse grouping and only a fallback (a
// real "OD" on-vehicle scan comes with derivedStatusCode "IT").

type fedexPayload struct {
	Output struct {
		CompleteTrackResults []struct {
			TrackingNumber string             `json:"trackingNumber"`
			TrackResults   []fedexTrackResult `json:"trackResults"`
		} `json:"completeTrackResults"`
	} `json:"output"`
	Errors []fedexMessage `json:"errors"`
}

type fedexMessage struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type fedexTrackResult struct {
	TrackingNumberInfo struct {
		TrackingNumber string `json:"trackingNumber"`
		CarrierCode    string `json:"carrierCode"`
	} `json:"trackingNumberInfo"`
	Error         *fedexMessage `json:"error"`
	ServiceDetail struct {
		Description string `json:"description"`
	} `json:"serviceDetail"`
	DeliveryDetails struct {
		ReceivedByName string `json:"receivedByName"`
	} `json:"deliveryDetails"`
	DateAndTimes []struct {
		Type     string `json:"type"`
		DateTime string `json:"dateTime"`
	} `json:"dateAndTimes"`
	EstimatedDeliveryTimeWindow struct {
		Window struct {
			Ends string `json:"ends"`
		} `json:"window"`
	} `json:"estimatedDeliveryTimeWindow"`
	ScanEvents []fedexScan `json:"scanEvents"`
}

type fedexScan struct {
	Date                 string `json:"date"`
	EventType            string `json:"eventType"`
	EventDescription     string `json:"eventDescription"`
	ExceptionCode        string `json:"exceptionCode"`
	ExceptionDescription string `json:"exceptionDescription"`
	DerivedStatusCode    string `json:"derivedStatusCode"`
	ScanLocation         struct {
		City                string `json:"city"`
		StateOrProvinceCode string `json:"stateOrProvinceCode"`
		PostalCode          string `json:"postalCode"`
		CountryCode         string `json:"countryCode"`
	} `json:"scanLocation"`
}

func parseFedEx(b *batch, raw []byte) error {
	var p fedexPayload
	if err := b.decode(raw, &p); err != nil {
		return err
	}
	b.newestFirst = true
	n := 0
	for i := range p.Output.CompleteTrackResults {
		for j := range p.Output.CompleteTrackResults[i].TrackResults {
			n += len(p.Output.CompleteTrackResults[i].TrackResults[j].ScanEvents)
		}
	}
	reserveEvents(b, n)
	var skipped []string
	for i := range p.Output.CompleteTrackResults {
		ctr := &p.Output.CompleteTrackResults[i]
		for j := range ctr.TrackResults {
			tr := &ctr.TrackResults[j]
			if len(tr.ScanEvents) == 0 {
				if tr.Error != nil {
					skipped = append(skipped, strings.TrimSpace(tr.Error.Code+": "+tr.Error.Message))
				}
				continue
			}
			b.at("output.completeTrackResults[%d].trackResults[%d].trackingNumberInfo.trackingNumber", i, j)
			tn := pickNonBlank(tr.TrackingNumberInfo.TrackingNumber, ctr.TrackingNumber)
			if tn == "" {
				return b.fail("missing tracking number")
			}
			carrierCode := strings.TrimSpace(tr.TrackingNumberInfo.CarrierCode)
			service := pickNonBlank(tr.ServiceDetail.Description, carrierCode)
			eta := fedexEstimatedDelivery(tr)
			for k := range tr.ScanEvents {
				ev := &tr.ScanEvents[k]
				b.at("output.completeTrackResults[%d].trackResults[%d].scanEvents[%d]", i, j, k)
				s := scan{carrier: "fedex", trackingNumber: tn}
				code := strings.TrimSpace(ev.EventType)
				derived := strings.TrimSpace(ev.DerivedStatusCode)
				s.raw = CarrierStatus{Code: code, Description: strings.TrimSpace(ev.EventDescription)}
				s.lookup("fedex", "event_type", code)
				s.lookup("fedex", "derived_status_code", derived)
				if strings.TrimSpace(ev.Date) == "" {
					return b.fail("scan has no date")
				}
				at, src, err := parseTimestamp(ev.Date)
				if err != nil {
					return b.fail("date: %v", err)
				}
				s.occurredAt, s.timeSource, s.carrierTime = at, src, strings.TrimSpace(ev.Date)
				loc := &ev.ScanLocation
				s.loc = locationOf(loc.City, loc.StateOrProvinceCode, loc.PostalCode, loc.CountryCode, "")
				s.data.Description = s.raw.Description
				s.data.Service = service
				s.data.EstimatedDelivery = eta
				if code == "DL" {
					s.data.SignedBy = strings.TrimSpace(tr.DeliveryDetails.ReceivedByName)
				}
				s.data.Extra = fedexExtra(ev, derived, carrierCode)
				if err := b.add(&s); err != nil {
					return err
				}
			}
		}
	}
	if len(b.events) == 0 {
		b.at("output.completeTrackResults")
		for _, e := range p.Errors {
			skipped = append(skipped, strings.TrimSpace(e.Code+": "+e.Message))
		}
		if len(skipped) > 0 {
			return b.fail("no scan events (%s)", quoteList(skipped, 3))
		}
		return b.fail("no scan events")
	}
	return nil
}

// fedexExtra keeps what FedEx said beyond the event type: its derived
// status, the exception code and text, and the operating company.
func fedexExtra(ev *fedexScan, derived, carrierCode string) map[string]any {
	var m map[string]any
	put := func(k, v string) {
		if v = strings.TrimSpace(v); v != "" {
			if m == nil {
				m = make(map[string]any, 4)
			}
			m[k] = v
		}
	}
	put("derived_status_code", derived)
	put("exception_code", ev.ExceptionCode)
	put("exception_description", ev.ExceptionDescription)
	put("carrier_code", carrierCode)
	return m
}

// fedexEstimatedDelivery returns the ESTIMATED_DELIVERY date-time, else the
// end of the estimated delivery window; nil when neither parses.
func fedexEstimatedDelivery(tr *fedexTrackResult) *time.Time {
	v := ""
	for _, d := range tr.DateAndTimes {
		if strings.EqualFold(strings.TrimSpace(d.Type), "ESTIMATED_DELIVERY") {
			v = d.DateTime
		}
	}
	if strings.TrimSpace(v) == "" {
		v = tr.EstimatedDeliveryTimeWindow.Window.Ends
	}
	return estimateInstant(v)
}
