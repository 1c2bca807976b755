-- +goose Up
-- Record numbers are WF<year>-<n> (违法), n from this sequence (the demo
-- seeder reserves its numbers from it too).
CREATE SEQUENCE violation_no_seq;

-- Violations: illegal construction, street occupation, illegal parking,
-- illegal advertising and dumping (owned by urban-management enforcement;
-- illegal parking by the traffic police). As with cases, street and
-- community are denormalised out of the path so the hot lists have btrees
-- ending in their sort keys (docs/design.md, Performance facts).
--
-- property_id has no foreign key on purpose: properties are another
-- dataset (housing's registry, its own migration and loader) that may be
-- loaded, reloaded or truncated independently; a link to a compound that is
-- not (yet) in the registry is kept rather than refused, and the property
-- side resolves it through the index below. case_id does reference cases:
-- both live in this hub and a case is never deleted while linked.
CREATE TABLE violations (
    id                 uuid PRIMARY KEY,
    record_no          text NOT NULL UNIQUE,
    owner_dept         text NOT NULL REFERENCES departments (code),
    kind               text NOT NULL CHECK (kind IN ('ILLEGAL_CONSTRUCTION', 'STREET_OCCUPATION',
                           'ILLEGAL_PARKING', 'ILLEGAL_ADVERTISING', 'DUMPING')),
    subtype            text CHECK (CASE kind
                           WHEN 'ILLEGAL_CONSTRUCTION' THEN subtype IN ('ROOFTOP_ADDITION', 'VILLA_EXTENSION',
                               'FACTORY_SHED', 'GREEN_SPACE_ENCROACHMENT', 'DOOR_WINDOW_ALTERATION')
                           WHEN 'STREET_OCCUPATION' THEN subtype IN ('SHOPFRONT_OVERFLOW', 'STREET_VENDING')
                           WHEN 'DUMPING' THEN subtype IN ('CONSTRUCTION_WASTE', 'DOMESTIC_WASTE')
                           ELSE subtype IS NULL END),
    channel            text NOT NULL CHECK (channel IN ('DRONE', 'PATROL', 'CASE', 'REPORT', 'ENFORCEMENT_TERMINAL')),
    status             text NOT NULL CHECK (status IN ('DISCOVERED', 'NOTICE_ISSUED', 'RECTIFICATION_DUE',
                           'DEMOLISHED', 'LEGALIZED', 'PENALIZED', 'CLOSED')),
    -- Open: the violation still stands (matches violation.Status.Open).
    is_open            boolean GENERATED ALWAYS AS (status IN ('DISCOVERED', 'NOTICE_ISSUED', 'RECTIFICATION_DUE')) STORED,
    -- How it ended; kept after closing, so demolition counts do not depend
    -- on whether the file was closed yet.
    outcome            text CHECK (outcome IN ('DEMOLISHED', 'LEGALIZED', 'PENALIZED', 'UNFOUNDED')),
    description        text NOT NULL CHECK (length(description) > 0),
    address            text NOT NULL DEFAULT '',
    area_m2            double precision CHECK (area_m2 > 0 AND area_m2 <= 100000),
    demolished_area_m2 double precision CHECK (demolished_area_m2 > 0 AND demolished_area_m2 <= 100000),
    lat                double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lng                double precision NOT NULL CHECK (lng BETWEEN -180 AND 180),
    jurisdiction_code  text NOT NULL REFERENCES jurisdictions (code),
    jpath              ltree GENERATED ALWAYS AS (jurisdiction_code::ltree) STORED,
    street_code        text NOT NULL,
    community_code     text,
    -- Personal data: field groups "party" and "plate".
    party_name         text,
    party_id_number    text CHECK (length(party_id_number) = 18),
    party_phone        text,
    plate              text,
    property_id        uuid,
    case_id            uuid REFERENCES cases (id),
    discovered_at      timestamptz NOT NULL,
    notice_issued_at   timestamptz,
    deadline           timestamptz,
    -- Keyset pagination by deadline needs a non-null key: violations
    -- without a deadline sort last.
    deadline_key       timestamptz GENERATED ALWAYS AS (coalesce(deadline, 'infinity'::timestamptz)) STORED,
    due_at             timestamptz,
    resolved_at        timestamptz,
    closed_at          timestamptz,
    source_dept        text NOT NULL REFERENCES departments (code),
    external_id        text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    version            integer NOT NULL DEFAULT 1,
    CHECK (kind <> 'ILLEGAL_CONSTRUCTION' OR area_m2 IS NOT NULL),
    CHECK (plate IS NULL OR kind = 'ILLEGAL_PARKING'),
    CHECK ((outcome IS NULL) = (status IN ('DISCOVERED', 'NOTICE_ISSUED', 'RECTIFICATION_DUE')))
);
CREATE UNIQUE INDEX violations_source_external ON violations (source_dept, external_id) WHERE external_id IS NOT NULL;
-- "Open violations in a street by deadline" and the district-wide lists.
CREATE INDEX violations_street_open_deadline ON violations (street_code, is_open, deadline_key, id);
CREATE INDEX violations_street_discovered ON violations (street_code, discovered_at, id);
CREATE INDEX violations_discovered ON violations (discovered_at, id);
CREATE INDEX violations_deadline ON violations (deadline_key, id);
-- Nested lists: a property's and a case's violations, newest first (the
-- LATERAL … LIMIT n of the batched loaders walks these).
CREATE INDEX violations_property ON violations (property_id, discovered_at, id) WHERE property_id IS NOT NULL;
CREATE INDEX violations_case ON violations (case_id, discovered_at, id) WHERE case_id IS NOT NULL;
CREATE INDEX violations_jpath ON violations USING gist (jpath);

-- Every transition (and every upsert that changed data) is an event: who,
-- which department, when, and why.
CREATE TABLE violation_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    violation_id uuid NOT NULL REFERENCES violations (id) ON DELETE CASCADE,
    action       text NOT NULL,
    from_status  text,
    to_status    text NOT NULL,
    actor        text NOT NULL,
    actor_dept   text NOT NULL,
    note         text NOT NULL DEFAULT '',
    at           timestamptz NOT NULL
);
CREATE INDEX violation_events_violation ON violation_events (violation_id, at, id);

-- +goose Down
DROP TABLE violation_events;
DROP TABLE violations;
DROP SEQUENCE violation_no_seq;
