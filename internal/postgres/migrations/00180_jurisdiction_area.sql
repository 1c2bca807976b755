-- +goose Up
-- A jurisdiction's land area in km², where the directory's source gives it
-- (null otherwise): evaluation figures per km² and the snapshots'
-- jurisdictions table need it.
ALTER TABLE jurisdictions ADD COLUMN area_km2 double precision CHECK (area_km2 > 0);

-- +goose Down
ALTER TABLE jurisdictions DROP COLUMN area_km2;
