package console

import (
	"context"
	"time"

	"github.com/shipevents/shipevents"
)

// healthSample is how many of a subscription's newest deliveries its
// health is computed from: one page, whatever the history's size.
const healthSample = 500

// chartBuckets and chartBucket make the charts' window: the last 24
// hours, by the hour.
const (
	chartBuckets = 24
	chartBucket  = time.Hour
)

// health is a subscription's health, from its newest deliveries.
type health struct {
	SubscriptionID string `json:"subscription_id"`
	// Sampled is how many deliveries it was computed from (the newest).
	Sampled int `json:"sampled"`
	// SuccessRate is succeeded / (succeeded + dead) among them; nil when
	// none has finished.
	SuccessRate *float64 `json:"success_rate"`
	Succeeded   int      `json:"succeeded"`
	Dead        int      `json:"dead"`
	// Retrying counts the deliveries still pending after a failure.
	Retrying int `json:"retrying"`
	// DeadLetters is the subscription's dead letters in all (bounded as
	// page counts are).
	DeadLetters          int        `json:"dead_letters"`
	DeadLettersEstimated bool       `json:"dead_letters_estimated,omitempty"`
	LastError            string     `json:"last_error,omitempty"`
	LastErrorAt          *time.Time `json:"last_error_at,omitempty"`
	LastStatusCode       int        `json:"last_status_code,omitempty"`
	Disabled             bool       `json:"disabled"`
	DisabledReason       string     `json:"disabled_reason,omitempty"`
	// Buckets are the deliveries of the sample by the hour of their last
	// change, oldest first, over the last 24 hours.
	Buckets []bucket `json:"buckets"`
}

// bucket is one hour of a chart.
type bucket struct {
	Start     time.Time `json:"start"`
	Succeeded int       `json:"succeeded"`
	Failed    int       `json:"failed"` // dead letters and deliveries retrying
}

func (c *Console) health(ctx context.Context, s *shipevents.Subscription) (health, error) {
	h := health{SubscriptionID: s.ID, Disabled: s.Disabled, DisabledReason: s.DisabledReason}
	page, err := c.d.Deliveries(ctx, shipevents.DeliveryFilter{SubscriptionID: s.ID, NewestFirst: true, Limit: healthSample})
	if err != nil {
		return h, err
	}
	end := c.now().UTC().Truncate(chartBucket).Add(chartBucket)
	start := end.Add(-chartBuckets * chartBucket)
	h.Buckets = make([]bucket, chartBuckets)
	for i := range h.Buckets {
		h.Buckets[i].Start = start.Add(time.Duration(i) * chartBucket)
	}
	h.Sampled = len(page.Items)
	for _, d := range page.Items {
		failed := false
		switch d.State {
		case shipevents.DeliverySucceeded:
			h.Succeeded++
		case shipevents.DeliveryDead:
			h.Dead++
			failed = true
		default:
			if d.Attempts > 0 {
				h.Retrying++
				failed = true
			}
		}
		if d.LastError != "" && h.LastErrorAt == nil {
			t := d.UpdatedAt
			h.LastError, h.LastErrorAt, h.LastStatusCode = d.LastError, &t, d.LastStatusCode
		}
		if i := int(d.UpdatedAt.Sub(start) / chartBucket); !d.UpdatedAt.Before(start) && i < chartBuckets {
			if d.State == shipevents.DeliverySucceeded {
				h.Buckets[i].Succeeded++
			} else if failed {
				h.Buckets[i].Failed++
			}
		}
	}
	if n := h.Succeeded + h.Dead; n > 0 {
		rate := float64(h.Succeeded) / float64(n)
		h.SuccessRate = &rate
	}
	dead, err := c.d.Deliveries(ctx, shipevents.DeliveryFilter{SubscriptionID: s.ID, State: shipevents.DeliveryDead, Limit: 1})
	if err != nil {
		return h, err
	}
	h.DeadLetters, h.DeadLettersEstimated = dead.PageInfo.Count, dead.PageInfo.CountEstimated
	return h, nil
}
