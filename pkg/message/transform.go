package message

import (
	"bufio"
	"fmt"
	"io"
)

// TransformOptions say what Transform does to a queued message on its way
// out (Postfix's smtp_generic_maps and smtp_*_checks).
type TransformOptions struct {
	// QueueID names the message in errors.
	QueueID string
	// RewriteHeader rewrites the addresses of a header field, as
	// CleanupOptions.RewriteHeader does; nil changes none.
	RewriteHeader func(name, value string) (string, bool, error)
	// Inspector applies content checks to header fields and, when it
	// wants, the body; nil checks nothing.
	Inspector Inspector
	// HeaderSizeLimit bounds the header held in memory (default 102400);
	// what follows the line that crosses it is copied unchanged.
	HeaderSizeLimit int
}

// Transform copies a message as the queue keeps it (LF line ends, the
// header ended by a blank line) from r to w, with the header rewritten
// and the content checks applied. Unlike Cleanup it adds no header of its
// own. A failed lookup of RewriteHeader is returned.
func Transform(r io.Reader, w io.Writer, opt TransformOptions) error {
	limit := opt.HeaderSizeLimit
	if limit <= 0 {
		limit = DefaultHeaderSizeLimit
	}
	br := bufio.NewReaderSize(r, cleanupReadBuffer)
	bw := bufio.NewWriterSize(w, cleanupReadBuffer)
	hb, err := readHeader(br, limit, false)
	if err != nil {
		return err
	}
	fields := hb.fields
	if opt.Inspector != nil {
		fields = inspectHeader(fields, opt.Inspector)
	}
	co := CleanupOptions{QueueID: opt.QueueID, RewriteHeader: opt.RewriteHeader, Inspector: opt.Inspector}
	if err := rewriteHeaders(fields, &co); err != nil {
		return err
	}
	lw := &lfWriter{w: bw}
	for _, f := range fields {
		lw.putString(f.text + "\n")
	}
	lw.putString("\n")
	if err := copyBody(lw, hb, br, &co, &mimeState{}, fields); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write message %s: %w", opt.QueueID, err)
	}
	return nil
}
