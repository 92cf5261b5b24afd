package smtpd

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// bareLFPolicy is smtpd_forbid_bare_newline.
type bareLFPolicy int

const (
	// bareLFNormalize takes a line ending in a bare LF as if it ended in
	// CRLF, but only CRLF "." CRLF ends the message (Postfix 3.9 normalize;
	// also "yes" and "no" here, because tern never lets a bare LF end DATA).
	bareLFNormalize bareLFPolicy = iota
	// bareLFReject refuses the whole message when a line ends in a bare LF.
	bareLFReject
)

// dataResult says what readData found.
type dataResult struct {
	size   int64 // bytes of content as queued (LF line endings)
	tooBig bool  // more than the limit; the rest was read and dropped
	bareLF bool  // a line ended in a bare LF
}

// readData copies the content of a DATA command from br to w until the
// end-of-data line, RFC 5321 section 4.1.1.4: removes dot-stuffing
// (section 4.5.2) and ends lines with LF, as the queue stores them.
//
// Only the exact sequence CRLF "." CRLF ends the message. A line ending in
// a bare LF never ends it and "." after a bare LF or CR is content, so
// "\n.\n", "\n.\r\n", "\r.\r\n" and "\r\n.\r" can neither end a message
// early nor smuggle a second one past this server or one behind it. A bare
// CR is kept as data. Long lines stream through in pieces: memory does not
// grow with line length. Once more than limit bytes (limit > 0) have come,
// nothing more is written, but reading goes on to the end so the reply
// lands in sync. before is called before every read that may block (to
// set deadlines), with the number of bytes read so far.
func readData(br *bufio.Reader, w io.Writer, limit int64, before func(consumed int64)) (dataResult, error) {
	out := dataWriter{w: w, limit: limit, buf: make([]byte, 0, dataWriterSize)}
	var (
		atStart   = true // at the start of a line
		prevCRLF  = true // the previous line ended in CRLF (DATA's did)
		pendingCR bool   // a piece ended in CR, not yet written
		consumed  int64  // bytes read from br
	)
	for {
		piece, err := nextPiece(br, consumed, before)
		consumed += int64(len(piece))
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return out.end(), err
		}
		complete := err == nil
		if atStart && complete && prevCRLF && string(piece) == ".\r\n" {
			return out.end(), nil
		}
		if atStart && len(piece) > 0 && piece[0] == '.' {
			piece = piece[1:] // dot-stuffing: a leading dot is doubled
		}
		if pendingCR {
			pendingCR = false
			if complete && len(piece) == 1 { // the CR and this LF make CRLF
				out.line(nil)
				atStart, prevCRLF = true, true
				continue
			}
			out.write([]byte{'\r'})
		}
		if !complete {
			if n := len(piece); n > 0 && piece[n-1] == '\r' {
				piece, pendingCR = piece[:n-1], true
			}
			out.write(piece)
			atStart = false
			continue
		}
		n := len(piece)
		crlf := n >= 2 && piece[n-2] == '\r'
		if crlf {
			out.line(piece[:n-2])
		} else {
			out.res.bareLF = true
			out.line(piece[:n-1])
		}
		atStart, prevCRLF = true, crlf
	}
}

// nextPiece returns the next line of br, or the part of a long one that
// fills the buffer (with bufio.ErrBufferFull). before runs only ahead of a
// read that may block: a deadline per line cost a tenth of smtpd's CPU
// on 100 KB messages. A line already buffered is found with one scan, not
// one to see that it is there and another to read it.
func nextPiece(br *bufio.Reader, consumed int64, before func(consumed int64)) ([]byte, error) {
	if b, _ := br.Peek(br.Buffered()); len(b) > 0 {
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			_, _ = br.Discard(i + 1) // b stays valid until the next read
			return b[:i+1], nil
		}
	}
	before(consumed)
	return br.ReadSlice('\n')
}

// dataWriterSize is how much content dataWriter gathers per write to its
// sink: one write per 4 KB instead of two per line, which for typical
// 80-byte lines was most of smtpd's CPU per 100 KB message.
const dataWriterSize = 4096

// dataWriter gathers readData's output and counts it against the limit.
type dataWriter struct {
	w     io.Writer
	limit int64
	res   dataResult
	buf   []byte
}

// write adds p to the content.
func (d *dataWriter) write(p []byte) {
	if d.res.tooBig {
		return
	}
	d.res.size += int64(len(p))
	if d.limit > 0 && d.res.size > d.limit {
		d.res.tooBig = true
		return
	}
	if len(d.buf)+len(p) > cap(d.buf) {
		d.flush()
		if len(p) > cap(d.buf) {
			d.send(p)
			return
		}
	}
	d.buf = append(d.buf, p...)
}

// line adds p and a line ending to the content.
func (d *dataWriter) line(p []byte) {
	d.write(p)
	if d.res.tooBig {
		return
	}
	d.res.size++
	if d.limit > 0 && d.res.size > d.limit {
		d.res.tooBig = true
		return
	}
	if len(d.buf) == cap(d.buf) {
		d.flush()
	}
	d.buf = append(d.buf, '\n')
}

// flush writes what is gathered.
func (d *dataWriter) flush() {
	if len(d.buf) > 0 {
		d.send(d.buf)
		d.buf = d.buf[:0]
	}
}

// send writes p to the sink. After a failure the sink is not written
// again; reading goes on to the end (the caller learns of the failure
// from the sink), and tooBig is still reported by the count alone.
func (d *dataWriter) send(p []byte) {
	if _, err := d.w.Write(p); err != nil {
		d.w = io.Discard
	}
}

// end writes what is gathered and returns the result.
func (d *dataWriter) end() dataResult {
	if !d.res.tooBig {
		d.flush()
	}
	return d.res
}

// readLine reads one command line of at most limit bytes without its line
// ending. A longer line is read to its end and reported with tooLong; a
// line ending in a bare LF is reported with bareLF.
func readLine(br *bufio.Reader, limit int) (line string, tooLong, bareLF bool, err error) {
	var buf []byte
	for {
		piece, err := br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return "", false, false, err
		}
		if len(buf)+len(piece) > limit+2 {
			tooLong = true
		} else {
			buf = append(buf, piece...)
		}
		if err == nil {
			break
		}
	}
	if tooLong {
		return "", true, false, nil
	}
	n := len(buf)
	if n >= 2 && buf[n-2] == '\r' {
		return string(buf[:n-2]), false, false, nil
	}
	return string(buf[:n-1]), false, true, nil
}
