-- 0004_tenant_identity: an event is identified by its tenant and id
-- together, and a delivery names its event by both.
--
-- Why: event ids are derived without the tenant (a carrier scan's id comes
-- from carrier, tracking number, code and instant), so two tenants
-- tracking one parcel publish the same id. Keyed by id alone, the second
-- tenant's copy was taken for a duplicate and its subscriptions got
-- nothing. Within one tenant an id stays idempotent, as before.
--
-- After this migration:
--   events is keyed by (tenant_id, id); tenant_id was already a column
--   (NOT NULL, '' for events without a tenant), so every row keeps its key.
--   deliveries has tenant_id, its event's tenant, filled here from events
--   for the existing rows, and its index on the event becomes
--   (tenant_id, event_id): it serves the lookups of an event's deliveries
--   (listing, pending counts, Purge) and the listing of one tenant's.
--
-- This migration is not compatible with the previous release's code: stop
-- the instances running it before this one is applied. Their appends fail
-- (they insert events with ON CONFLICT (id), which no longer names a
-- unique key), and so do their added deliveries (deliveries.tenant_id has
-- no default), so they write nothing. Their claims join deliveries with
-- events by id alone and, once two tenants have an event with the same id,
-- could hand a worker the other tenant's event.
--
-- Cost: the UPDATE rewrites the deliveries of events that have a tenant,
-- and the primary key and the deliveries index are rebuilt, all inside the
-- migration's transaction, which holds exclusive locks on both tables
-- while it runs: on a large history, plan for it.

-- The deliveries' tenant, while events.id is still unique. The index on
-- event_id goes first, so that the update does not maintain it row by row.
DROP INDEX deliveries_event_idx;
ALTER TABLE deliveries ADD COLUMN tenant_id text COLLATE "C" NOT NULL DEFAULT '';
UPDATE deliveries d SET tenant_id = e.tenant_id
FROM events e
WHERE e.id = d.event_id AND e.tenant_id <> '';
-- From now on every insert names the tenant (an insert that forgets it
-- fails instead of filing a delivery under the wrong event).
ALTER TABLE deliveries ALTER COLUMN tenant_id DROP DEFAULT;
CREATE INDEX deliveries_event_key_idx ON deliveries (tenant_id, event_id);

-- The events' key. Appends insert with ON CONFLICT (tenant_id, id), claims
-- and reads look events up by both columns.
ALTER TABLE events DROP CONSTRAINT events_pkey, ADD CONSTRAINT events_pkey PRIMARY KEY (tenant_id, id);
