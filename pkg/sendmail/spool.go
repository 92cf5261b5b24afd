package sendmail

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// spoolMemory is how much of a message is held in memory; the rest goes
// to an unlinked temporary file.
const spoolMemory = 1 << 20

// spool holds a message's content until it is complete, so that the
// pickup connection is only opened for a message that is ready to go.
type spool struct {
	dir  string // preferred directory for the temporary file
	mem  []byte
	file *os.File
	size int64
}

func newSpool(dir string) *spool { return &spool{dir: dir} }

// fill reads head and then the rest of in, refusing more than limit bytes
// (0: no limit).
func (sp *spool) fill(head []byte, in *lineReader, limit int64) error {
	if err := sp.add(head, limit); err != nil {
		return err
	}
	for {
		p, err := in.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return &submitError{code: ExDataErr, dsn: "5.6.0", text: fmt.Sprintf("error reading input: %v", err)}
		}
		if err := sp.add(p, limit); err != nil {
			return err
		}
	}
	if in.needDot && !in.sawDot {
		return &submitError{code: ExDataErr, dsn: "4.4.2", text: "lost connection during DATA"}
	}
	return nil
}

// add appends p.
func (sp *spool) add(p []byte, limit int64) error {
	sp.size += int64(len(p))
	if limit > 0 && sp.size > limit {
		return &submitError{code: ExUnavailable, dsn: "5.3.4", text: errTooBig}
	}
	if sp.file == nil && len(sp.mem)+len(p) <= spoolMemory {
		sp.mem = append(sp.mem, p...)
		return nil
	}
	if sp.file == nil {
		f, err := sp.create()
		if err != nil {
			return &submitError{code: ExTempFail, dsn: "4.3.0", text: err.Error()}
		}
		sp.file = f
	}
	if _, err := sp.file.Write(p); err != nil {
		return &submitError{code: ExTempFail, dsn: "4.3.0", text: fmt.Sprintf("write spool file: %v", err)}
	}
	return nil
}

// create makes the spill file, unlinked at once so that it never outlives
// the process; named tmp.* so that qmgr ignores it in maildrop.
func (sp *spool) create() (*os.File, error) {
	f, err := os.CreateTemp(sp.dir, "tmp.*")
	if err != nil {
		f, err = os.CreateTemp("", "tern-sendmail.*")
		if err != nil {
			return nil, fmt.Errorf("create spool file: %w", err)
		}
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, fmt.Errorf("unlink spool file: %w", err)
	}
	return f, nil
}

// writeTo copies the spooled message to w. Errors reading the spill file
// are *submitError; errors from w are returned as they are.
func (sp *spool) writeTo(w io.Writer) (int64, error) {
	n, err := w.Write(sp.mem)
	if err != nil || sp.file == nil {
		return int64(n), err
	}
	if _, err := sp.file.Seek(0, io.SeekStart); err != nil {
		return int64(n), &submitError{code: ExTempFail, dsn: "4.3.0", text: fmt.Sprintf("rewind spool file: %v", err)}
	}
	buf := make([]byte, 64<<10)
	total := int64(n)
	for {
		k, rerr := sp.file.Read(buf)
		if k > 0 {
			if _, err := w.Write(buf[:k]); err != nil {
				return total, err
			}
			total += int64(k)
		}
		if errors.Is(rerr, io.EOF) {
			return total, nil
		}
		if rerr != nil {
			return total, &submitError{code: ExTempFail, dsn: "4.3.0", text: fmt.Sprintf("read spool file: %v", rerr)}
		}
	}
}

// close releases the spill file.
func (sp *spool) close() {
	if sp.file != nil {
		sp.file.Close()
		sp.file = nil
	}
}
