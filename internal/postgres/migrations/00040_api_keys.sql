-- +goose Up
-- API keys for department systems, the citizen-app backend and evaluation
-- teams (internal/auth). The key is shown once, at creation, as
-- dhk_<id>_<secret>; only the SHA-256 of the secret is kept, so a copy of
-- this table does not let anyone call the hub.
--
-- dept and jurisdiction are format-checked but carry no foreign key: an
-- evaluation team is not a government department, and keys may be issued
-- before the reference data is seeded. A key naming an unknown department
-- simply matches no department policy.
CREATE TABLE api_keys (
    id           text PRIMARY KEY CHECK (id ~ '^[a-z0-9]{8,32}$'),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    dept         text NOT NULL CHECK (dept ~ '^[a-z0-9-]{1,64}$'),
    roles        text[] NOT NULL CHECK (cardinality(roles) BETWEEN 1 AND 32),
    jurisdiction text NOT NULL DEFAULT 'hailing'
                 CHECK (jurisdiction ~ '^[a-z0-9_]+(\.[a-z0-9_]+)*$'),
    hash         bytea NOT NULL CHECK (length(hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz,
    last_used_at timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX api_keys_created ON api_keys (created_at, id);

-- +goose Down
DROP TABLE api_keys;
