-- 0001_init: the initial schema of the shipevents PostgreSQL store.
--
-- Migrations are append-only: never edit a file that has been released;
-- add the next numbered file instead. See README.md for each table.
--
-- Identifier and key columns use the "C" collation: comparisons and sort
-- order are byte-wise, as Go compares strings, and btree lookups are
-- cheaper than under a linguistic collation.
--
-- deliveries.event_id and attempts.delivery_id have no foreign keys: the
-- store writes parent and children in one transaction (or statement), and
-- each foreign-key check locks the parent row, which cost about a quarter
-- of the time of inserting deliveries and recording attempts.

-- events: every stored event (the outbox). body is the event envelope
-- as JSON; the other columns copy the fields that history queries filter on.
CREATE TABLE events (
    id              text COLLATE "C" PRIMARY KEY,
    seq             bigserial NOT NULL UNIQUE,
    body            jsonb NOT NULL,
    type            text COLLATE "C" NOT NULL,
    ref             text COLLATE "C" NOT NULL,
    tenant_id       text COLLATE "C" NOT NULL DEFAULT '',
    carrier         text COLLATE "C" NOT NULL DEFAULT '',
    tracking_number text COLLATE "C" NOT NULL DEFAULT '',
    correlation_id  text COLLATE "C" NOT NULL DEFAULT '',
    occurred_at     timestamptz NOT NULL,
    late            boolean NOT NULL DEFAULT false,
    stored_at       timestamptz NOT NULL
);

-- History filters; each ends with seq so that a filtered page is read in
-- index order (newest first = seq descending). The optional fields are
-- indexed only where set (queries repeat the "<> ''" condition so that
-- the planner can use these partial indexes), which keeps appends of
-- events without them cheaper.
CREATE INDEX events_tenant_seq_idx ON events (tenant_id, seq) WHERE tenant_id <> '';
CREATE INDEX events_tracking_seq_idx ON events (tracking_number, seq) WHERE tracking_number <> '';
CREATE INDEX events_correlation_seq_idx ON events (correlation_id, seq) WHERE correlation_id <> '';
CREATE INDEX events_type_seq_idx ON events (type, seq);
CREATE INDEX events_occurred_at_idx ON events (occurred_at);

-- deliveries: one event on its way to one subscription, and the work
-- queue. A delivery is claimable when it is pending and next_attempt_at has
-- passed, or in flight and its lease has expired.
CREATE TABLE deliveries (
    id               text COLLATE "C" PRIMARY KEY,
    seq              bigserial NOT NULL UNIQUE,
    event_id         text COLLATE "C" NOT NULL,
    subscription_id  text COLLATE "C" NOT NULL,
    state            text COLLATE "C" NOT NULL
                     CHECK (state IN ('pending', 'in_flight', 'succeeded', 'dead')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL,
    lease_token      text COLLATE "C",
    lease_owner      text,
    lease_expires_at timestamptz,
    last_error       text NOT NULL DEFAULT '',
    last_status_code integer NOT NULL DEFAULT 0,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CONSTRAINT deliveries_lease_iff_in_flight
        CHECK ((state = 'in_flight') = (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL))
);

-- The claim indexes: due pending deliveries in NextAttemptAt order, and
-- in-flight deliveries by lease expiry (to find expired leases). Both are
-- partial, so succeeded and dead deliveries cost them nothing.
CREATE INDEX deliveries_pending_idx ON deliveries (next_attempt_at, seq) WHERE state = 'pending';
CREATE INDEX deliveries_lease_idx ON deliveries (lease_expires_at) WHERE state = 'in_flight';
-- Listing and pending counts.
CREATE INDEX deliveries_event_idx ON deliveries (event_id, state);
CREATE INDEX deliveries_subscription_state_idx ON deliveries (subscription_id, state, seq);

-- attempts: every recorded attempt of a delivery, in order (id).
CREATE TABLE attempts (
    id          bigserial NOT NULL, -- insertion order; no key of its own (one index less per attempt)
    delivery_id text COLLATE "C" NOT NULL,
    number      integer NOT NULL,
    started_at  timestamptz NOT NULL,
    duration_ns bigint NOT NULL,
    status_code integer NOT NULL DEFAULT 0,
    error       text NOT NULL DEFAULT '',
    response    bytea NOT NULL DEFAULT ''::bytea
);
CREATE INDEX attempts_delivery_idx ON attempts (delivery_id, id);

-- subscriptions: the subscription as JSON (it holds signing secrets and
-- credentials: protect this table like a secrets store).
CREATE TABLE subscriptions (
    id         text COLLATE "C" PRIMARY KEY,
    tenant_id  text COLLATE "C" NOT NULL DEFAULT '',
    body       jsonb NOT NULL,
    updated_at timestamptz NOT NULL
);

-- shipment_state: each shipment's current status and the event that set
-- it, maintained by AppendEvents under the ordering rule. occurred_at_nanos
-- keeps the sub-microsecond part of the instant (timestamptz stops at
-- microseconds), so the rule compares exact instants.
CREATE TABLE shipment_state (
    tenant_id         text COLLATE "C" NOT NULL,
    carrier           text COLLATE "C" NOT NULL,
    tracking_number   text COLLATE "C" NOT NULL,
    status            text COLLATE "C" NOT NULL,
    event_name        text COLLATE "C" NOT NULL,
    event_id          text COLLATE "C" NOT NULL,
    occurred_at       timestamptz NOT NULL,
    occurred_at_nanos integer NOT NULL DEFAULT 0,
    updated_at        timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, carrier, tracking_number)
) WITH (fillfactor = 80); -- room for HOT updates: the key never changes
