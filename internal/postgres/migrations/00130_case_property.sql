-- +goose Up
-- A case about a residential compound (dirty corners, rooftop additions,
-- property-management complaints) names it, so a compound's page can list
-- its cases. No foreign key: properties are another department's dataset
-- and may be reloaded on their own.
ALTER TABLE cases ADD COLUMN property_id uuid;
CREATE INDEX cases_property ON cases (property_id, reported_at, id) WHERE property_id IS NOT NULL;

-- +goose Down
DROP INDEX cases_property;
ALTER TABLE cases DROP COLUMN property_id;
