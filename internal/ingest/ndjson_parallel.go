package ingest

import (
	"errors"
	"io"
	"slices"
	"sync"
	"time"
)

// Block bounds of the parallel NDJSON decoder: a block is handed to one
// worker whole, so it must be large enough to outweigh the hand-over and
// small enough that the first rows reach the database soon.
const (
	blockLines = 256
	blockBytes = 256 << 10
)

// parallelNDJSON decodes and validates the lines of an NDJSON file on
// several workers while one goroutine splits the file into lines; the
// consumer takes the results in file order, so rows, row errors and their
// line numbers are exactly what the sequential reader gives. Decoding is
// most of an import's CPU in the hub, and the database ingests the rows on
// another core meanwhile.
type parallelNDJSON struct {
	ordered chan *lineBlock // every block, in file order
	stop    chan struct{}
	stopped sync.Once
	wg      sync.WaitGroup
	cur     *lineBlock
	next    int
}

// lineBlock is a run of consecutive lines and, once done is closed, what
// each one decoded to.
type lineBlock struct {
	items []lineItem
	err   error // the stream failed after items
	done  chan struct{}
}

type lineItem struct {
	line   int64
	raw    []byte
	rec    CaseRecord
	major  string
	rowErr *RowError
}

// newParallelNDJSON starts reading r with workers decoders. Close must be
// called once the rows are no longer wanted: it stops the goroutines and
// waits for them, so nothing reads r after it returns.
func newParallelNDJSON(r io.Reader, maxLine, workers int, v *Validator, now time.Time) *parallelNDJSON {
	p := &parallelNDJSON{ordered: make(chan *lineBlock, 2*workers), stop: make(chan struct{})}
	work := make(chan *lineBlock, 2*workers)
	p.wg.Add(1 + workers)
	go func() {
		defer p.wg.Done()
		p.split(newNDJSONReader(r, maxLine), work)
	}()
	for range workers {
		go func() {
			defer p.wg.Done()
			decodeBlocks(work, newNDJSONDecoder(), v, now)
		}()
	}
	return p
}

// split cuts the file into blocks of the lines ndjsonReader.next would
// decode, and hands each to the consumer (in order) and to a worker.
func (p *parallelNDJSON) split(rd *ndjsonReader, work chan<- *lineBlock) {
	defer close(work)
	defer close(p.ordered)
	b := &lineBlock{done: make(chan struct{})}
	var buf []byte
	send := func() bool {
		for _, ch := range [...]chan<- *lineBlock{p.ordered, work} {
			select {
			case ch <- b:
			case <-p.stop:
				return false
			}
		}
		b, buf = &lineBlock{done: make(chan struct{})}, nil
		return true
	}
	for {
		raw, err := rd.nextRecordLine()
		var re *RowError
		switch {
		case err == io.EOF:
			if len(b.items) > 0 {
				send()
			}
			return
		case errors.As(err, &re):
			b.items = append(b.items, lineItem{line: rd.line, rowErr: re})
		case err != nil:
			b.err = err
			send()
			return
		default:
			// readLine's bytes are only good until the next call. Earlier
			// items keep pointing into buf's older arrays when it grows.
			off := len(buf)
			buf = append(buf, raw...)
			b.items = append(b.items, lineItem{line: rd.line, raw: buf[off:len(buf):len(buf)]})
		}
		if (len(b.items) >= blockLines || len(buf) >= blockBytes) && !send() {
			return
		}
	}
}

// decodeBlocks decodes and validates each block's lines with its own
// decoder d, then marks the block done.
func decodeBlocks(work <-chan *lineBlock, d *ndjsonReader, v *Validator, now time.Time) {
	for b := range work {
		for i := range b.items {
			it := &b.items[i]
			if it.rowErr != nil {
				continue
			}
			d.line = it.line
			if err := d.decode(it.raw, &it.rec); err != nil {
				var re *RowError
				if !errors.As(err, &re) {
					re = &RowError{Line: it.line, Reason: err.Error()}
				}
				it.rowErr = re
				continue
			}
			it.raw = nil
			// The decoder reuses its photo list for the next line.
			it.rec.PhotoURLs = slices.Clone(it.rec.PhotoURLs)
			cl, field, reason := v.check(&it.rec, now)
			if field != "" {
				it.rowErr = &RowError{Line: it.line, ExternalID: printableID(it.rec.ExternalID), Field: field, Reason: reason}
				continue
			}
			it.major = cl.MajorCode
		}
		close(b.done)
	}
}

// take returns the next line's result, in file order: ok is false at the
// end, with the stream's error if it failed.
func (p *parallelNDJSON) take() (it *lineItem, ok bool, err error) {
	for p.cur == nil || p.next >= len(p.cur.items) {
		if p.cur != nil && p.cur.err != nil {
			return nil, false, p.cur.err
		}
		b, open := <-p.ordered
		if !open {
			return nil, false, nil
		}
		<-b.done
		p.cur, p.next = b, 0
	}
	it = &p.cur.items[p.next]
	p.next++
	return it, true, nil
}

// Close stops reading and waits for the goroutines.
func (p *parallelNDJSON) Close() {
	p.stopped.Do(func() { close(p.stop) })
	p.wg.Wait()
}
