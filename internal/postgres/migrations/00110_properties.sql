-- +goose Up
-- Residential compounds (住宅小区) owned by housing, the planning permits
-- planning holds on them (规划许可), and double-random inspections of
-- property-management projects (双随机、一公开): the register of inspectors
-- with their declared conflicts, the rounds (seed, ratio, snapshots and
-- hashes of the registers they were drawn from) and the inspections.
--
-- Every table references departments or jurisdictions (directly or through
-- properties), so the seeder's TRUNCATE jurisdictions, departments CASCADE
-- empties them too.

-- Street and community are denormalised out of the path, as for cases: the
-- lists filter on them and need a btree ending in their sort keys
-- (docs/design.md, Performance facts).
CREATE TABLE properties (
    id                   uuid PRIMARY KEY,
    owner_dept           text NOT NULL REFERENCES departments (code),
    name                 text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    address              text NOT NULL DEFAULT '',
    lat                  double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lng                  double precision NOT NULL CHECK (lng BETWEEN -180 AND 180),
    jurisdiction_code    text NOT NULL REFERENCES jurisdictions (code),
    jpath                ltree GENERATED ALWAYS AS (jurisdiction_code::ltree) STORED,
    street_code          text NOT NULL,
    community_code       text,
    build_year           smallint NOT NULL CHECK (build_year BETWEEN 1900 AND 2100),
    buildings            integer NOT NULL CHECK (buildings > 0),
    households           integer NOT NULL CHECK (households > 0),
    -- Property-management company; all NULL for a compound without one.
    -- The contact is personal data (field group "management").
    mgmt_company         text,
    mgmt_credit_code     text CHECK (mgmt_credit_code ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'),
    mgmt_contact_name    text,
    mgmt_contact_phone   text,
    renovation_status    text NOT NULL DEFAULT 'NONE'
                         CHECK (renovation_status IN ('NONE', 'PLANNED', 'IN_PROGRESS', 'DONE')),
    renovation_year      smallint,
    renovation_scope     text NOT NULL DEFAULT '',
    -- Yuan, exact; the Go side carries fen (int64).
    renovation_budget    numeric(14, 2) CHECK (renovation_budget >= 0),
    -- Complaints about the property management over the last twelve months;
    -- the draw weights a target by 1 + complaints.
    complaints           integer NOT NULL DEFAULT 0 CHECK (complaints >= 0),
    source_dept          text NOT NULL REFERENCES departments (code),
    external_id          text NOT NULL,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now(),
    version              integer NOT NULL DEFAULT 1,
    CHECK ((mgmt_company IS NULL) = (mgmt_credit_code IS NULL)),
    CHECK ((renovation_status = 'NONE') = (renovation_year IS NULL)),
    CONSTRAINT properties_source_external UNIQUE (source_dept, external_id)
);
CREATE INDEX properties_name ON properties (name, id);
CREATE INDEX properties_build_year ON properties (build_year, id);
CREATE INDEX properties_street_name ON properties (street_code, name, id);
CREATE INDEX properties_street_build_year ON properties (street_code, build_year, id);
CREATE INDEX properties_community_name ON properties (community_code, name, id);
CREATE INDEX properties_jpath ON properties USING gist (jpath);
CREATE INDEX properties_name_trgm ON properties USING gin (name gin_trgm_ops);
-- The register of inspection targets: compounds with a management company.
CREATE INDEX properties_targets ON properties (id) INCLUDE (complaints) WHERE mgmt_company IS NOT NULL;

-- Planning permits (建设工程规划许可), provided by planning.
CREATE TABLE building_permits (
    id            uuid PRIMARY KEY,
    permit_no     text NOT NULL UNIQUE CHECK (length(permit_no) BETWEEN 1 AND 60),
    property_id   uuid NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    issued_on     date NOT NULL,
    scope         text NOT NULL
                  CHECK (scope IN ('NEW_RESIDENTIAL', 'ADDITION', 'EXTENSION', 'ALTERATION', 'ANCILLARY')),
    structure     text NOT NULL DEFAULT '',
    floor_area_m2 double precision NOT NULL DEFAULT 0 CHECK (floor_area_m2 >= 0),
    valid         boolean NOT NULL DEFAULT true,
    owner_dept    text NOT NULL REFERENCES departments (code),
    source_dept   text NOT NULL REFERENCES departments (code),
    external_id   text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    version       integer NOT NULL DEFAULT 1,
    CONSTRAINT building_permits_source_external UNIQUE (source_dept, external_id)
);
CREATE INDEX building_permits_property ON building_permits (property_id, issued_on DESC, permit_no);

-- The register of inspectors (执法检查人员名录库). Ids never contain spaces:
-- they appear in the register snapshots a draw is hashed from.
CREATE TABLE inspectors (
    id         text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$'),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    dept       text NOT NULL REFERENCES departments (code),
    active     boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inspectors_dept ON inspectors (dept, id) WHERE active;

-- Declared conflicts of interest: the inspector may not inspect the compound.
CREATE TABLE inspector_conflicts (
    inspector_id text NOT NULL REFERENCES inspectors (id) ON DELETE CASCADE,
    property_id  uuid NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    reason       text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    declared_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (inspector_id, property_id)
);
CREATE INDEX inspector_conflicts_property ON inspector_conflicts (property_id);

-- One row per round, written once by the draw. The register snapshots are
-- kept byte for byte (targets_register hashes to targets_hash, and so on),
-- so anyone can replay the draw from seed, ratio and k.
CREATE TABLE inspection_rounds (
    round               text PRIMARY KEY CHECK (round ~ '^20[0-9]{2}-(H[12]|Q[1-4]|0[1-9]|1[0-2])$'),
    period_start        date NOT NULL,
    dept                text NOT NULL REFERENCES departments (code),
    seed                bigint NOT NULL,
    ratio               double precision NOT NULL CHECK (ratio >= 0.05 AND ratio <= 1),
    k                   smallint NOT NULL CHECK (k >= 2),
    register_size       integer NOT NULL CHECK (register_size > 0),
    drawn               integer NOT NULL CHECK (drawn > 0),
    previous_round      text,
    targets_hash        text NOT NULL CHECK (targets_hash ~ '^[0-9a-f]{64}$'),
    inspectors_hash     text NOT NULL CHECK (inspectors_hash ~ '^[0-9a-f]{64}$'),
    targets_register    bytea NOT NULL,
    inspectors_register bytea NOT NULL,
    drawn_at            timestamptz NOT NULL,
    drawn_by            text NOT NULL,
    published           boolean NOT NULL DEFAULT false,
    published_at        timestamptz,
    CHECK (published = (published_at IS NOT NULL))
);
CREATE INDEX inspection_rounds_period ON inspection_rounds (period_start DESC, round DESC);

CREATE TABLE inspections (
    id            uuid PRIMARY KEY,
    round         text NOT NULL REFERENCES inspection_rounds (round) ON DELETE CASCADE,
    rank          integer NOT NULL CHECK (rank > 0),
    property_id   uuid NOT NULL REFERENCES properties (id) ON DELETE CASCADE,
    inspector_ids text[] NOT NULL CHECK (cardinality(inspector_ids) >= 2),
    scheduled_on  date NOT NULL,
    result        text CHECK (result IN ('PASS', 'RECTIFY', 'FAIL')),
    findings      text NOT NULL DEFAULT '',
    recorded_at   timestamptz,
    version       integer NOT NULL DEFAULT 1,
    UNIQUE (round, rank),
    UNIQUE (round, property_id)
);
CREATE INDEX inspections_property ON inspections (property_id, scheduled_on DESC);

-- +goose Down
DROP TABLE inspections;
DROP TABLE inspection_rounds;
DROP TABLE inspector_conflicts;
DROP TABLE inspectors;
DROP TABLE building_permits;
DROP TABLE properties;
