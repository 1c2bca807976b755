-- +goose Up
-- Third-party evaluation organisations (internal/evaluation, "The
-- evaluation team"). An assessment is made by an outside organisation under
-- a contract, not by one of the departments it assesses: its credentials
-- name the organisation, and what it may freeze and download is bounded by
-- the contract's period and scope (datasets and jurisdiction subtrees).
CREATE TABLE eval_organisations (
    code           text PRIMARY KEY CHECK (code ~ '^[a-z0-9-]{1,64}$'),
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    -- Unified social credit code (统一社会信用代码) of the organisation.
    credit_code    text CHECK (credit_code ~ '^[0-9A-HJ-NPQRTUWXY]{18}$'),
    contract_no    text NOT NULL CHECK (length(contract_no) BETWEEN 1 AND 100),
    -- The contract runs from contract_from (inclusive) to contract_to
    -- (exclusive).
    contract_from  timestamptz NOT NULL,
    contract_to    timestamptz NOT NULL,
    datasets       text[] NOT NULL CHECK (cardinality(datasets) > 0),
    jurisdictions  text[] NOT NULL CHECK (cardinality(jurisdictions) > 0),
    registered_by  text NOT NULL,
    registered_at  timestamptz NOT NULL DEFAULT now(),
    CHECK (contract_to > contract_from)
);

-- An organisation is never one of the departments it evaluates.
-- +goose StatementBegin
CREATE FUNCTION eval_organisation_not_department() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM departments WHERE code = NEW.code) THEN
        RAISE EXCEPTION 'organisation % is a department code: an evaluation organisation is not one of the departments it evaluates', NEW.code
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER eval_organisations_not_department BEFORE INSERT OR UPDATE ON eval_organisations
    FOR EACH ROW EXECUTE FUNCTION eval_organisation_not_department();

-- An evaluator key belongs to an organisation and to no department (dept
-- is then empty). Evaluator keys issued to a department before this
-- migration are revoked here: the hub refuses them from now on anyway, and
-- a revoked key can still be listed (the constraint exempts it).
ALTER TABLE api_keys ADD COLUMN org text REFERENCES eval_organisations (code);
UPDATE api_keys SET revoked_at = now() WHERE 'evaluator' = ANY (roles) AND revoked_at IS NULL;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_dept_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_dept_check
    CHECK (dept ~ '^[a-z0-9-]{1,64}$' OR (dept = '' AND org IS NOT NULL));
ALTER TABLE api_keys ADD CONSTRAINT api_keys_org_evaluator
    CHECK (revoked_at IS NOT NULL OR ((org IS NOT NULL) = ('evaluator' = ANY (roles)) AND (org IS NULL OR dept = '')));

-- The organisation a snapshot was made for, as the manifest names it
-- (code, name, contract); NULL for snapshots made before organisations.
ALTER TABLE eval_snapshots ADD COLUMN organisation jsonb;

-- +goose Down
ALTER TABLE eval_snapshots DROP COLUMN organisation;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_org_evaluator;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_dept_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_dept_check CHECK (dept ~ '^[a-z0-9-]{1,64}$');
ALTER TABLE api_keys DROP COLUMN org;
DROP TABLE eval_organisations;
DROP FUNCTION eval_organisation_not_department();
