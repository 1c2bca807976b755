package evaluation

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/fengcheng/datahub/internal/access"
	"github.com/fengcheng/datahub/internal/apperr"
	"github.com/google/uuid"
)

// ExportOption tunes Export.
type ExportOption func(*exportOptions)

type exportOptions struct {
	progress func(done, total int64)
}

// WithProgress calls fn with the bytes written so far and the bytes to
// write (from the offset to the end), about every megabyte and once at the
// end.
func WithProgress(fn func(done, total int64)) ExportOption {
	return func(o *exportOptions) { o.progress = fn }
}

// progressEvery is how often progress is reported.
const progressEvery = 1 << 20

// Export writes a snapshot's rendering to w from byte offset on (0 for the
// whole file) and returns the bytes written. The content is exactly the
// bytes the manifest's checksum covers: an export resumed at the offset
// where an interrupted one stopped completes it byte for byte. Memory stays
// constant: rows are read in keyset batches and written as they arrive.
//
// Only principals who may read snapshots may export (UNAUTHENTICATED or
// FORBIDDEN otherwise); NOT_FOUND for an unknown snapshot; BAD_USER_INPUT
// for an offset beyond the end. A full export also verifies the content
// against the manifest checksum and fails if they differ.
func (s *Service) Export(ctx context.Context, id uuid.UUID, f Format, w io.Writer, offset int64, opts ...ExportOption) (int64, error) {
	var o exportOptions
	for _, opt := range opts {
		opt(&o)
	}
	d, err := s.snapshotAccess(ctx)
	if err != nil {
		return 0, err
	}
	m, err := s.store.Snapshot(ctx, id)
	if err != nil {
		return 0, err
	}
	if err := s.mayDownload(ctx, m); err != nil {
		return 0, err
	}
	if err := m.offers(f); err != nil {
		return 0, err
	}
	total := m.Rendering(f).Bytes
	if offset < 0 || offset > total {
		return 0, apperr.Invalid("offset", "offset %d lies outside the %d bytes of the %s file", offset, total, f)
	}
	if err := s.audited(ctx, d, m); err != nil {
		return 0, err
	}
	bw := bufio.NewWriterSize(w, 64<<10)
	n, err := s.stream(ctx, m, f, bw, offset, total, o)
	if err != nil {
		return n, err
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("export: write: %w", err)
	}
	return n, nil
}

// audited records an export before any byte leaves: a read that cannot be
// traced is refused. Every request is recorded, ranges too (a resumed
// download appears twice; a reader cannot dodge the trail with ranges).
//
// The record names the snapshot and, for an evaluator, its organisation
// and contract (in the purpose), so the trail says who assessed what under
// which contract.
func (s *Service) audited(ctx context.Context, d *access.Decision, m *Manifest) error {
	if s.audit == nil {
		return nil
	}
	dd := *d
	dd.Purpose = AuditPurpose(m)
	if err := s.audit.Read(ctx, &dd, int(m.Rows)); err != nil {
		return fmt.Errorf("audit export of snapshot %s: %w", m.ID, err)
	}
	return nil
}

// AuditPurpose is the purpose an audit record of a snapshot states: the
// snapshot, its dataset and, when made for an organisation, the
// organisation's code, name and contract.
func AuditPurpose(m *Manifest) string {
	p := "assessment snapshot " + m.ID.String() + " (" + m.Dataset + ")"
	if o := m.Organisation; o != nil {
		p += " for organisation " + o.Code + " (" + o.Name + "), contract " + o.ContractNo
	}
	return p
}

var errRangeDone = errors.New("range written")

// stream writes bytes [start, end) of a rendering to w.
//
// Byte offsets are deterministic because the stored lines are the exact
// bytes of the rendering: the CSV header (CSV only), then each row's line
// and "\n" in seq order. Checkpoints (every 1,000 rows) give the offset of a
// row, so a range starts at most 1,000 rows before its first byte and skips
// the bytes before it.
func (s *Service) stream(ctx context.Context, m *Manifest, f Format, w io.Writer, start, end int64, o exportOptions) (int64, error) {
	var (
		pos, written int64
		nextReport   = int64(progressEvery)
		h            hash.Hash
	)
	if start == 0 && end == m.Rendering(f).Bytes {
		h = sha256.New()
	}
	emit := func(b []byte) error {
		if h != nil {
			h.Write(b)
		}
		lo, hi := start-pos, end-pos
		pos += int64(len(b))
		if lo < 0 {
			lo = 0
		}
		if hi > int64(len(b)) {
			hi = int64(len(b))
		}
		if lo < hi {
			n, err := w.Write(b[lo:hi])
			written += int64(n)
			if err != nil {
				return fmt.Errorf("export: write: %w", err)
			}
			if o.progress != nil && written >= nextReport {
				o.progress(written, end-start)
				nextReport += progressEvery
			}
		}
		if pos >= end {
			return errRangeDone
		}
		return nil
	}
	if end <= start {
		return 0, nil
	}
	switch f {
	case FormatXLSX:
		return s.streamFile(ctx, m.ID, XLSXFile, f, emit, start, h, &written, &pos, m.Rendering(f).SHA256, o, end)
	case FormatParquet:
		return s.streamFile(ctx, m.ID, ParquetFileOf(m.Dataset), f, emit, start, h, &written, &pos, m.Rendering(f).SHA256, o, end)
	case FormatCSVBOM:
		if err := emit([]byte(BOM)); err != nil {
			return written, ignoreDone(err)
		}
	}
	lines := f
	if f == FormatCSVBOM {
		lines = FormatCSV
	}
	from := int64(1)
	if lines == FormatCSV {
		if err := emit([]byte(m.CSVHeader() + "\n")); err != nil {
			return written, ignoreDone(err)
		}
	}
	if h == nil && start > pos {
		// Checkpoints hold offsets in the rendering without the BOM.
		shift := pos - int64(len(m.CSVHeader())+1)
		if lines != FormatCSV {
			shift = 0
		}
		seq, at, err := s.store.Checkpoint(ctx, m.ID, lines, start-shift)
		if err != nil {
			return written, fmt.Errorf("export: checkpoint: %w", err)
		}
		if at+shift > pos {
			from, pos = seq, at+shift
		}
	}
	nl := []byte{'\n'}
	err := s.store.Lines(ctx, m.ID, lines, from, s.batch, func(line []byte) error {
		if err := emit(line); err != nil {
			return err
		}
		return emit(nl)
	})
	if err != nil && !errors.Is(err, errRangeDone) {
		return written, err
	}
	if pos < end {
		return written, fmt.Errorf("export: snapshot %s %s ends at byte %d, its manifest says %d", m.ID, f, pos, end)
	}
	if h != nil {
		if sum := hex.EncodeToString(h.Sum(nil)); sum != m.Rendering(f).SHA256 {
			return written, fmt.Errorf("export: snapshot %s %s content has SHA-256 %s, its manifest says %s", m.ID, f, sum, m.Rendering(f).SHA256)
		}
	}
	if o.progress != nil {
		o.progress(written, end-start)
	}
	return written, nil
}

// XLSXFile is the stored name of a snapshot's workbook.
const XLSXFile = "snapshot.xlsx"

// FileChunk is the size of the chunks stored files are kept in: a range
// starts reading at the chunk that holds its first byte.
const FileChunk = 1 << 20

// streamFile writes a stored file through emit, starting at the chunk that
// holds byte start, and checks a whole file against its checksum.
func (s *Service) streamFile(ctx context.Context, id uuid.UUID, name string, f Format, emit func([]byte) error, start int64,
	h hash.Hash, written, pos *int64, want string, o exportOptions, end int64) (int64, error) {
	first := start / FileChunk
	*pos = first * FileChunk
	err := s.store.File(ctx, id, name, first, emit)
	if err != nil && !errors.Is(err, errRangeDone) {
		return *written, err
	}
	if *pos < end {
		return *written, fmt.Errorf("export: snapshot %s %s ends at byte %d, its manifest says %d", id, f, *pos, end)
	}
	if h != nil {
		if sum := hex.EncodeToString(h.Sum(nil)); sum != want {
			return *written, fmt.Errorf("export: snapshot %s %s content has SHA-256 %s, its manifest says %s", id, f, sum, want)
		}
	}
	if o.progress != nil {
		o.progress(*written, end-start)
	}
	return *written, nil
}

func ignoreDone(err error) error {
	if errors.Is(err, errRangeDone) {
		return nil
	}
	return err
}

// Download is a snapshot rendering or table the caller may download:
// access is checked, the download not yet audited. The HTTP export
// (internal/server) serves it, with headers from the manifest and byte
// ranges written by WriteRange.
type Download struct {
	// Manifest describes the snapshot.
	Manifest *Manifest
	svc      *Service
	d        *access.Decision
	f        Format
}

// OpenDownload checks that the caller may download snapshot id in format f:
// UNAUTHENTICATED or FORBIDDEN for a caller who may not read snapshots or
// this one, NOT_FOUND for an unknown snapshot or a rendering it lacks.
func (s *Service) OpenDownload(ctx context.Context, id uuid.UUID, f Format) (*Download, error) {
	dl, err := s.openSnapshot(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := dl.Manifest.offers(f); err != nil {
		return nil, err
	}
	dl.f = f
	return dl, nil
}

func (s *Service) openSnapshot(ctx context.Context, id uuid.UUID) (*Download, error) {
	d, err := s.snapshotAccess(ctx)
	if err != nil {
		return nil, err
	}
	m, err := s.store.Snapshot(ctx, id)
	if err == nil {
		err = s.mayDownload(ctx, m)
	}
	if err != nil {
		return nil, err
	}
	return &Download{Manifest: m, svc: s, d: d}, nil
}

// Rendering returns the size and checksum of the download's rendering.
func (dl *Download) Rendering() Rendering { return dl.Manifest.Rendering(dl.f) }

// Audit records the download before any byte leaves (see audited).
func (dl *Download) Audit(ctx context.Context) error { return dl.svc.audited(ctx, dl.d, dl.Manifest) }

// WriteRange writes bytes [start, end) of the rendering to w and returns
// the bytes written. The whole rendering is checked against its checksum.
func (dl *Download) WriteRange(ctx context.Context, w io.Writer, start, end int64) (int64, error) {
	return dl.svc.stream(ctx, dl.Manifest, dl.f, w, start, end, exportOptions{})
}

// OpenTable checks that the caller may download a table frozen with
// snapshot id (a dimension table or the dictionary) as file table.ext, with
// a byte order mark first when bom (CSV, for Excel), and returns the
// download, the file's content and its rendering. Errors are those of
// OpenDownload, and NOT_FOUND for a table the snapshot lacks. Tables are
// small: the content is read whole and checked against the manifest.
func (s *Service) OpenTable(ctx context.Context, id uuid.UUID, table, ext string, bom bool) (*Download, []byte, Rendering, error) {
	dl, err := s.openSnapshot(ctx, id)
	if err != nil {
		return nil, nil, Rendering{}, err
	}
	t, ok := dl.Manifest.Table(table)
	if !ok {
		return nil, nil, Rendering{}, apperr.New(apperr.NotFound, "snapshot %s has no table %q", id, table)
	}
	key := table + "." + ext
	var body []byte
	if ext == "csv" && bom {
		key += "?bom=1"
		body = []byte(BOM)
	}
	rend := t.Files[key]
	err = s.store.File(ctx, id, table+"."+ext, 0, func(b []byte) error { body = append(body, b...); return nil })
	if err != nil {
		return nil, nil, Rendering{}, err
	}
	if got := renderingOf(body); got != rend {
		return nil, nil, Rendering{}, fmt.Errorf("snapshot %s table %s: content %+v, manifest %+v", id, key, got, rend)
	}
	return dl, body, rend, nil
}

// offers returns NOT_FOUND for a binary rendering the snapshot lacks.
func (m *Manifest) offers(f Format) error {
	switch {
	case f == FormatXLSX && m.XLSX == nil:
		return apperr.New(apperr.NotFound, "snapshot %s has no workbook (too many rows for Excel, or made before workbooks): use csv", m.ID)
	case f == FormatCSVBOM && m.CSVBOM.SHA256 == "":
		return apperr.New(apperr.NotFound, "snapshot %s was made before CSV with BOM: use csv", m.ID)
	case f == FormatParquet && m.Parquet == nil:
		return apperr.New(apperr.NotFound, "snapshot %s was made before Parquet files: use csv", m.ID)
	}
	return nil
}
