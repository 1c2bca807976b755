package evaluation

import (
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"
)

// ParquetFile is the stored name of a snapshot's rows in Parquet for a
// snapshot of cases; other datasets store theirs as <dataset>.parquet.
const ParquetFile = "cases.parquet"

// ParquetFileOf is the stored name of the Parquet rows of a snapshot of
// dataset.
func ParquetFileOf(dataset string) string { return dataset + ".parquet" }

// parquetRowGroup bounds the rows the writer buffers before it writes a row
// group: memory stays flat however many rows there are.
const parquetRowGroup = 50_000

// ParquetWriter writes rows as a Parquet file with typed columns: strings
// as UTF-8 (codes dictionary-encoded), integers as INT64, numbers as
// DOUBLE, booleans, and timestamps as TIMESTAMP(MILLIS, adjusted to UTC),
// every column optional (null where the NDJSON has null). Parquet orders a
// group's columns by name; readers address them by name.
type ParquetWriter struct {
	w    *parquet.Writer //nolint:staticcheck // SA1019: the row-at-a-time Writer takes a schema built at run time; GenericWriter needs a Go type
	cols []Column
	leaf []int // leaf column index of each column
	row  parquet.Row
}

// noDictionary are the string columns whose values are (nearly) all
// distinct: a dictionary would only add size.
var noDictionary = map[string]bool{"case_ref": true, "violation_ref": true, "lot_id": true, "property_id": true, "inspector_refs": true, "findings": true, "name": true, "description": true, "rating_comment": true, "about_en": true, "about_zh": true}

// NewParquetWriter starts a Parquet file for rows with the given columns.
func NewParquetWriter(out io.Writer, name string, cols []Column) *ParquetWriter {
	g := parquet.Group{}
	for _, c := range cols {
		var n parquet.Node
		switch c.Type {
		case "integer":
			n = parquet.Int(64)
		case "number":
			n = parquet.Leaf(parquet.DoubleType)
		case "boolean":
			n = parquet.Leaf(parquet.BooleanType)
		case "timestamp":
			n = parquet.Timestamp(parquet.Millisecond)
		default:
			n = parquet.String()
			if !noDictionary[c.Name] {
				n = parquet.Encoded(n, &parquet.RLEDictionary)
			}
		}
		g[c.Name] = parquet.Optional(n)
	}
	schema := parquet.NewSchema(name, g)
	p := &ParquetWriter{cols: cols, leaf: make([]int, len(cols)), row: make(parquet.Row, len(cols))}
	pos := map[string]int{}
	for i, f := range schema.Fields() {
		pos[f.Name()] = i
	}
	for i, c := range cols {
		p.leaf[i] = pos[c.Name]
	}
	p.w = parquet.NewWriter(out, schema, parquet.Compression(&parquet.Snappy), parquet.MaxRowsPerRowGroup(parquetRowGroup))
	return p
}

func (p *ParquetWriter) add(vals []value) error {
	for i, v := range vals {
		var x parquet.Value
		switch v.kind {
		case 's':
			if p.cols[i].Type == "timestamp" {
				t, err := time.Parse(time.RFC3339, v.s)
				if err != nil {
					return fmt.Errorf("parquet: %s: %w", p.cols[i].Name, err)
				}
				x = parquet.Int64Value(t.UnixMilli())
			} else {
				x = parquet.ByteArrayValue([]byte(v.s))
			}
		case 'i':
			x = parquet.Int64Value(v.i)
		case 'n':
			f, err := strconv.ParseFloat(v.s, 64)
			if err != nil {
				return fmt.Errorf("parquet: %s: %w", p.cols[i].Name, err)
			}
			x = parquet.DoubleValue(f)
		case 'b':
			x = parquet.BooleanValue(v.b)
		}
		def := 1
		if v.kind == 0 {
			def = 0
		}
		p.row[p.leaf[i]] = x.Level(0, def, p.leaf[i])
	}
	if _, err := p.w.WriteRows([]parquet.Row{p.row}); err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	return nil
}

// Add writes the row the anonymizer rendered last.
func (p *ParquetWriter) Add(a *Anonymizer) error { return p.add(a.last) }

// Close writes the footer.
func (p *ParquetWriter) Close() error {
	if err := p.w.Close(); err != nil {
		return fmt.Errorf("parquet: %w", err)
	}
	return nil
}
