-- +goose Up
CREATE EXTENSION IF NOT EXISTS ltree;
CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Jurisdictions: district → street/town → community → grid. The code is the
-- dotted path itself, so "everything under Chengdong" is one ltree predicate.
CREATE TABLE jurisdictions (
    code        text PRIMARY KEY CHECK (code ~ '^[a-z0-9_]+(\.[a-z0-9_]+)*$'),
    path        ltree GENERATED ALWAYS AS (code::ltree) STORED,
    level       text NOT NULL CHECK (level IN ('DISTRICT', 'STREET', 'TOWN', 'COMMUNITY', 'GRID')),
    parent_code text REFERENCES jurisdictions (code),
    name_zh     text NOT NULL,
    name_en     text NOT NULL,
    admin_code  text,
    lat         double precision,
    lng         double precision
);
CREATE INDEX jurisdictions_path_gist ON jurisdictions USING gist (path);
CREATE INDEX jurisdictions_parent ON jurisdictions (parent_code, code);

CREATE TABLE departments (
    code              text PRIMARY KEY CHECK (code ~ '^[a-z0-9-]+$'),
    name_zh           text NOT NULL,
    name_en           text NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('BUREAU', 'STREET', 'TOWN', 'UNIT')),
    jurisdiction_code text NOT NULL REFERENCES jurisdictions (code)
);

-- Case numbers are HL<year>-<n>, n from this sequence (seeding moves it past
-- the numbers it used).
CREATE SEQUENCE case_no_seq;

-- Cases: digital urban-management cases. Street and community are
-- denormalised out of the path because the hot lists filter on them and need
-- a btree that ends in their sort keys (docs/design.md, Performance facts).
CREATE TABLE cases (
    id                uuid PRIMARY KEY,
    case_no           text NOT NULL UNIQUE,
    owner_dept        text NOT NULL REFERENCES departments (code),
    kind              text NOT NULL CHECK (kind IN ('COMPONENT', 'EVENT')),
    major_code        text NOT NULL,
    minor_code        text NOT NULL,
    source            text NOT NULL,
    status            text NOT NULL,
    is_open           boolean GENERATED ALWAYS AS (status NOT IN ('CLOSED', 'NOT_REGISTERED', 'BACKLOG')) STORED,
    description       text NOT NULL CHECK (length(description) > 0),
    address           text NOT NULL DEFAULT '',
    lat               double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lng               double precision NOT NULL CHECK (lng BETWEEN -180 AND 180),
    jurisdiction_code text NOT NULL REFERENCES jurisdictions (code),
    jpath             ltree GENERATED ALWAYS AS (jurisdiction_code::ltree) STORED,
    street_code       text NOT NULL,
    community_code    text,
    handling_dept     text REFERENCES departments (code),
    reporter_name     text,
    reporter_phone    text,
    citizen_id        text,
    photo_urls        text[] NOT NULL DEFAULT '{}',
    reported_at       timestamptz NOT NULL,
    registered_at     timestamptz,
    dispatched_at     timestamptz,
    deadline          timestamptz,
    -- Keyset pagination by deadline needs a non-null key: cases without a
    -- deadline sort last.
    deadline_key      timestamptz GENERATED ALWAYS AS (coalesce(deadline, 'infinity'::timestamptz)) STORED,
    handled_at        timestamptz,
    closed_at         timestamptz,
    rework_count      integer NOT NULL DEFAULT 0,
    defer_count       integer NOT NULL DEFAULT 0,
    rating            smallint CHECK (rating BETWEEN 1 AND 5),
    rating_comment    text,
    rated_at          timestamptz,
    source_dept       text NOT NULL REFERENCES departments (code),
    external_id       text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    version           integer NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX cases_source_external ON cases (source_dept, external_id) WHERE external_id IS NOT NULL;
CREATE INDEX cases_reported ON cases (reported_at, id);
CREATE INDEX cases_deadline ON cases (deadline_key, id);
CREATE INDEX cases_street_open_deadline ON cases (street_code, is_open, deadline_key, id);
CREATE INDEX cases_street_reported ON cases (street_code, reported_at, id);
CREATE INDEX cases_community_reported ON cases (community_code, reported_at, id);
CREATE INDEX cases_handling_open_deadline ON cases (handling_dept, is_open, deadline_key, id);
CREATE INDEX cases_status_reported ON cases (status, reported_at, id);
CREATE INDEX cases_citizen ON cases (citizen_id, reported_at, id) WHERE citizen_id IS NOT NULL;
CREATE INDEX cases_jpath ON cases USING gist (jpath);
CREATE INDEX cases_description_trgm ON cases USING gin (description gin_trgm_ops);

-- Every transition is an event: who, which department, when, and why.
CREATE TABLE case_events (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    case_id     uuid NOT NULL REFERENCES cases (id) ON DELETE CASCADE,
    action      text NOT NULL,
    from_status text,
    to_status   text NOT NULL,
    actor       text NOT NULL,
    actor_dept  text NOT NULL,
    note        text NOT NULL DEFAULT '',
    at          timestamptz NOT NULL
);
CREATE INDEX case_events_case ON case_events (case_id, at, id);

-- +goose Down
DROP TABLE case_events;
DROP TABLE cases;
DROP SEQUENCE case_no_seq;
DROP TABLE departments;
DROP TABLE jurisdictions;
