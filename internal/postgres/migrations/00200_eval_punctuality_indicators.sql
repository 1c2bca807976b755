-- +goose Up
-- Evaluation rules of issue 13 (internal/evaluation/doc.go, "Indicator
-- definitions"): rework does not reset punctuality, closure is judged
-- against the closure deadline, and the reporting, dispatch, deferral,
-- backlog, rework and density figures.
--
-- Cases keep what the row used to lose: how often the department returned
-- the case (退回), and the first handling with the deadline it was judged
-- against (a rework sets a fresh deadline and the row keeps the last
-- handling).
ALTER TABLE cases
    ADD COLUMN return_count     integer NOT NULL DEFAULT 0,
    ADD COLUMN first_handled_at timestamptz,
    ADD COLUMN first_deadline   timestamptz;

-- Backfill from the timelines. The first deadline is known for cases never
-- reworked (their deadline is the one their only handling was judged
-- against: a deferral is granted before handling); for reworked cases it is
-- left unknown and their punctuality rests on the last handling.
UPDATE cases c SET return_count = e.n
FROM (SELECT case_id, count(*) AS n FROM case_events WHERE action = 'RETURN' GROUP BY case_id) e
WHERE e.case_id = c.id;
UPDATE cases c SET first_handled_at = e.first
FROM (SELECT case_id, min(at) AS first FROM case_events WHERE action = 'SUBMIT_HANDLING' GROUP BY case_id) e
WHERE e.case_id = c.id AND c.handled_at IS NOT NULL;
UPDATE cases SET first_handled_at = coalesce(first_handled_at, handled_at), first_deadline = deadline
WHERE handled_at IS NOT NULL AND rework_count = 0;

-- The ledger keeps the new inputs and the facts derived from the class
-- catalogue and the calendar (closure deadline, on-time checks), so a
-- refresh takes a contribution back exactly even if the catalogue changed.
ALTER TABLE case_eval_facts
    ADD COLUMN reported_at       timestamptz,
    ADD COLUMN declined_at       timestamptz,
    ADD COLUMN first_handled_at  timestamptz,
    ADD COLUMN first_deadline    timestamptz,
    ADD COLUMN return_count      integer NOT NULL DEFAULT 0,
    ADD COLUMN defer_count       integer NOT NULL DEFAULT 0,
    ADD COLUMN close_deadline    timestamptz,
    ADD COLUMN report_on_time    boolean,
    ADD COLUMN check_on_time     boolean;

-- New rollup counters (internal/evaluation/rollup.go).
-- +goose StatementBegin
DO $$
DECLARE
    t text;
    c text;
BEGIN
    FOREACH t IN ARRAY ARRAY['case_rollup_monthly', 'case_rollup_community', 'case_rollup_class'] LOOP
        FOREACH c IN ARRAY ARRAY['reported', 'report_decided', 'report_declined', 'report_verified_on_time',
            'dispatch_returned', 'dispatch_deferred', 'dispatch_backlog', 'reworks_closed', 'checked_on_time'] LOOP
            EXECUTE format('ALTER TABLE %I ADD COLUMN %I integer NOT NULL DEFAULT 0', t, c);
        END LOOP;
    END LOOP;
END;
$$;
-- +goose StatementEnd

-- The rules changed (evaluation.RulesVersion): rebuild before use.
UPDATE case_eval_state SET rules_version = 0;

-- +goose Down
-- +goose StatementBegin
DO $$
DECLARE
    t text;
    c text;
BEGIN
    FOREACH t IN ARRAY ARRAY['case_rollup_monthly', 'case_rollup_community', 'case_rollup_class'] LOOP
        FOREACH c IN ARRAY ARRAY['reported', 'report_decided', 'report_declined', 'report_verified_on_time',
            'dispatch_returned', 'dispatch_deferred', 'dispatch_backlog', 'reworks_closed', 'checked_on_time'] LOOP
            EXECUTE format('ALTER TABLE %I DROP COLUMN %I', t, c);
        END LOOP;
    END LOOP;
END;
$$;
-- +goose StatementEnd
ALTER TABLE case_eval_facts DROP COLUMN reported_at, DROP COLUMN declined_at, DROP COLUMN first_handled_at,
    DROP COLUMN first_deadline, DROP COLUMN return_count, DROP COLUMN defer_count, DROP COLUMN close_deadline,
    DROP COLUMN report_on_time, DROP COLUMN check_on_time;
ALTER TABLE cases DROP COLUMN return_count, DROP COLUMN first_handled_at, DROP COLUMN first_deadline;
UPDATE case_eval_state SET rules_version = 0;
