package pgstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/shipevents/shipevents"
)

// PutSubscription implements [shipevents.SubscriptionStore]. The
// subscription, secrets included, is stored as JSON; errors name only its
// id.
func (s *Store) PutSubscription(ctx context.Context, sub shipevents.Subscription) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	body, err := json.Marshal(sub)
	if err != nil {
		// json errors can quote values; keep the subscription's out.
		return fmt.Errorf("pgstore: subscription %q: cannot encode it as JSON", sub.ID)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO subscriptions (id, tenant_id, body, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET tenant_id = excluded.tenant_id, body = excluded.body,
			updated_at = excluded.updated_at`, sub.ID, sub.TenantID, body, s.now().UTC())
	if err != nil {
		return wrap(fmt.Sprintf("put subscription %q", sub.ID), err)
	}
	return nil
}

// DeleteSubscription implements [shipevents.SubscriptionStore].
func (s *Store) DeleteSubscription(ctx context.Context, id string) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, `DELETE FROM subscriptions WHERE id = $1`, id)
	if err != nil {
		return wrap(fmt.Sprintf("delete subscription %q", id), err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("pgstore: subscription %q: %w", id, shipevents.ErrNotFound)
	}
	return nil
}

// ListSubscriptions implements [shipevents.SubscriptionStore].
func (s *Store) ListSubscriptions(ctx context.Context) ([]shipevents.Subscription, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	rows, _ := s.pool.Query(ctx, `SELECT id, body FROM subscriptions ORDER BY id`)
	out := []shipevents.Subscription{}
	var id string
	var body []byte
	_, err := pgx.ForEachRow(rows, []any{&id, &body}, func() error {
		var sub shipevents.Subscription
		if err := json.Unmarshal(body, &sub); err != nil {
			return fmt.Errorf("subscription %q: stored JSON cannot be decoded", id)
		}
		out = append(out, sub)
		return nil
	})
	if err != nil {
		return nil, wrap("list subscriptions", err)
	}
	return out, nil
}

// ShipmentState implements [shipevents.ShipmentStore].
func (s *Store) ShipmentState(ctx context.Context, key shipevents.ShipmentKey) (shipevents.ShipmentState, error) {
	if err := s.check(ctx); err != nil {
		return shipevents.ShipmentState{}, err
	}
	st := shipevents.ShipmentState{Key: key}
	var status string
	var nanos int32
	err := s.pool.QueryRow(ctx, `SELECT status, event_name, event_id, occurred_at, occurred_at_nanos, updated_at
		FROM shipment_state WHERE tenant_id = $1 AND carrier = $2 AND tracking_number = $3`,
		key.TenantID, key.Carrier, key.TrackingNumber).Scan(&status, &st.EventName, &st.EventID, &st.OccurredAt, &nanos, &st.UpdatedAt)
	if err != nil {
		return shipevents.ShipmentState{}, wrap("shipment "+key.String(), err)
	}
	st.Status = shipevents.Status(status)
	st.OccurredAt = addNanos(st.OccurredAt, nanos)
	st.UpdatedAt = utc(st.UpdatedAt)
	return st, nil
}
