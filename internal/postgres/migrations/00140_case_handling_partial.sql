-- +goose Up
-- Only dispatched cases have a handling department, and every query that
-- reads this index names one (handling_dept = $1, which implies NOT NULL):
-- new cases, the bulk of every import, no longer write an entry nobody
-- reads.
DROP INDEX cases_handling_open_deadline;
CREATE INDEX cases_handling_open_deadline ON cases (handling_dept, is_open, deadline_key, id) WHERE handling_dept IS NOT NULL;

-- +goose Down
DROP INDEX cases_handling_open_deadline;
CREATE INDEX cases_handling_open_deadline ON cases (handling_dept, is_open, deadline_key, id);
