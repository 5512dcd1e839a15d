-- 0002_delivery_queue: the work queue moves out of deliveries into a narrow
-- table of its own, so that a claim no longer writes the history row, and
-- the history's completion write is a HOT update (no index touched).
--
-- Why: with the queue in deliveries, every state change of a delivery was
-- an update of a column in four of its six indexes (state, in partial
-- index predicates and in the listing indexes), so each claim and each
-- recorded outcome wrote a new entry in every index of the row.
--
-- After this migration:
--   delivery_queue holds exactly the deliveries that are pending or in
--   flight, with their due time and their lease; a claim and a retry
--   update only that narrow row (a claim without writing any index), and
--   a finished delivery's row is deleted.
--   deliveries is the history: it no longer holds the lease, no index
--   mentions state, and it has free space on each page (fillfactor), so
--   the outcome update is a heap-only tuple update.
--
-- This migration is not compatible with the previous release's code:
-- stop the instances running it before this one is applied. They cannot
-- do harm meanwhile: their claims and records name the lease columns
-- dropped below, and their appends write state 'pending', which the new
-- check refuses, so each of their calls fails instead of writing a
-- delivery that no queue row would ever bring to a worker.

-- The queue. A row is pending when lease_token is NULL (due at
-- next_attempt_at) and in flight otherwise (its lease runs to
-- lease_expires_at). seq is the delivery's creation order, the tie-break
-- between deliveries due at the same instant.
CREATE TABLE delivery_queue (
    delivery_id      text COLLATE "C" PRIMARY KEY,
    next_attempt_at  timestamptz NOT NULL,
    seq              bigint NOT NULL,
    lease_token      text COLLATE "C",
    lease_owner      text,
    lease_expires_at timestamptz,
    CONSTRAINT delivery_queue_lease_complete
        CHECK ((lease_token IS NULL) = (lease_expires_at IS NULL))
) WITH (
    -- A claim writes a second, longer version of each row it takes; the
    -- free space lets it stay on the page (a HOT update) even when one
    -- claim takes every row of a page. The table holds only live
    -- deliveries, so the space is cheap.
    fillfactor = 35,
    -- Every row is updated or deleted within seconds of its insertion:
    -- have autovacuum (where it runs) clean the table after a fixed number
    -- of dead rows rather than a fraction of a table that is mostly dead.
    autovacuum_vacuum_scale_factor = 0,
    autovacuum_vacuum_threshold = 5000,
    autovacuum_vacuum_insert_scale_factor = 0,
    autovacuum_vacuum_insert_threshold = 5000
);

-- The claim index, in claim order. It holds leased rows too: a claim
-- skips those whose lease still holds (they are the few rows at the head,
-- at most one per worker), and takes the expired ones in their place in
-- next_attempt_at order. In exchange a claim changes no indexed column,
-- so it is a HOT update that writes no index entry; a retry moves the row
-- (a new next_attempt_at), which writes two (this index, the key).
CREATE INDEX delivery_queue_due_idx ON delivery_queue (next_attempt_at, seq);

-- Existing live deliveries move into the queue with their due time and
-- lease (token, owner and expiry kept, so a lease stays what it was).
INSERT INTO delivery_queue (delivery_id, next_attempt_at, seq, lease_token, lease_owner, lease_expires_at)
SELECT id, next_attempt_at, seq, lease_token, lease_owner, lease_expires_at
FROM deliveries
WHERE state IN ('pending', 'in_flight');

-- deliveries becomes the history. A live delivery's state there is
-- 'queued': whether it is pending or in flight is the queue's to say.
DROP INDEX deliveries_pending_idx;
DROP INDEX deliveries_lease_idx;
DROP INDEX deliveries_event_idx;
DROP INDEX deliveries_subscription_state_idx;
ALTER TABLE deliveries
    DROP CONSTRAINT deliveries_lease_iff_in_flight,
    DROP CONSTRAINT deliveries_state_check,
    DROP COLUMN lease_token,
    DROP COLUMN lease_owner,
    DROP COLUMN lease_expires_at,
    -- When the delivery was dead-lettered; NULL unless dead. It exists so
    -- that dead letters have an index (below) without state being indexed.
    ADD COLUMN dead_at timestamptz;
UPDATE deliveries SET state = 'queued' WHERE state IN ('pending', 'in_flight');
UPDATE deliveries SET dead_at = updated_at WHERE state = 'dead';
ALTER TABLE deliveries
    ADD CONSTRAINT deliveries_state_check CHECK (state IN ('queued', 'succeeded', 'dead')),
    ADD CONSTRAINT deliveries_dead_at_iff_dead CHECK ((state = 'dead') = (dead_at IS NOT NULL)),
    -- Room on each page for the one version a delivery's outcome writes,
    -- so that the update stays on the page (HOT). Applies to pages filled
    -- from now on.
    SET (fillfactor = 50);

-- Listing by event (and pending counts: state is checked on the few rows
-- of one event), listing by subscription in creation order, and dead
-- letters. No index of deliveries mentions state, so the update that
-- records a success or a retry changes no indexed column.
CREATE INDEX deliveries_event_idx ON deliveries (event_id);
CREATE INDEX deliveries_subscription_seq_idx ON deliveries (subscription_id, seq);
CREATE INDEX deliveries_dead_idx ON deliveries (subscription_id, seq) WHERE dead_at IS NOT NULL;
