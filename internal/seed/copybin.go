package seed

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// The big tables are written in PostgreSQL's binary COPY format by the
// small encoder below rather than through pgx.CopyFrom: pgx looks up an
// encode plan for every value (36 a case row), which cost more CPU than
// generating the case did and, on two cores, slowed the whole load. The
// encoder knows each column's type; copyRows checks those types against the
// table first, so a changed migration fails with a clear message instead of
// "incorrect binary data format".

// column is one column written by a binary COPY with its PostgreSQL type as
// format_type prints it.
type column struct {
	name, typ string
}

// binWriter appends binary COPY tuples to buf.
type binWriter struct{ buf []byte }

var copyHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// pgEpoch is the zero of binary timestamps: 2000-01-01 00:00 UTC.
var pgEpoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()

func (w *binWriter) row(fields int) { w.buf = binary.BigEndian.AppendUint16(w.buf, uint16(fields)) }

func (w *binWriter) null() { w.buf = binary.BigEndian.AppendUint32(w.buf, math.MaxUint32) }

func (w *binWriter) text(s string) {
	w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(len(s)))
	w.buf = append(w.buf, s...)
}

// textOrNull writes NULL for "".
func (w *binWriter) textOrNull(s string) {
	if s == "" {
		w.null()
		return
	}
	w.text(s)
}

func (w *binWriter) uuid(u [16]byte) {
	w.buf = binary.BigEndian.AppendUint32(w.buf, 16)
	w.buf = append(w.buf, u[:]...)
}

func (w *binWriter) float8(f float64) {
	w.buf = binary.BigEndian.AppendUint32(w.buf, 8)
	w.buf = binary.BigEndian.AppendUint64(w.buf, math.Float64bits(f))
}

func (w *binWriter) int4(i int32) {
	w.buf = binary.BigEndian.AppendUint32(w.buf, 4)
	w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(i))
}

func (w *binWriter) int2(i int16) {
	w.buf = binary.BigEndian.AppendUint32(w.buf, 2)
	w.buf = binary.BigEndian.AppendUint16(w.buf, uint16(i))
}

// timestamptz writes t as microseconds since 2000-01-01 UTC.
func (w *binWriter) timestamptz(t time.Time) {
	us := (t.Unix()-pgEpoch)*1_000_000 + int64(t.Nanosecond()/1000)
	w.buf = binary.BigEndian.AppendUint32(w.buf, 8)
	w.buf = binary.BigEndian.AppendUint64(w.buf, uint64(us))
}

// timestamptzOrNull writes NULL for the zero time.
func (w *binWriter) timestamptzOrNull(t time.Time) {
	if t.IsZero() {
		w.null()
		return
	}
	w.timestamptz(t)
}

// textOID is the type of text[] elements.
const textOID = 25

// textArray writes a one-dimensional text[] (empty: zero dimensions).
func (w *binWriter) textArray(list []string) {
	size := 12
	if len(list) > 0 {
		size += 8
		for _, s := range list {
			size += 4 + len(s)
		}
	}
	w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(size))
	dims := uint32(0)
	if len(list) > 0 {
		dims = 1
	}
	w.buf = binary.BigEndian.AppendUint32(w.buf, dims)
	w.buf = binary.BigEndian.AppendUint32(w.buf, 0) // no NULL elements
	w.buf = binary.BigEndian.AppendUint32(w.buf, textOID)
	if len(list) == 0 {
		return
	}
	w.buf = binary.BigEndian.AppendUint32(w.buf, uint32(len(list)))
	w.buf = binary.BigEndian.AppendUint32(w.buf, 1) // lower bound
	for _, s := range list {
		w.text(s)
	}
}

// rowReader is the io.Reader COPY reads: it encodes rows on demand, so at
// most one read's worth of rows exists at a time.
type rowReader struct {
	w    binWriter
	off  int
	done bool
	// next appends one tuple to w and reports whether it did.
	next func(w *binWriter) bool
}

func newRowReader(next func(w *binWriter) bool) *rowReader {
	r := &rowReader{next: next}
	r.w.buf = append(make([]byte, 0, 128<<10), copyHeader...)
	return r
}

func (r *rowReader) Read(p []byte) (int, error) {
	if r.off > 0 {
		n := copy(r.w.buf, r.w.buf[r.off:])
		r.w.buf = r.w.buf[:n]
		r.off = 0
	}
	for len(r.w.buf) < len(p) && !r.done {
		if !r.next(&r.w) {
			r.w.buf = binary.BigEndian.AppendUint16(r.w.buf, math.MaxUint16) // trailer: -1
			r.done = true
		}
	}
	n := copy(p, r.w.buf)
	r.off = n
	if n == 0 && r.done {
		return 0, io.EOF
	}
	return n, nil
}

// checkColumns verifies that table has the columns with the types the
// encoder writes.
func checkColumns(ctx context.Context, tx pgx.Tx, table string, cols []column) error {
	rows, err := tx.Query(ctx, `SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
		WHERE attrelid = $1::regclass AND attnum > 0 AND NOT attisdropped`, table)
	if err != nil {
		return fmt.Errorf("read columns of %s: %w", table, err)
	}
	have := map[string]string{}
	var name, typ string
	_, err = pgx.ForEachRow(rows, []any{&name, &typ}, func() error {
		have[name] = typ
		return nil
	})
	if err != nil {
		return fmt.Errorf("read columns of %s: %w", table, err)
	}
	var bad []string
	for _, c := range cols {
		if got, ok := have[c.name]; !ok {
			bad = append(bad, c.name+" is missing")
		} else if got != c.typ {
			bad = append(bad, fmt.Sprintf("%s is %s, the seeder writes %s", c.name, got, c.typ))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("table %s does not match the seeder (update internal/seed): %s", table, strings.Join(bad, "; "))
	}
	return nil
}

// copyRows streams rows produced by next into table with a binary COPY.
func copyRows(ctx context.Context, tx pgx.Tx, table string, cols []column, next func(w *binWriter) bool) (int64, error) {
	if err := checkColumns(ctx, tx, table, cols); err != nil {
		return 0, err
	}
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = pgx.Identifier{c.name}.Sanitize()
	}
	q := "COPY " + pgx.Identifier{table}.Sanitize() + " (" + strings.Join(names, ", ") + ") FROM STDIN (FORMAT binary)"
	tag, err := tx.Conn().PgConn().CopyFrom(ctx, newRowReader(next), q)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
