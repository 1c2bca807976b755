-- +goose Up
-- Files frozen with a snapshot: the workbook and the dimension tables and
-- data dictionary in each rendering, in 1 MiB chunks so a range reads only
-- the chunks it needs. "files" on the manifest holds their checksums, the
-- CSV-with-BOM checksum and the tables' descriptions. Immutable like the
-- rest of a snapshot.
ALTER TABLE eval_snapshots ADD COLUMN files jsonb NOT NULL DEFAULT '{}';

CREATE TABLE eval_snapshot_files (
    snapshot_id uuid NOT NULL REFERENCES eval_snapshots (id) DEFERRABLE INITIALLY DEFERRED,
    name        text NOT NULL,
    chunk       bigint NOT NULL CHECK (chunk >= 0),
    data        bytea NOT NULL,
    PRIMARY KEY (snapshot_id, name, chunk)
);

CREATE TRIGGER eval_snapshot_files_immutable BEFORE UPDATE OR DELETE OR TRUNCATE ON eval_snapshot_files
    FOR EACH STATEMENT EXECUTE FUNCTION eval_snapshot_immutable();

-- +goose Down
DROP TABLE eval_snapshot_files;
ALTER TABLE eval_snapshots DROP COLUMN files;
