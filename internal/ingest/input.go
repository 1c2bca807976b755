package ingest

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/fengcheng/datahub/internal/apperr"
)

// input is the byte stream of one import: what the caller gave, counted
// (for progress and the report), optionally gunzipped, bounded.
type input struct {
	counted *countingReader
	r       io.Reader
}

func newInput(r io.Reader, opts Options) (*input, error) {
	in := &input{counted: &countingReader{r: r, progress: opts.Progress, next: ProgressEveryDefault}}
	in.r = in.counted
	if opts.Gzip {
		gz, err := gzip.NewReader(in.counted)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, apperr.Invalid("body", "the body is empty, not gzip data")
			}
			return nil, streamError(&decodeError{err})
		}
		in.r = &ratioReader{r: &gunzipReader{gz}, compressed: in.counted}
	}
	if opts.MaxBytes > 0 {
		in.r = &limitReader{r: in.r, left: opts.MaxBytes, limit: opts.MaxBytes}
	}
	return in, nil
}

// spool copies r to a new temporary file in dir and returns it rewound.
// The caller bounds r (see LimitError); failures of r are the caller's
// stream errors, failures of the file internal ones.
func spool(r io.Reader, dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, "datahub-ingest-*")
	if err != nil {
		return nil, fmt.Errorf("spool upload: %w", err)
	}
	fail := func(err error) (*os.File, error) {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, err
	}
	if _, err := io.Copy(f, &countingReader{r: r}); err != nil {
		var re *readError
		if errors.As(err, &re) {
			return fail(streamError(err))
		}
		return fail(fmt.Errorf("spool upload: %w", err))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("spool upload: rewind: %w", err))
	}
	return f, nil
}

// finish reports the final progress.
func (in *input) finish() {
	if in.counted.progress != nil {
		in.counted.progress(in.counted.n)
	}
}

// countingReader counts the bytes read from the caller's stream and reports
// progress. Errors of the stream are marked as such.
type countingReader struct {
	r        io.Reader
	n        int64
	progress func(int64)
	next     int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.progress != nil && c.n >= c.next {
		c.progress(c.n)
		c.next = c.n + ProgressEveryDefault
	}
	if err != nil && err != io.EOF {
		err = &readError{err}
	}
	return n, err
}

// gunzipReader marks decompression errors (corrupt or cut-off data) as such.
type gunzipReader struct{ gz *gzip.Reader }

func (g *gunzipReader) Read(p []byte) (int, error) {
	n, err := g.gz.Read(p)
	if err != nil && err != io.EOF {
		var re *readError
		if !errors.As(err, &re) {
			err = &decodeError{err}
		}
	}
	return n, err
}

// limitReader fails with a LimitError once more than limit bytes pass.
type limitReader struct {
	r           io.Reader
	left, limit int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, &LimitError{Limit: l.limit}
	}
	// Read one byte more than allowed to tell "exactly at the limit" from
	// "over it".
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return 0, &LimitError{Limit: l.limit}
	}
	return n, err
}

// Gzip expansion bounds. Real NDJSON and CSV compress 5–20-fold; a gzip
// bomb expands a thousand-fold, and without a bound it costs CPU for every
// byte up to the size limit before it is refused.
const (
	// MaxGzipRatio is how many times its compressed size a gzip stream
	// may expand to.
	MaxGzipRatio = 100
	// gzipRatioSlack lets small, very repetitive files through.
	gzipRatioSlack = 1 << 20
)

// ratioReader fails with a ratioError once the decompressed bytes exceed
// MaxGzipRatio times the compressed bytes read so far, plus the slack.
type ratioReader struct {
	r          io.Reader
	compressed *countingReader
	n          int64
}

func (g *ratioReader) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	g.n += int64(n)
	// Saturating: MaxGzipRatio × a count bounded by the size limit cannot
	// overflow an int64, but the bound must hold for any reader.
	allowed := g.compressed.n
	if allowed < (1<<62)/MaxGzipRatio {
		allowed = allowed*MaxGzipRatio + gzipRatioSlack
	} else {
		allowed = 1 << 62
	}
	if g.n > allowed {
		return 0, &ratioError{}
	}
	return n, err
}

// ratioError is a gzip stream that expands more than MaxGzipRatio-fold.
type ratioError struct{}

func (e *ratioError) Error() string {
	return fmt.Sprintf("the gzip data expands more than %d-fold", MaxGzipRatio)
}
func (e *ratioError) Is(target error) bool { return target == ErrTooLarge }

// readError is a failure to read the caller's stream.
type readError struct{ err error }

func (e *readError) Error() string { return "read: " + e.err.Error() }
func (e *readError) Unwrap() error { return e.err }

// decodeError is gzip data that is corrupt or cut off.
type decodeError struct{ err error }

func (e *decodeError) Error() string { return "gunzip: " + e.err.Error() }
func (e *decodeError) Unwrap() error { return e.err }

// LimitError is a stream longer than the limit: Options.MaxBytes, or the
// bound the caller put on the stream it passes to Import (an HTTP body
// limit), which its reader reports with this error so that the import
// fails as too large.
type LimitError struct{ Limit int64 }

func (e *LimitError) Error() string        { return fmt.Sprintf("the stream exceeds %d bytes", e.Limit) }
func (e *LimitError) Is(target error) bool { return target == ErrTooLarge }

// streamError turns a failure of the stream into the error Import returns.
func streamError(err error) error {
	var le *LimitError
	var rte *ratioError
	var de *decodeError
	var re *readError
	var ae *apperr.Error
	switch {
	case errors.As(err, &le):
		return TooLarge(le.Limit)
	case errors.As(err, &rte):
		e := apperr.Invalid("body", "the gzip data expands more than %d-fold, which real files never do; nothing was imported", MaxGzipRatio)
		e.Extra = map[string]any{"maxRatio": MaxGzipRatio}
		return fmt.Errorf("%w: %w", e, ErrTooLarge)
	case errors.As(err, &de):
		return fmt.Errorf("%w: %w", apperr.Invalid("body", "the gzip data is corrupt or cut off (%v); nothing was imported", de.err), err)
	case errors.As(err, &ae):
		return err
	case errors.As(err, &re):
		return fmt.Errorf("%w: %w", apperr.Invalid("body", "reading the file failed (%v); nothing was imported", re.err), err)
	}
	return fmt.Errorf("read file: %w", err)
}

// TooLarge is the error of an import refused because the file exceeds limit
// bytes: BAD_USER_INPUT with ErrTooLarge in its chain.
func TooLarge(limit int64) error {
	e := apperr.Invalid("body", "the file exceeds the limit of %d bytes (after decompression); nothing was imported: split it into smaller files", limit)
	e.Extra = map[string]any{"maxBytes": limit}
	return fmt.Errorf("%w: %w", e, ErrTooLarge)
}
