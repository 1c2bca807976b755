package evaluation

import (
	"archive/zip"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/xuri/excelize/v2"
)

// xlsxMaxRows is Excel's row limit per sheet, header included.
const xlsxMaxRows = 1 << 20

// excelEpoch is day 0 of Excel's 1900 date system (with its leap-year bug
// folded in, as every reader expects).
var excelEpoch = time.Date(1899, 12, 30, 0, 0, 0, 0, time.UTC)

// Workbook writes a snapshot as an XLSX workbook: the rows on the sheet
// "cases", then one sheet per dimension table and the dictionary, and an
// "about" sheet. It uses excelize's StreamWriter, which spills rows to a
// temporary file, so memory stays flat however many rows there are. Codes
// are written as text (0601 stays 0601); timestamps as Excel dates in
// Asia/Shanghai local time, the zone stated in the header.
type Workbook struct {
	f       *excelize.File
	sw      *excelize.StreamWriter
	cols    []Column
	loc     *time.Location
	row     int
	date    int
	tooBig  bool
	scratch []any
	first   string // the rows' sheet, which the new file already has
}

// NewWorkbook starts a workbook for rows with the given columns.
func NewWorkbook(cols []Column, loc *time.Location) (*Workbook, error) {
	return NewDatasetWorkbook("cases", cols, loc)
}

// NewDatasetWorkbook starts a workbook whose first sheet, named after
// dataset, holds the rows.
func NewDatasetWorkbook(dataset string, cols []Column, loc *time.Location) (*Workbook, error) {
	f := excelize.NewFile()
	if err := f.SetSheetName("Sheet1", dataset); err != nil {
		return nil, fmt.Errorf("xlsx: %w", err)
	}
	date, err := f.NewStyle(&excelize.Style{CustomNumFmt: ptr("yyyy-mm-dd hh:mm")})
	if err != nil {
		return nil, fmt.Errorf("xlsx: %w", err)
	}
	w := &Workbook{f: f, cols: cols, loc: loc, date: date, first: dataset}
	if w.sw, err = w.sheet(dataset, cols); err != nil {
		return nil, err
	}
	return w, nil
}

// header names a timestamp column's zone, so nobody reads local times as UTC.
func (w *Workbook) header(c Column) string {
	if c.Type == "timestamp" {
		return c.Name + " (" + w.loc.String() + ")"
	}
	return c.Name
}

func (w *Workbook) sheet(name string, cols []Column) (*excelize.StreamWriter, error) {
	if name != w.first {
		if _, err := w.f.NewSheet(name); err != nil {
			return nil, fmt.Errorf("xlsx: sheet %s: %w", name, err)
		}
	}
	sw, err := w.f.NewStreamWriter(name)
	if err != nil {
		return nil, fmt.Errorf("xlsx: sheet %s: %w", name, err)
	}
	hd := make([]any, len(cols))
	for i, c := range cols {
		hd[i] = w.header(c)
	}
	if err := sw.SetRow("A1", hd); err != nil {
		return nil, fmt.Errorf("xlsx: sheet %s: %w", name, err)
	}
	return sw, nil
}

func (w *Workbook) cells(sw *excelize.StreamWriter, row int, cols []Column, vals []value) error {
	w.scratch = w.scratch[:0]
	for i, v := range vals {
		var x any
		switch v.kind {
		case 's':
			x = v.s
			if cols[i].Type == "timestamp" {
				t, err := time.Parse(time.RFC3339, v.s)
				if err != nil {
					return fmt.Errorf("xlsx: %s: %w", cols[i].Name, err)
				}
				wall := t.In(w.loc)
				wall = time.Date(wall.Year(), wall.Month(), wall.Day(), wall.Hour(), wall.Minute(), wall.Second(), 0, time.UTC)
				x = excelize.Cell{StyleID: w.date, Value: wall.Sub(excelEpoch).Hours() / 24}
			}
		case 'i':
			x = v.i
		case 'n':
			f, err := strconv.ParseFloat(v.s, 64)
			if err != nil {
				return fmt.Errorf("xlsx: %s: %w", cols[i].Name, err)
			}
			x = f
		case 'b':
			x = v.b
		}
		w.scratch = append(w.scratch, x)
	}
	cell, err := excelize.CoordinatesToCellName(1, row)
	if err != nil {
		return err
	}
	return sw.SetRow(cell, w.scratch)
}

// Add writes the row the anonymizer rendered last. Rows beyond Excel's
// limit are not written and the workbook reports itself too big.
func (w *Workbook) Add(a *Anonymizer) error {
	if w.tooBig {
		return nil
	}
	if w.row+2 > xlsxMaxRows {
		w.tooBig = true
		return nil
	}
	w.row++
	return w.cells(w.sw, w.row+1, w.cols, a.last)
}

// TooBig reports whether the rows exceeded Excel's sheet limit (the
// workbook is then not offered; CSV, NDJSON and Parquet are).
func (w *Workbook) TooBig() bool { return w.tooBig }

// Finish writes the tables and the about sheet (key, value pairs) and the
// whole workbook to out.
func (w *Workbook) Finish(tables []*Table, about [][2]string, out io.Writer) error {
	if err := w.sw.Flush(); err != nil {
		return fmt.Errorf("xlsx: %w", err)
	}
	for _, t := range tables {
		sw, err := w.sheet(t.Name, t.Columns)
		if err != nil {
			return err
		}
		for i, r := range t.rows {
			if err := w.cells(sw, i+2, t.Columns, r); err != nil {
				return err
			}
		}
		if err := sw.Flush(); err != nil {
			return fmt.Errorf("xlsx: %w", err)
		}
	}
	if len(about) > 0 {
		if _, err := w.f.NewSheet("about"); err != nil {
			return fmt.Errorf("xlsx: %w", err)
		}
		for i, kv := range about {
			if err := w.f.SetSheetRow("about", "A"+strconv.Itoa(i+1), &[]any{kv[0], kv[1]}); err != nil {
				return fmt.Errorf("xlsx: %w", err)
			}
		}
	}
	// excelize's WriteTo builds the whole zip in a bytes.Buffer before
	// writing it; a zip writer on out streams it instead, so memory does not
	// grow with the workbook. (The buffer excelize then writes is empty; its
	// zip64 header patch concerns entries over 4 GiB, far beyond a sheet.)
	w.f.SetZipWriter(func(io.Writer) excelize.ZipWriter { return zip.NewWriter(out) })
	if _, err := w.f.WriteTo(io.Discard); err != nil {
		return fmt.Errorf("xlsx: write: %w", err)
	}
	return nil
}

// Close removes the workbook's temporary files.
func (w *Workbook) Close() error { return w.f.Close() }
