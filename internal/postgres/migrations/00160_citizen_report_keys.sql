-- +goose Up
-- A citizen's report through the app is made idempotent by a key the app
-- chooses per citizen. The key used to be kept as the case's external id
-- ("citizen:<citizen>:<key>") under the app key's department, in the same
-- space as that department's systems' external ids: a system could send a
-- record under such an id and block the citizen's report, or an upsert by
-- external id could reach the citizen's case. The key now has a column and
-- a unique index of its own, per citizen, and citizen reports carry no
-- external id.
ALTER TABLE cases ADD COLUMN citizen_key text
    CHECK (citizen_key IS NULL OR (citizen_id IS NOT NULL AND length(citizen_key) BETWEEN 1 AND 64));

UPDATE cases
   SET citizen_key = substr(external_id, length('citizen:' || citizen_id || ':') + 1),
       external_id = NULL
 WHERE source = 'CITIZEN_REPORT'
   AND citizen_id IS NOT NULL
   AND starts_with(external_id, 'citizen:' || citizen_id || ':')
   AND length(external_id) > length('citizen:' || citizen_id || ':');

CREATE UNIQUE INDEX cases_citizen_key ON cases (citizen_id, citizen_key) WHERE citizen_key IS NOT NULL;

-- +goose Down
UPDATE cases SET external_id = 'citizen:' || citizen_id || ':' || citizen_key
 WHERE citizen_key IS NOT NULL AND external_id IS NULL;
DROP INDEX cases_citizen_key;
ALTER TABLE cases DROP COLUMN citizen_key;
