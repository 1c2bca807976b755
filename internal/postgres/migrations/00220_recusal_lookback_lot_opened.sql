-- +goose Up
-- Recusal in double-random draws looks back over a configurable number of
-- rounds: every round looked back over is recorded, newest first
-- (previous_round keeps the latest of them).
ALTER TABLE inspection_rounds ADD COLUMN previous_rounds text[] NOT NULL DEFAULT '{}';
UPDATE inspection_rounds SET previous_rounds = ARRAY[previous_round] WHERE previous_round IS NOT NULL;

-- When a lot's spaces opened to parking (null when not recorded), so the
-- spaces added over a period can be counted.
ALTER TABLE parking_lots ADD COLUMN opened_at timestamptz;
CREATE INDEX parking_lots_opened_at ON parking_lots (opened_at) WHERE opened_at IS NOT NULL;

-- +goose Down
DROP INDEX parking_lots_opened_at;
ALTER TABLE parking_lots DROP COLUMN opened_at;
ALTER TABLE inspection_rounds DROP COLUMN previous_rounds;
