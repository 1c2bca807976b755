-- +goose Up
-- Deferral (缓办) and backlog (挂账) requests: the handling department asks,
-- the command centre approves or rejects, with reasons on both sides. A
-- case has at most one pending request. Decided requests are kept: they are
-- the case's record of why its deadline moved.
CREATE TABLE case_requests (
    id             uuid PRIMARY KEY,
    case_id        uuid NOT NULL REFERENCES cases (id),
    kind           text NOT NULL CHECK (kind IN ('DEFER', 'BACKLOG')),
    extra_days     int NOT NULL DEFAULT 0 CHECK (extra_days BETWEEN 0 AND 30),
    reason         text NOT NULL CHECK (reason <> ''),
    status         text NOT NULL CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED')),
    requested_by   text NOT NULL,
    requested_dept text NOT NULL DEFAULT '',
    requested_at   timestamptz NOT NULL,
    -- The case's handling deadline when asked: the request lapses with it.
    case_deadline  timestamptz,
    decided_by     text,
    decided_at     timestamptz,
    decision_note  text NOT NULL DEFAULT '',
    CHECK ((status = 'PENDING') = (decided_at IS NULL))
);
CREATE UNIQUE INDEX case_requests_one_pending ON case_requests (case_id) WHERE status = 'PENDING';
CREATE INDEX case_requests_case ON case_requests (case_id, requested_at);
CREATE INDEX case_requests_pending ON case_requests (requested_at) WHERE status = 'PENDING';

-- Published indicators (publishIndicators): the figures of one closed
-- period frozen as they stood, per standard grouping, both as departments
-- read them and as the public reads them (small cells suppressed). A
-- correction is a new version with a reason; versions are never changed.
CREATE TABLE indicator_publications (
    id              uuid PRIMARY KEY,
    period          text NOT NULL CHECK (period IN ('MONTH', 'QUARTER', 'YEAR')),
    period_start    date NOT NULL,
    version         int NOT NULL CHECK (version >= 1),
    reason          text NOT NULL DEFAULT '',
    published_by    text NOT NULL,
    published_dept  text NOT NULL DEFAULT '',
    published_at    timestamptz NOT NULL,
    weights_version text NOT NULL,
    rules_version   int NOT NULL,
    exact           jsonb NOT NULL,
    public          jsonb NOT NULL,
    checksum        text NOT NULL,
    UNIQUE (period, period_start, version),
    CHECK (version = 1 OR reason <> '')
);

-- +goose StatementBegin
CREATE FUNCTION indicator_publications_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'indicator_publications is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege',
              HINT = 'publish a corrected version instead';
END;
$$;
-- +goose StatementEnd

CREATE TRIGGER indicator_publications_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON indicator_publications
    FOR EACH STATEMENT EXECUTE FUNCTION indicator_publications_append_only();

-- +goose Down
DROP TABLE indicator_publications;
DROP FUNCTION indicator_publications_append_only();
DROP TABLE case_requests;
