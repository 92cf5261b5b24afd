package queue

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// spillBuffer is the write buffer of a draft's spill file.
const spillBuffer = 64 << 10

// Draft is message content being received. Up to the queue's InlineLimit
// it is held in memory; beyond that it is streamed to a temporary file in
// the content directory. A Draft is used by one goroutine; it ends with
// Commit or Abort.
type Draft struct {
	q    *Queue
	buf  []byte
	f    *os.File // spill file, once the content outgrew InlineLimit
	w    *bufio.Writer
	size int64
	err  error // first write error; the draft is unusable after it
	done bool  // committed or aborted
}

// NewDraft starts new content for Commit.
func (q *Queue) NewDraft() (*Draft, error) {
	q.mu.RLock()
	closed := q.closed
	q.mu.RUnlock()
	if closed {
		return nil, fmt.Errorf("new draft: %w", ErrClosed)
	}
	d := &Draft{q: q}
	if b, ok := q.draftBufs.Get().(*[]byte); ok {
		d.buf = (*b)[:0]
	}
	return d, nil
}

// recycle hands the inline buffer to later drafts. Commit calls it once
// the committer is done with the content; the draft holds no content
// afterwards.
func (d *Draft) recycle() {
	if cap(d.buf) == 0 {
		return
	}
	b := d.buf[:0]
	d.buf = nil
	d.q.draftBufs.Put(&b)
}

// errDraftDone is returned when a committed or aborted draft is used.
var errDraftDone = errors.New("draft already committed or aborted")

// Write appends p to the content.
func (d *Draft) Write(p []byte) (int, error) {
	if d.done {
		return 0, errDraftDone
	}
	if d.err != nil {
		return 0, d.err
	}
	if d.f == nil && d.size+int64(len(p)) <= d.q.opt.InlineLimit {
		d.buf = append(d.buf, p...)
		d.size += int64(len(p))
		return len(p), nil
	}
	if d.f == nil {
		if err := d.spill(); err != nil {
			d.err = err
			return 0, err
		}
	}
	n, err := d.w.Write(p)
	d.size += int64(n)
	if err != nil {
		d.err = fmt.Errorf("write queue content %s: %w", d.f.Name(), err)
		return n, d.err
	}
	return n, nil
}

// spill moves the buffered content to a new temporary file.
func (d *Draft) spill() error {
	f, err := os.CreateTemp(d.q.contentDir, "tmp-*")
	if err != nil {
		return fmt.Errorf("create queue content file: %w", err)
	}
	d.f, d.w = f, bufio.NewWriterSize(f, spillBuffer)
	if _, err := d.w.Write(d.buf); err != nil {
		return fmt.Errorf("write queue content %s: %w", f.Name(), err)
	}
	d.recycle() // copied into the file's buffer
	return nil
}

// Size returns the number of bytes written so far.
func (d *Draft) Size() int64 { return d.size }

// Abort discards the draft and its spill file. It is a no-op after
// Commit, an earlier Abort, or on a nil Draft.
func (d *Draft) Abort() error {
	if d == nil || d.done {
		return nil
	}
	d.done = true
	if d.f == nil {
		d.recycle()
		return nil
	}
	name := d.f.Name()
	_ = d.f.Close()
	if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove queue content %s: %w", name, err)
	}
	return nil
}

// finish ends the draft for message id. Inline content is returned; a
// spill file is flushed, fsynced and renamed to its final name, which is
// returned as path (the directory is fsynced by the committer). On error
// the spill file is removed.
func (d *Draft) finish(id string) (inline []byte, path string, err error) {
	if d.done {
		return nil, "", errDraftDone
	}
	if d.err != nil {
		_ = d.Abort()
		return nil, "", d.err
	}
	if d.f == nil {
		d.done = true
		return d.buf, "", nil
	}
	if err := d.seal(); err != nil {
		_ = d.Abort()
		return nil, "", err
	}
	path = filepath.Join(d.q.contentDir, id)
	if _, err := os.Lstat(path); err == nil {
		_ = d.Abort()
		return nil, "", fmt.Errorf("queue content %s: %w", path, ErrExists)
	}
	if err := os.Rename(d.f.Name(), path); err != nil {
		_ = d.Abort()
		return nil, "", fmt.Errorf("rename queue content to %s: %w", path, err)
	}
	d.done = true
	return nil, path, nil
}

// seal flushes, fsyncs and closes the spill file.
func (d *Draft) seal() error {
	name := d.f.Name()
	if err := d.w.Flush(); err != nil {
		return fmt.Errorf("write queue content %s: %w", name, err)
	}
	if !d.q.opt.NoSync {
		if err := d.f.Sync(); err != nil {
			return fmt.Errorf("sync queue content %s: %w", name, err)
		}
	}
	if err := d.f.Close(); err != nil {
		return fmt.Errorf("close queue content %s: %w", name, err)
	}
	return nil
}
