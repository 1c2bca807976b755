package ingest

import (
	"errors"
	"io"
	"time"

	"github.com/google/uuid"
)

// recordReader reads the records of one file format.
type recordReader interface {
	// next reads the next record into rec and returns the line it starts
	// on: io.EOF after the last record, a *RowError for a record that
	// cannot be read (reading goes on with the next one), any other error
	// when the stream fails (reading stops).
	next(rec *CaseRecord) (line int64, err error)
}

// caseRows reads records, validates them and yields the valid ones as rows
// (CaseRows); the others go to errs.
type caseRows struct {
	rd recordReader
	// par, when set, reads in place of rd: NDJSON decoded and validated by
	// workers, taken here in file order.
	par  *parallelNDJSON
	v    *Validator
	now  time.Time
	errs *rejections
	rec  CaseRecord
	row  CaseRow
	read int64
	err  error
}

var _ CaseRows = (*caseRows)(nil)

// Next implements CaseRows.
func (c *caseRows) Next() bool {
	if c.err != nil {
		return false
	}
	if c.par != nil {
		return c.nextDecoded()
	}
	for {
		line, err := c.rd.next(&c.rec)
		if err == io.EOF {
			return false
		}
		var re *RowError
		if errors.As(err, &re) {
			c.read++
			c.errs.add(*re)
			continue
		}
		if err != nil {
			c.err = err
			return false
		}
		c.read++
		cl, field, reason := c.v.check(&c.rec, c.now)
		if field != "" {
			c.errs.add(RowError{Line: line, ExternalID: printableID(c.rec.ExternalID), Field: field, Reason: reason})
			continue
		}
		return c.yield(c.rec, line, cl.MajorCode)
	}
}

// yield makes rec, read on line and valid, the current row, with an id of
// its own.
func (c *caseRows) yield(rec CaseRecord, line int64, major string) bool {
	id, err := uuid.NewV7()
	if err != nil {
		c.err = err
		return false
	}
	c.row = CaseRow{CaseRecord: rec, Line: line, ID: id, MajorCode: major}
	return true
}

// nextDecoded is Next over lines the workers decoded and validated.
func (c *caseRows) nextDecoded() bool {
	for {
		it, ok, err := c.par.take()
		if !ok {
			c.err = err
			return false
		}
		c.read++
		if it.rowErr != nil {
			c.errs.add(*it.rowErr)
			continue
		}
		return c.yield(it.rec, it.line, it.major)
	}
}

// close stops a parallel reader's goroutines (nothing reads the input
// after it returns).
func (c *caseRows) close() {
	if c.par != nil {
		c.par.Close()
	}
}

// Row implements CaseRows.
func (c *caseRows) Row() *CaseRow { return &c.row }

// Err implements CaseRows.
func (c *caseRows) Err() error { return c.err }

// printableID returns an externalId fit to echo in a report (a broken one
// is left out rather than echoed).
func printableID(id string) string {
	if len(id) > maxExternalID*4 || !storable(id) {
		return ""
	}
	return id
}
