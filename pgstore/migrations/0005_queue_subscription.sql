-- 0005_queue_subscription: the queue knows each delivery's subscription,
-- and is indexed by subscription, so that a claim can take from every
-- subscription with due work in turn and pass over one whose share of the
-- workers is used up without reading its rows.
--
-- Why: the claim walked delivery_queue_due_idx (next_attempt_at, seq) from
-- its start. A claim that may not take more of one subscription (its
-- endpoint hangs, and the claimer already has that subscription's share of
-- its workers) would have to step over every due row of that subscription
-- ahead of the others' first row: with a backlog of 100,000 such rows at
-- the head of the queue, every claim read them all.
--
-- After this migration a claim finds the subscriptions in the queue by
-- skipping through delivery_queue_subscription_due_idx (one index descent
-- per subscription, however many rows each has), and reads the first due
-- rows of each subscription it may take from in the same index. The index
-- replaces delivery_queue_due_idx, which no statement reads any more, so a
-- delivery's queue row still costs two index entries (this one and the
-- key), a claim still writes none (it changes only the lease columns: a HOT
-- update) and a retry two.
--
-- This migration is not compatible with the previous release's code: stop
-- the instances running it before this one is applied. Their appends and
-- requeues insert queue rows without a subscription, which the NOT NULL
-- constraint below refuses, so those calls fail rather than write a queue
-- row that no claim could find.

ALTER TABLE delivery_queue ADD COLUMN subscription_id text COLLATE "C";

-- Every queue row has its history row (they are written together), which
-- names the subscription.
UPDATE delivery_queue q SET subscription_id = d.subscription_id
FROM deliveries d
WHERE d.id = q.delivery_id;

ALTER TABLE delivery_queue ALTER COLUMN subscription_id SET NOT NULL;

-- Each subscription's rows in claim order. It holds leased rows too, as
-- the index it replaces did: a claim steps over the live leases at the head
-- of each subscription's range it reads (the deliveries of that
-- subscription being attempted right now).
CREATE INDEX delivery_queue_subscription_due_idx ON delivery_queue (subscription_id, next_attempt_at, seq);
DROP INDEX delivery_queue_due_idx;
