package seed

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// deferredDDL is what bulkLoad takes off a table for the load and puts back
// afterwards: secondary indexes and foreign keys, as PostgreSQL itself
// prints them (pg_get_indexdef, pg_get_constraintdef), so they come back
// exactly as the migrations made them, names included.
type deferredDDL struct {
	table   string
	indexes []namedDef
	fkeys   []namedDef
}

type namedDef struct{ name, def string }

func scanNamedDef(row pgx.CollectableRow) (namedDef, error) {
	var n namedDef
	err := row.Scan(&n.name, &n.def)
	return n, err
}

// takeOff drops the secondary indexes (every index not backing a primary
// key, unique or exclusion constraint) and the foreign keys of table, and
// returns what it dropped.
//
// Why: measured on the 2-core development machine, COPY into cases with
// every index and foreign key in place cost about 110 µs a row (the trigram
// GIN index, the ltree GiST index, four foreign-key checks and ten btrees),
// nearly two minutes for a million cases; the same load into the bare table
// followed by one bulk build per index and one validating join per foreign
// key takes a fraction of that. It all happens inside the seeding
// transaction, so a failure rolls the schema back with the data.
func takeOff(ctx context.Context, tx pgx.Tx, table string) (*deferredDDL, error) {
	d := &deferredDDL{table: table}
	rows, err := tx.Query(ctx, `SELECT c.relname, pg_get_indexdef(i.indexrelid)
		FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
		WHERE i.indrelid = $1::regclass
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint k
		                  WHERE k.conrelid = i.indrelid AND k.conindid = i.indexrelid AND k.contype IN ('p', 'u', 'x'))
		ORDER BY c.relname`, table)
	if err != nil {
		return nil, fmt.Errorf("list indexes of %s: %w", table, err)
	}
	d.indexes, err = pgx.CollectRows(rows, scanNamedDef)
	if err != nil {
		return nil, fmt.Errorf("list indexes of %s: %w", table, err)
	}
	rows, err = tx.Query(ctx, `SELECT conname, pg_get_constraintdef(oid)
		FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'f' ORDER BY conname`, table)
	if err != nil {
		return nil, fmt.Errorf("list foreign keys of %s: %w", table, err)
	}
	d.fkeys, err = pgx.CollectRows(rows, scanNamedDef)
	if err != nil {
		return nil, fmt.Errorf("list foreign keys of %s: %w", table, err)
	}
	for _, fk := range d.fkeys {
		if _, err := tx.Exec(ctx, "ALTER TABLE "+pgx.Identifier{table}.Sanitize()+" DROP CONSTRAINT "+pgx.Identifier{fk.name}.Sanitize()); err != nil {
			return nil, fmt.Errorf("drop foreign key %s: %w", fk.name, err)
		}
	}
	for _, ix := range d.indexes {
		if _, err := tx.Exec(ctx, "DROP INDEX "+pgx.Identifier{ix.name}.Sanitize()); err != nil {
			return nil, fmt.Errorf("drop index %s: %w", ix.name, err)
		}
	}
	return d, nil
}

// rebuildIndex recreates one index that takeOff dropped.
func (d *deferredDDL) rebuildIndex(ctx context.Context, tx pgx.Tx, ix namedDef) error {
	if _, err := tx.Exec(ctx, ix.def); err != nil {
		return fmt.Errorf("rebuild index %s: %w", ix.name, err)
	}
	return nil
}

// restoreFK re-adds, and so validates in one join, a foreign key that
// takeOff dropped.
func (d *deferredDDL) restoreFK(ctx context.Context, tx pgx.Tx, fk namedDef) error {
	q := "ALTER TABLE " + pgx.Identifier{d.table}.Sanitize() + " ADD CONSTRAINT " + pgx.Identifier{fk.name}.Sanitize() + " " + fk.def
	if _, err := tx.Exec(ctx, q); err != nil {
		return fmt.Errorf("restore foreign key %s: %w", fk.name, err)
	}
	return nil
}
