package pgstore

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/shipevents/shipevents"
)

// sqlTouchEvent rewrites the event row without changing it, inside the
// transaction that adds deliveries. A Purge batch whose snapshot predates
// the new deliveries then fails to delete the event (a concurrent update,
// under REPEATABLE READ) and runs again, seeing them; and a purge that
// deleted the event first leaves nothing to touch, so nothing is added.
// Either way no delivery outlives its event.
const sqlTouchEvent = `UPDATE events SET late = late WHERE tenant_id = $1 AND id = $2`

// sqlAddDeliveries is sqlInsertDeliveries for deliveries added to a
// stored event: a delivery is created only when its id is new and the
// event has no delivery to its subscription yet. The second condition
// matters for events with a tenant stored before schema version 4, whose
// deliveries were named by DeliveryID without the tenant: a backfill
// repeated across the upgrade finds them by subscription, and does not
// send the event to that subscription twice. The event's row lock (taken
// by sqlTouchEvent) keeps concurrent calls for one event from both
// passing the check.
const sqlAddDeliveries = `WITH d AS (
	INSERT INTO deliveries (id, tenant_id, event_id, subscription_id, state, next_attempt_at, created_at, updated_at)
	SELECT id, tenant_id, event_id, subscription_id, 'queued', next_attempt_at, $6, $6
	FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) WITH ORDINALITY
		AS x(id, tenant_id, event_id, subscription_id, next_attempt_at, ord)
	WHERE NOT EXISTS (SELECT 1 FROM deliveries o
		WHERE o.tenant_id = x.tenant_id AND o.event_id = x.event_id AND o.subscription_id = x.subscription_id)
	ORDER BY ord
	ON CONFLICT (id) DO NOTHING
	RETURNING id, subscription_id, next_attempt_at, seq
), q AS (
	INSERT INTO delivery_queue (delivery_id, subscription_id, next_attempt_at, seq)
	SELECT id, subscription_id, next_attempt_at, seq FROM d
)
SELECT id FROM d`

// AddDeliveries implements [shipevents.DeliveryAdder]: in one transaction
// it touches the event (see sqlTouchEvent) and inserts the deliveries
// whose ids are new into the history and the queue (see
// sqlAddDeliveries).
func (s *Store) AddDeliveries(ctx context.Context, key shipevents.EventKey, deliveries []shipevents.NewDelivery) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	now := s.now().UTC()
	n := len(deliveries)
	ids, tenants, events, subs, next := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]time.Time, n)
	for i, d := range deliveries {
		ids[i], tenants[i], events[i], subs[i], next[i] = d.ID, key.TenantID, key.ID, d.SubscriptionID, d.NextAttemptAt.UTC()
	}
	var created int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sqlTouchEvent, key.TenantID, key.ID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("event %s: %w", key, shipevents.ErrNotFound)
		}
		if n == 0 {
			return nil
		}
		rows, _ := tx.Query(ctx, sqlAddDeliveries, ids, tenants, events, subs, next, now)
		var id string
		_, err = pgx.ForEachRow(rows, []any{&id}, func() error { created++; return nil })
		return err
	})
	if err != nil {
		return 0, wrap("add deliveries", err)
	}
	return created, nil
}
