-- +goose Up
-- Every statement that adds rows to the outbox wakes the event relays at
-- commit (PostgreSQL delivers notifications on commit only, and folds
-- repeats within a transaction into one), whichever code path wrote them:
-- a single change, a bulk import's merge, a scheduled transition. The
-- relays then need to poll only as a backstop. The payload is the schema,
-- so a listener can tell its own outbox from another deployment's in the
-- same database.
-- +goose StatementBegin
CREATE FUNCTION outbox_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM added) THEN
        PERFORM pg_notify('datahub_outbox', TG_TABLE_SCHEMA);
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify();

-- +goose Down
DROP TRIGGER outbox_notify ON outbox;
DROP FUNCTION outbox_notify();
