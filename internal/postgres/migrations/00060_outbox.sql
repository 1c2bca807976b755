-- +goose Up
-- Transactional outbox: every change to a shared record writes one row here
-- in the same transaction as the change. A relay publishes unpublished rows
-- to Redis in id order; subscribers' instances filter them by scope. The
-- scope columns are copied so an instance can decide who may hear of the
-- change without reading the record.
CREATE TABLE outbox (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id      uuid NOT NULL UNIQUE,
    dataset       text NOT NULL,
    record_id     text NOT NULL,
    op            text NOT NULL,
    jurisdiction  text NOT NULL DEFAULT '',
    owner_dept    text NOT NULL DEFAULT '',
    handling_dept text NOT NULL DEFAULT '',
    citizen_id    text NOT NULL DEFAULT '',
    version       integer NOT NULL DEFAULT 0,
    payload       jsonb NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;

-- +goose Down
DROP TABLE outbox;
