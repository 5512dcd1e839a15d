package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/shipevents/shipevents"
)

// PutSubscription implements [shipevents.SubscriptionStore]. The
// subscription, secrets included, is stored as JSON, encrypted when the
// store has a Keyring (which also re-encrypts, under the Keyring's first
// key, a subscription stored in plaintext or under an older key); errors
// name only its id.
func (s *Store) PutSubscription(ctx context.Context, sub shipevents.Subscription) error {
	if err := s.check(ctx); err != nil {
		return err
	}
	body, err := s.encodeSubscription(&sub)
	if err != nil {
		return fmt.Errorf("pgstore: %w", err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO subscriptions (id, tenant_id, body, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (id) DO UPDATE SET tenant_id = excluded.tenant_id, body = excluded.body,
			updated_at = excluded.updated_at`, sub.ID, sub.TenantID, body, s.now().UTC())
	if err != nil {
		return wrap(fmt.Sprintf("put subscription %q", sub.ID), err)
	}
	return nil
}

// encodeSubscription returns the body column of sub: its JSON, sealed
// when the store has a Keyring.
func (s *Store) encodeSubscription(sub *shipevents.Subscription) ([]byte, error) {
	body, err := json.Marshal(sub)
	if err != nil {
		// json errors can quote values; keep the subscription's out. No
		// retry changes what the subscription holds.
		return nil, shipevents.Permanent(fmt.Errorf("subscription %q: cannot encode it as JSON", sub.ID))
	}
	if s.keys == nil {
		return body, nil
	}
	return s.keys.seal(sub.ID, body)
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

// ListSubscriptions implements [shipevents.SubscriptionStore]. Encrypted
// bodies are decrypted with the Keyring. One body that cannot be read (its
// key is missing, it does not authenticate) fails the whole call, with an
// error wrapping ErrMissingKey or ErrCiphertext: leaving the subscription
// out would make the dispatcher dead-letter its deliveries.
func (s *Store) ListSubscriptions(ctx context.Context) ([]shipevents.Subscription, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	rows, _ := s.pool.Query(ctx, `SELECT id, body FROM subscriptions ORDER BY id`)
	out := []shipevents.Subscription{}
	var id string
	var body []byte
	_, err := pgx.ForEachRow(rows, []any{&id, &body}, func() error {
		plain, err := s.keys.open(id, body)
		if err != nil {
			return err
		}
		var sub shipevents.Subscription
		if err := json.Unmarshal(plain, &sub); err != nil {
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

// rotateBatch is how many subscriptions RotateSubscriptionKeys reads and
// rewrites per round trip.
const rotateBatch = 200

// RotateSubscriptionKeys encrypts under the Keyring's first key every
// subscription body that is not already: plaintext ones (stored before
// encryption was turned on) and those under older keys. It walks the
// table in id order, rotateBatch rows at a time, each batch rewritten by
// one statement that leaves alone a row changed since it was read (a
// concurrent PutSubscription writes its own body, under its store's first
// key), and returns how many bodies it rewrote. Once every instance has the
// new key first, one call leaves nothing under older keys, and they can be
// dropped from the Keyring.
//
// It fails with an error wrapping ErrMissingKey when the store has no
// Keyring or a body is under a key the Keyring does not hold, and
// ErrCiphertext when a body does not authenticate; the batches before the
// failure stay rewritten.
func (s *Store) RotateSubscriptionKeys(ctx context.Context) (int, error) {
	if err := s.check(ctx); err != nil {
		return 0, err
	}
	if s.keys == nil {
		return 0, fmt.Errorf("pgstore: rotate subscription keys: Config.Keyring is not set: %w", ErrMissingKey)
	}
	total, after := 0, ""
	for {
		if err := s.check(ctx); err != nil {
			return total, fmt.Errorf("pgstore: rotate subscription keys: %w", err)
		}
		n, last, more, err := s.rotateBatch(ctx, after)
		total += n
		if err != nil {
			return total, wrap("rotate subscription keys", err)
		}
		if !more {
			return total, nil
		}
		after = last
	}
}

// rotateBatch re-encrypts the stale bodies among the rotateBatch
// subscriptions after id after. It returns how many it rewrote, the last
// id read, and whether more rows may follow.
func (s *Store) rotateBatch(ctx context.Context, after string) (n int, last string, more bool, err error) {
	rows, _ := s.pool.Query(ctx, `SELECT id, body FROM subscriptions WHERE id > $1 ORDER BY id LIMIT $2`, after, rotateBatch)
	var ids []string
	var olds, news [][]byte
	var id string
	var body []byte
	seen := 0
	_, err = pgx.ForEachRow(rows, []any{&id, &body}, func() error {
		seen++
		last = id
		if s.keys.current(body) {
			return nil
		}
		plain, err := s.keys.open(id, body)
		if err != nil {
			return err
		}
		sealed, err := s.keys.seal(id, plain)
		if err != nil {
			return err
		}
		ids, olds, news = append(ids, id), append(olds, slices.Clone(body)), append(news, sealed)
		return nil
	})
	if err != nil || len(ids) == 0 {
		return 0, last, seen == rotateBatch, err
	}
	tag, err := s.pool.Exec(ctx, `UPDATE subscriptions s SET body = x.new
		FROM unnest($1::text[], $2::jsonb[], $3::jsonb[]) AS x(id, old, new)
		WHERE s.id = x.id AND s.body = x.old`, ids, olds, news)
	if err != nil {
		return 0, last, false, err
	}
	return int(tag.RowsAffected()), last, seen == rotateBatch, nil
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
