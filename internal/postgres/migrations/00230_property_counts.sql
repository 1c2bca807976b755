-- +goose Up
-- How many cases and violations each compound has, grouped by the columns
-- a row scope is judged on (jurisdiction, street, departments). A nested
-- totalCount under a compound then sums the few groups its caller's scope
-- matches (the same predicate the list applies to the rows themselves)
-- instead of counting hundreds of index entries per compound. Statement
-- triggers keep the groups exact in the writing transaction; a group that
-- falls to zero stays (as zero). The handling department stays NULL when
-- the cases' is, so a department scope matches the group exactly as it
-- matches the cases (a NULL never equals a department, not even '').
CREATE TABLE case_property_counts (
    property_id       uuid NOT NULL,
    jurisdiction_code text NOT NULL,
    jpath             ltree GENERATED ALWAYS AS (jurisdiction_code::ltree) STORED,
    street_code       text NOT NULL,
    owner_dept        text NOT NULL,
    handling_dept     text,
    n                 bigint NOT NULL
);
CREATE UNIQUE INDEX case_property_counts_key
    ON case_property_counts (property_id, jurisdiction_code, street_code, owner_dept, coalesce(handling_dept, ''));

CREATE TABLE violation_property_counts (
    property_id       uuid NOT NULL,
    jurisdiction_code text NOT NULL,
    jpath             ltree GENERATED ALWAYS AS (jurisdiction_code::ltree) STORED,
    street_code       text NOT NULL,
    owner_dept        text NOT NULL,
    n                 bigint NOT NULL,
    PRIMARY KEY (property_id, jurisdiction_code, street_code, owner_dept)
);

-- The deltas of one statement are summed per group and applied in key
-- order, so two statements touching the same groups lock them in the same
-- order and cannot deadlock on them.
-- +goose StatementBegin
CREATE FUNCTION case_property_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO case_property_counts AS c (property_id, jurisdiction_code, street_code, owner_dept, handling_dept, n)
        SELECT property_id, jurisdiction_code, street_code, owner_dept, handling_dept, count(*)
        FROM pc_new_rows WHERE property_id IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (property_id, jurisdiction_code, street_code, owner_dept, (coalesce(handling_dept, ''))) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE case_property_counts c SET n = c.n - d.n
        FROM (SELECT property_id, jurisdiction_code, street_code, owner_dept, handling_dept, count(*) AS n
              FROM pc_old_rows WHERE property_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5) d
        WHERE (c.property_id, c.jurisdiction_code, c.street_code, c.owner_dept, coalesce(c.handling_dept, ''))
            = (d.property_id, d.jurisdiction_code, d.street_code, d.owner_dept, coalesce(d.handling_dept, ''));
    ELSE
        INSERT INTO case_property_counts AS c (property_id, jurisdiction_code, street_code, owner_dept, handling_dept, n)
        SELECT property_id, jurisdiction_code, street_code, owner_dept, handling_dept, sum(d)
        FROM (SELECT property_id, jurisdiction_code, street_code, owner_dept, handling_dept, 1 AS d
              FROM pc_new_rows WHERE property_id IS NOT NULL
              UNION ALL
              SELECT property_id, jurisdiction_code, street_code, owner_dept, handling_dept, -1
              FROM pc_old_rows WHERE property_id IS NOT NULL) x
        GROUP BY 1, 2, 3, 4, 5 HAVING sum(d) <> 0 ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (property_id, jurisdiction_code, street_code, owner_dept, (coalesce(handling_dept, ''))) DO UPDATE SET n = c.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION violation_property_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO violation_property_counts AS c (property_id, jurisdiction_code, street_code, owner_dept, n)
        SELECT property_id, jurisdiction_code, street_code, owner_dept, count(*)
        FROM pc_new_rows WHERE property_id IS NOT NULL
        GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4
        ON CONFLICT (property_id, jurisdiction_code, street_code, owner_dept) DO UPDATE SET n = c.n + EXCLUDED.n;
    ELSIF TG_OP = 'DELETE' THEN
        UPDATE violation_property_counts c SET n = c.n - d.n
        FROM (SELECT property_id, jurisdiction_code, street_code, owner_dept, count(*) AS n
              FROM pc_old_rows WHERE property_id IS NOT NULL GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4) d
        WHERE (c.property_id, c.jurisdiction_code, c.street_code, c.owner_dept)
            = (d.property_id, d.jurisdiction_code, d.street_code, d.owner_dept);
    ELSE
        INSERT INTO violation_property_counts AS c (property_id, jurisdiction_code, street_code, owner_dept, n)
        SELECT property_id, jurisdiction_code, street_code, owner_dept, sum(d)
        FROM (SELECT property_id, jurisdiction_code, street_code, owner_dept, 1 AS d
              FROM pc_new_rows WHERE property_id IS NOT NULL
              UNION ALL
              SELECT property_id, jurisdiction_code, street_code, owner_dept, -1
              FROM pc_old_rows WHERE property_id IS NOT NULL) x
        GROUP BY 1, 2, 3, 4 HAVING sum(d) <> 0 ORDER BY 1, 2, 3, 4
        ON CONFLICT (property_id, jurisdiction_code, street_code, owner_dept) DO UPDATE SET n = c.n + EXCLUDED.n;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

-- +goose StatementBegin
CREATE FUNCTION property_counts_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'cases' THEN
        TRUNCATE case_property_counts;
    ELSE
        TRUNCATE violation_property_counts;
    END IF;
    RETURN NULL;
END $$;
-- +goose StatementEnd

CREATE TRIGGER case_property_counts_insert AFTER INSERT ON cases
    REFERENCING NEW TABLE AS pc_new_rows FOR EACH STATEMENT EXECUTE FUNCTION case_property_counts_apply();
CREATE TRIGGER case_property_counts_update AFTER UPDATE ON cases
    REFERENCING OLD TABLE AS pc_old_rows NEW TABLE AS pc_new_rows FOR EACH STATEMENT EXECUTE FUNCTION case_property_counts_apply();
CREATE TRIGGER case_property_counts_delete AFTER DELETE ON cases
    REFERENCING OLD TABLE AS pc_old_rows FOR EACH STATEMENT EXECUTE FUNCTION case_property_counts_apply();
CREATE TRIGGER case_property_counts_truncate AFTER TRUNCATE ON cases
    FOR EACH STATEMENT EXECUTE FUNCTION property_counts_truncated();

CREATE TRIGGER violation_property_counts_insert AFTER INSERT ON violations
    REFERENCING NEW TABLE AS pc_new_rows FOR EACH STATEMENT EXECUTE FUNCTION violation_property_counts_apply();
CREATE TRIGGER violation_property_counts_update AFTER UPDATE ON violations
    REFERENCING OLD TABLE AS pc_old_rows NEW TABLE AS pc_new_rows FOR EACH STATEMENT EXECUTE FUNCTION violation_property_counts_apply();
CREATE TRIGGER violation_property_counts_delete AFTER DELETE ON violations
    REFERENCING OLD TABLE AS pc_old_rows FOR EACH STATEMENT EXECUTE FUNCTION violation_property_counts_apply();
CREATE TRIGGER violation_property_counts_truncate AFTER TRUNCATE ON violations
    FOR EACH STATEMENT EXECUTE FUNCTION property_counts_truncated();

-- Backfill. The triggers exist already, and this migration's transaction
-- holds the share locks that keep writers out until it commits, so no row
-- is counted twice or missed.
LOCK TABLE cases, violations IN SHARE MODE;
INSERT INTO case_property_counts (property_id, jurisdiction_code, street_code, owner_dept, handling_dept, n)
SELECT property_id, jurisdiction_code, street_code, owner_dept, handling_dept, count(*)
FROM cases WHERE property_id IS NOT NULL GROUP BY 1, 2, 3, 4, 5;
INSERT INTO violation_property_counts (property_id, jurisdiction_code, street_code, owner_dept, n)
SELECT property_id, jurisdiction_code, street_code, owner_dept, count(*)
FROM violations WHERE property_id IS NOT NULL GROUP BY 1, 2, 3, 4;
ANALYZE case_property_counts, violation_property_counts;

-- +goose Down
DROP TRIGGER violation_property_counts_truncate ON violations;
DROP TRIGGER violation_property_counts_delete ON violations;
DROP TRIGGER violation_property_counts_update ON violations;
DROP TRIGGER violation_property_counts_insert ON violations;
DROP TRIGGER case_property_counts_truncate ON cases;
DROP TRIGGER case_property_counts_delete ON cases;
DROP TRIGGER case_property_counts_update ON cases;
DROP TRIGGER case_property_counts_insert ON cases;
DROP FUNCTION property_counts_truncated();
DROP FUNCTION violation_property_counts_apply();
DROP FUNCTION case_property_counts_apply();
DROP TABLE violation_property_counts;
DROP TABLE case_property_counts;
