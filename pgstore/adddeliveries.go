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
const sqlTouchEvent = `UPDATE events SET late = late WHERE id = $1`

// AddDeliveries implements [shipevents.DeliveryAdder]: in one transaction
// it touches the event (see sqlTouchEvent) and inserts the deliveries
// whose ids are new into the history and the queue.
func (s *Store) AddDeliveries(ctx context.Context, eventID string, deliveries []shipevents.NewDelivery) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	now := s.now().UTC()
	n := len(deliveries)
	ids, events, subs, next := make([]string, n), make([]string, n), make([]string, n), make([]time.Time, n)
	for i, d := range deliveries {
		ids[i], events[i], subs[i], next[i] = d.ID, eventID, d.SubscriptionID, d.NextAttemptAt.UTC()
	}
	var created int
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, sqlTouchEvent, eventID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("event %q: %w", eventID, shipevents.ErrNotFound)
		}
		if n == 0 {
			return nil
		}
		rows, _ := tx.Query(ctx, sqlInsertDeliveries, ids, events, subs, next, now)
		var id string
		_, err = pgx.ForEachRow(rows, []any{&id}, func() error { created++; return nil })
		return err
	})
	if err != nil {
		return 0, wrap("add deliveries", err)
	}
	return created, nil
}
