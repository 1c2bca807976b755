-- +goose Up
-- Casbin policy rules, read and written by internal/policy/casbinpg. One row
-- per rule: ptype is the policy type ("p", "g", "g2", …) and v0..v5 its
-- fields, '' where a rule has fewer fields. NOT NULL with '' (rather than
-- NULL) lets the unique index below see two equal rules as duplicates: NULLs
-- never compare equal, so a nullable layout would admit the same rule twice.
CREATE TABLE casbin_rules (
    id    bigserial PRIMARY KEY,
    ptype text NOT NULL CHECK (ptype <> ''),
    v0    text NOT NULL DEFAULT '',
    v1    text NOT NULL DEFAULT '',
    v2    text NOT NULL DEFAULT '',
    v3    text NOT NULL DEFAULT '',
    v4    text NOT NULL DEFAULT '',
    v5    text NOT NULL DEFAULT ''
);
-- Makes duplicate rules impossible (the adapter inserts with ON CONFLICT DO
-- NOTHING, so adding a rule twice is harmless) and serves removals, which
-- always filter on ptype first and then on a prefix of the fields.
CREATE UNIQUE INDEX casbin_rules_rule ON casbin_rules (ptype, v0, v1, v2, v3, v4, v5);

-- +goose Down
DROP TABLE casbin_rules;
