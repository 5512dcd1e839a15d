package shipevents

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Event returns a stored event by key (tenant and id; the tenant is ""
// for an event without one), with its late mark and the number of its
// deliveries still pending.
func (d *Dispatcher) Event(ctx context.Context, key EventKey) (StoredEvent, error) {
	return d.store.GetEvent(ctx, key)
}

// Events lists stored events, newest first; see [EventFilter].
func (d *Dispatcher) Events(ctx context.Context, f EventFilter) (Page[StoredEvent], error) {
	if f.RefPattern != "" {
		if err := ValidatePattern(f.RefPattern); err != nil {
			return Page[StoredEvent]{}, err
		}
	}
	return d.store.ListEvents(ctx, f)
}

// Deliveries lists deliveries (of an event, a tenant, a subscription, a
// state; see [DeliveryFilter]).
// Dead letters are Deliveries(ctx, DeliveryFilter{State: DeliveryDead}).
func (d *Dispatcher) Deliveries(ctx context.Context, f DeliveryFilter) (Page[Delivery], error) {
	return d.store.ListDeliveries(ctx, f)
}

// Attempts lists every attempt of a delivery, oldest first.
func (d *Dispatcher) Attempts(ctx context.Context, deliveryID string) ([]Attempt, error) {
	return d.store.ListAttempts(ctx, deliveryID)
}

// ReplayDelivery sends one delivery again, whatever its state, as soon as
// a worker is free. Its attempt history is kept and the receiver sees the
// same webhook-id as before.
func (d *Dispatcher) ReplayDelivery(ctx context.Context, deliveryID string) error {
	n, err := d.store.RequeueDeliveries(ctx, []string{deliveryID}, d.now().UTC())
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("delivery %q: %w", deliveryID, ErrNotFound)
	}
	d.signal()
	return nil
}

// ReplayEvent sends the event with the given key (tenant and id) again to
// every subscription it was delivered (or was to be delivered) to, and
// returns how many deliveries it requeued. Another tenant's event with
// the same id is left alone.
func (d *Dispatcher) ReplayEvent(ctx context.Context, key EventKey) (int, error) {
	if _, err := d.store.GetEvent(ctx, key); err != nil {
		return 0, err
	}
	return d.requeueAll(ctx, DeliveryFilter{TenantID: key.TenantID, EventID: key.ID})
}

// Backfill sends stored events to a subscription that did not receive
// them, typically one created after they were published: every stored
// event that matches f and the subscription (its patterns and filters;
// late events only with IncludeLate) gets a delivery to it, unless it has
// one already, so a backfill can be repeated or resumed. It returns how
// many deliveries it created. The subscription must exist and be enabled,
// and the store must implement [DeliveryAdder] (otherwise the error wraps
// [ErrNotSupported]). f.After, f.Before and f.Limit are ignored: every
// page is read.
func (d *Dispatcher) Backfill(ctx context.Context, subscriptionID string, f EventFilter) (int, error) {
	adder, ok := d.store.(DeliveryAdder)
	if !ok {
		return 0, fmt.Errorf("shipevents: backfill: %w (DeliveryAdder)", ErrNotSupported)
	}
	if err := d.ReloadSubscriptions(ctx); err != nil {
		return 0, err
	}
	sub := d.subs.Load().byID[subscriptionID]
	switch {
	case sub == nil:
		return 0, fmt.Errorf("shipevents: backfill: subscription %s: %w", quote(subscriptionID), ErrNotFound)
	case sub.Disabled:
		return 0, fmt.Errorf("shipevents: backfill: subscription %s is disabled", quote(subscriptionID))
	}
	f.After, f.Before, f.Limit = "", "", MaxPageSize
	created := 0
	defer func() {
		if created > 0 {
			d.signal()
		}
	}()
	for {
		page, err := d.store.ListEvents(ctx, f)
		if err != nil {
			return created, err
		}
		now := d.now().UTC()
		for i := range page.Items {
			se := &page.Items[i]
			if !sub.wants(&se.Event, se.Late) {
				continue
			}
			key := se.Event.Key()
			nd := NewDelivery{ID: DeliveryID(key, sub.ID), SubscriptionID: sub.ID, NextAttemptAt: now}
			n, err := adder.AddDeliveries(ctx, key, []NewDelivery{nd})
			switch {
			case errors.Is(err, ErrNotFound):
				continue // deleted meanwhile (retention)
			case err != nil:
				return created, err
			}
			created += n
		}
		if !page.PageInfo.HasNextPage {
			return created, nil
		}
		f.After = page.PageInfo.EndCursor
	}
}

// ReplayDeadLetters requeues every dead delivery of a subscription (after
// its endpoint has been fixed) and returns how many. A subscription the
// store does not hold is an error wrapping ErrNotFound, as an unknown
// delivery is for ReplayDelivery.
func (d *Dispatcher) ReplayDeadLetters(ctx context.Context, subscriptionID string) (int, error) {
	if _, err := d.Subscription(ctx, subscriptionID); err != nil {
		return 0, fmt.Errorf("shipevents: replay dead letters: %w", err)
	}
	return d.requeueAll(ctx, DeliveryFilter{SubscriptionID: subscriptionID, State: DeliveryDead})
}

func (d *Dispatcher) requeueAll(ctx context.Context, f DeliveryFilter) (int, error) {
	// Collect first, then requeue: requeueing changes states, which would
	// shift a state-filtered listing under our feet.
	var ids []string
	f.Limit = MaxPageSize
	for {
		page, err := d.store.ListDeliveries(ctx, f)
		if err != nil {
			return 0, err
		}
		for _, del := range page.Items {
			ids = append(ids, del.ID)
		}
		if !page.PageInfo.HasNextPage {
			break
		}
		f.After = page.PageInfo.EndCursor
	}
	total := 0
	now := d.now().UTC()
	for start := 0; start < len(ids); start += MaxPageSize {
		n, err := d.store.RequeueDeliveries(ctx, ids[start:min(start+MaxPageSize, len(ids))], now)
		total += n
		if err != nil {
			return total, err
		}
	}
	if total > 0 {
		d.signal()
	}
	return total, nil
}

// Journey is a shipment's timeline and current status.
type Journey struct {
	Key ShipmentKey
	// Current is the shipment's status by the ordering rule; nil when the
	// store has no state for it.
	Current *ShipmentState
	// Steps are the shipment's events, oldest first by occurred_at.
	Steps []JourneyStep
}

// JourneyStep is one event of a journey, with the raw carrier status
// behind it.
type JourneyStep struct {
	EventID       string
	EventName     string
	Status        Status
	OccurredAt    time.Time
	Description   string
	Location      *Location
	CarrierStatus *CarrierStatus
	// Late marks an event that arrived after a later one and did not move
	// the current status.
	Late bool
	// Current marks the step whose event set the current status.
	Current bool
}

// MaxJourneySteps bounds the events a journey reads.
const MaxJourneySteps = 10000

// Journey returns a shipment's timeline (every stored event of the
// shipment, oldest first) and its current status.
func (d *Dispatcher) Journey(ctx context.Context, key ShipmentKey) (Journey, error) {
	j := Journey{Key: key}
	st, err := d.store.ShipmentState(ctx, key)
	switch {
	case err == nil:
		j.Current = &st
	case !isNotFound(err):
		return j, err
	}
	f := EventFilter{TenantID: key.TenantID, Carrier: key.Carrier, TrackingNumber: key.TrackingNumber, Limit: MaxPageSize}
	for len(j.Steps) < MaxJourneySteps {
		page, err := d.store.ListEvents(ctx, f)
		if err != nil {
			return j, err
		}
		for _, se := range page.Items {
			e := &se.Event
			if e.TenantID != key.TenantID || e.Source != SourceShipments {
				continue
			}
			j.Steps = append(j.Steps, JourneyStep{
				EventID: e.ID, EventName: e.EventName, Status: e.Status, OccurredAt: e.OccurredAt,
				Description: e.Data.Description, Location: e.Data.Location, CarrierStatus: e.CarrierStatus,
				Late: se.Late, Current: j.Current != nil && j.Current.EventID == e.ID,
			})
		}
		if !page.PageInfo.HasNextPage {
			break
		}
		f.After = page.PageInfo.EndCursor
	}
	if len(j.Steps) == 0 && j.Current == nil {
		return j, fmt.Errorf("shipment %s: %w", key, ErrNotFound)
	}
	slices.SortStableFunc(j.Steps, func(a, b JourneyStep) int { return a.OccurredAt.Compare(b.OccurredAt) })
	return j, nil
}

func isNotFound(err error) bool { return errors.Is(err, ErrNotFound) }
