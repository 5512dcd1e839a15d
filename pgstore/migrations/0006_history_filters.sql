-- 0006_history_filters: the history filters by event group, status,
-- transaction id, test mode and metadata get columns and indexes of their
-- own.
--
-- Why: these fields lived only in the event body (json), which no index
-- can serve; a filtered page would have read and parsed every event.
--
-- After this migration events has event_group, status, transaction_id,
-- test_mode and metadata, copied from the body by AppendEvents as the
-- other filter columns are. As before, the optional ones are indexed only
-- where set, so an event without them costs its append no index entry:
--   event_group, status  (value, seq) where not '': most shipment events
--                        have both, record events a group only;
--   transaction_id       (value, seq) where not '';
--   test_mode            (seq) where true: test events are the few;
--   metadata             jsonb, NULL when empty, with a GIN index for
--                        containment (metadata @> '{"key":"value"}') on
--                        the rows that have some.
-- The occurred_at index gains seq, so that a page of a time range can be
-- picked from the index alone (the range's seqs, the newest kept) rather
-- than by walking the history newest first until the range is reached.
-- The tenant index carries the type, so that a tenant's events of some
-- types are paged and counted from the index alone (a tenant's events
-- are spread over the whole table: reading each one's row costs a page).
--
-- Compatible with the previous release's code: its appends leave the new
-- columns at their defaults (those events are then missed by the new
-- filters until they are filled as below), and it reads none of them.
--
-- Cost: the UPDATE rewrites every event that has one of the fields (most
-- of them), inside the migration's transaction, with an exclusive lock on
-- events while it runs: on a large history, plan for it.

ALTER TABLE events
    ADD COLUMN event_group    text COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN status         text COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN transaction_id text COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN test_mode      boolean NOT NULL DEFAULT false,
    ADD COLUMN metadata       jsonb;

UPDATE events SET
    event_group    = coalesce(body->>'event_group', ''),
    status         = coalesce(body->>'status', ''),
    transaction_id = coalesce(body->>'transaction_id', ''),
    test_mode      = coalesce((body->>'test_mode')::boolean, false),
    metadata       = CASE WHEN json_typeof(body->'metadata') = 'object' AND body->>'metadata' <> '{}'
                     THEN (body->'metadata')::jsonb END
WHERE body->>'event_group' IS NOT NULL OR body->>'status' IS NOT NULL
   OR body->>'transaction_id' IS NOT NULL OR body->>'test_mode' IS NOT NULL
   OR body->>'metadata' IS NOT NULL;

CREATE INDEX events_group_seq_idx ON events (event_group, seq) WHERE event_group <> '';
CREATE INDEX events_status_seq_idx ON events (status, seq) WHERE status <> '';
CREATE INDEX events_transaction_seq_idx ON events (transaction_id, seq) WHERE transaction_id <> '';
CREATE INDEX events_test_mode_seq_idx ON events (seq) WHERE test_mode;
DROP INDEX events_tenant_seq_idx;
CREATE INDEX events_tenant_seq_idx ON events (tenant_id, seq) INCLUDE (type) WHERE tenant_id <> '';
DROP INDEX events_occurred_at_idx;
CREATE INDEX events_occurred_seq_idx ON events (occurred_at, seq);
CREATE INDEX events_metadata_idx ON events USING gin (metadata jsonb_path_ops) WHERE metadata IS NOT NULL;
