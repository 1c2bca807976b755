-- +goose Up
-- A grid's cases, newest first: the nested Jurisdiction.cases of grids and
-- list filters naming a grid. Without it the planner walks cases_reported
-- backwards testing the ltree path of every row until it has a page
-- (about 30 ms a grid at a million cases; seconds for a page of grids).
CREATE INDEX cases_jurisdiction_reported ON cases (jurisdiction_code, reported_at, id);

-- +goose Down
DROP INDEX cases_jurisdiction_reported;
