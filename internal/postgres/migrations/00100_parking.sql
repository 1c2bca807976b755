-- +goose Up
CREATE EXTENSION IF NOT EXISTS postgis;

-- Parking lots. The location is kept as plain lat/lng (what the API and the
-- demo generator speak) and as a generated geography point with a GiST index,
-- which answers "nearest lots within r meters" as a bounded nearest-first
-- index scan (ST_DWithin + ORDER BY geog <-> point). Street is denormalised
-- out of the jurisdiction, as for cases, so a street's list by name is one
-- btree range (docs/design.md, Performance facts). The sharing windows are
-- "HH:MM-HH:MM" strings in Asia/Shanghai local time; the rule that reads them
-- (with the holiday calendar) lives in Go, internal/parking.
CREATE TABLE parking_lots (
    id                uuid PRIMARY KEY,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    kind              text NOT NULL CHECK (kind IN ('PUBLIC', 'ON_STREET', 'GOVERNMENT_SHARED', 'RESIDENTIAL', 'COMMERCIAL')),
    is_government     boolean NOT NULL DEFAULT false,
    address           text NOT NULL DEFAULT '',
    lat               double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lng               double precision NOT NULL CHECK (lng BETWEEN -180 AND 180),
    geog              geography(Point, 4326) GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lng, lat), 4326)::geography) STORED,
    jurisdiction_code text NOT NULL REFERENCES jurisdictions (code),
    jpath             ltree GENERATED ALWAYS AS (jurisdiction_code::ltree) STORED,
    street_code       text NOT NULL,
    owner_dept        text NOT NULL REFERENCES departments (code),
    operator          text NOT NULL DEFAULT '',
    total_spaces      integer NOT NULL CHECK (total_spaces >= 0),
    shared_spaces     integer NOT NULL DEFAULT 0 CHECK (shared_spaces BETWEEN 0 AND total_spaces),
    open_hours        text[] NOT NULL DEFAULT '{}',
    weekday_windows   text[] NOT NULL DEFAULT '{}',
    rest_day_all_day  boolean NOT NULL DEFAULT false,
    rest_day_windows  text[] NOT NULL DEFAULT '{}',
    no_movement       text CHECK (no_movement ~ '^\d\d:\d\d-\d\d:\d\d$'),
    max_seats         smallint CHECK (max_seats > 0),
    booking_rule      text NOT NULL DEFAULT '',
    fee_rule          text NOT NULL DEFAULT '',
    contact_name      text,
    contact_phone     text,
    source_dept       text NOT NULL REFERENCES departments (code),
    external_id       text NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    version           integer NOT NULL DEFAULT 1,
    -- An off-peak shared government lot is a government lot: the opening
    -- rate counts it in both numerator and denominator.
    CONSTRAINT parking_lots_shared_is_government CHECK (kind <> 'GOVERNMENT_SHARED' OR is_government)
);
CREATE UNIQUE INDEX parking_lots_source_external ON parking_lots (source_dept, external_id);
CREATE INDEX parking_lots_geog ON parking_lots USING gist (geog);
CREATE INDEX parking_lots_name ON parking_lots (name, id);
CREATE INDEX parking_lots_street_name ON parking_lots (street_code, name, id);
CREATE INDEX parking_lots_kind ON parking_lots (kind, id);
CREATE INDEX parking_lots_owner_name ON parking_lots (owner_dept, name, id);
CREATE INDEX parking_lots_jpath ON parking_lots USING gist (jpath);
CREATE INDEX parking_lots_name_trgm ON parking_lots USING gin (name gin_trgm_ops);

-- Free spaces sampled from the live counters (Redis) once per sampler tick.
-- Every hub instance runs the sampler; they all write the tick's rows under
-- the same key (lot, tick instant), so the primary key and ON CONFLICT DO
-- NOTHING keep one row per lot and tick. reported_at is when the lot's
-- system last reported the value: a silent lot repeats an old count, and
-- reported_at shows it.
CREATE TABLE parking_availability_history (
    lot_id      uuid NOT NULL REFERENCES parking_lots (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL,
    free        integer NOT NULL CHECK (free >= 0),
    reported_at timestamptz NOT NULL,
    PRIMARY KEY (lot_id, at)
);
-- Retention and "all lots at one tick" scan by time; rows arrive in time
-- order, so a BRIN index is tiny and enough.
CREATE INDEX parking_availability_history_at ON parking_availability_history USING brin (at);

-- +goose Down
DROP TABLE parking_availability_history;
DROP TABLE parking_lots;
-- The postgis extension stays: dropping it would take other objects with it.
