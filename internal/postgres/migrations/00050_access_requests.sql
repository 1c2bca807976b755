-- +goose Up
-- Data-sharing requests (数据共享申请) and, once approved, the grants they
-- become. The approved grant's Casbin lines live in casbin_rules (p2, keyed
-- by this id); this table is the auditable workflow record.
CREATE TABLE access_requests (
    id              uuid PRIMARY KEY,
    requester_dept  text NOT NULL,
    requested_by    text NOT NULL,
    provider_dept   text NOT NULL,
    dataset         text NOT NULL,
    field_groups    text[] NOT NULL CHECK (cardinality(field_groups) > 0),
    jurisdiction    text NOT NULL,
    purpose         text NOT NULL CHECK (length(purpose) > 0),
    until           timestamptz NOT NULL,
    status          text NOT NULL CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED', 'REVOKED', 'EXPIRED')),
    decided_by      text,
    decided_at      timestamptz,
    reason          text,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL
);
CREATE INDEX access_requests_provider ON access_requests (provider_dept, status, created_at DESC);
CREATE INDEX access_requests_requester ON access_requests (requester_dept, status, created_at DESC);
CREATE INDEX access_requests_expiry ON access_requests (until) WHERE status = 'APPROVED';

-- +goose Down
DROP TABLE access_requests;
