-- +goose Up
-- The audit trail (docs/design.md, Access control): one row per read of
-- another department's data or of personal data. Rows are written only by internal/audit.Writer,
-- which assigns seq under a transaction-level advisory lock and chains each
-- row to the previous one: hash = SHA-256(prev_hash || canonical encoding of
-- the row including seq). `datahub audit verify` recomputes the chain.
--
-- Nothing references other tables: an audit row must never fail (and so be
-- lost) because a department or dataset was renamed or removed.
CREATE TABLE audit_log (
    seq          bigint PRIMARY KEY CHECK (seq > 0),
    at           timestamptz NOT NULL,
    subject      text NOT NULL,
    dept         text NOT NULL,
    roles        text[] NOT NULL,
    purpose      text NOT NULL,
    grant_id     text NOT NULL,
    dataset      text NOT NULL,
    field_groups text[] NOT NULL,
    row_count    bigint NOT NULL,
    operation    text NOT NULL,
    request_id   text NOT NULL,
    -- Identifies the flush transaction, so a retry after an ambiguous commit
    -- can tell that its batch already landed instead of writing it twice.
    batch_id     uuid NOT NULL,
    prev_hash    bytea NOT NULL CHECK (length(prev_hash) = 32),
    hash         bytea NOT NULL CHECK (length(hash) = 32)
);

-- Auditors page by seq descending (keyset) with optional filters; each
-- filtered list has a btree ending in seq.
CREATE INDEX audit_log_dept ON audit_log (dept, seq);
CREATE INDEX audit_log_subject ON audit_log (subject, seq);
CREATE INDEX audit_log_dataset ON audit_log (dataset, seq);
CREATE INDEX audit_log_operation ON audit_log (operation, seq);
CREATE INDEX audit_log_at ON audit_log (at, seq);

-- Append-only at the database level. A superuser or the table owner can
-- still disable the trigger, which is why the hash chain and verification
-- exist; this stops accidents and ordinary application roles.
-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'audit records can be inserted but never changed or removed';
END;
$$;
-- +goose StatementEnd

-- Statement level, so even an UPDATE or DELETE that matches no row is
-- refused, and TRUNCATE (which fires no row triggers) is covered.
CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

-- +goose Down
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
