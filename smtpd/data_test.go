package smtpd

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadData(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   string // content as queued
		rest   string // what follows the end of data
		bareLF bool
	}{
		{"simple", "a\r\nb\r\n.\r\nQUIT\r\n", "a\nb\n", "QUIT\r\n", false},
		{"empty", ".\r\n", "", "", false},
		{"dot stuffing", "..x\r\n..\r\n.\r\n", ".x\n.\n", "", false},
		{"bare CR kept", "a\rb\r\n.\r\n", "a\rb\n", "", false},
		// The smuggling sequences: none of these ends the message.
		{"LF.LF", "a\n.\nMAIL FROM:<x>\r\n.\r\n", "a\n\nMAIL FROM:<x>\n", "", true},
		{"LF.CRLF", "a\n.\r\nMAIL FROM:<x>\r\n.\r\n", "a\n\nMAIL FROM:<x>\n", "", true},
		{"CR.CRLF", "a\r.\r\nMAIL FROM:<x>\r\n.\r\n", "a\r.\nMAIL FROM:<x>\n", "", false},
		{"CRLF.CR", "a\r\n.\rMAIL FROM:<x>\r\n.\r\n", "a\n\rMAIL FROM:<x>\n", "", false},
		{"CRLF.LF", "a\r\n.\nb\r\n.\r\n", "a\n\nb\n", "", true},
		{"bare LF line", "a\nb\r\n.\r\n", "a\nb\n", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReaderSize(strings.NewReader(tt.in), 16)
			var out bytes.Buffer
			res, err := readData(br, &out, 0, func() {})
			if err != nil {
				t.Fatalf("readData: %v", err)
			}
			if out.String() != tt.want {
				t.Errorf("content %q, want %q", out.String(), tt.want)
			}
			rest, _ := io.ReadAll(br)
			if string(rest) != tt.rest {
				t.Errorf("rest %q, want %q", rest, tt.rest)
			}
			if res.bareLF != tt.bareLF {
				t.Errorf("bareLF %v, want %v", res.bareLF, tt.bareLF)
			}
			if res.size != int64(len(tt.want)) {
				t.Errorf("size %d, want %d", res.size, len(tt.want))
			}
		})
	}
}

// TestReadDataLongLines streams lines longer than the read buffer,
// including a CRLF split across two reads.
func TestReadDataLongLines(t *testing.T) {
	long := strings.Repeat("x", 15) // with CR, fills a 16-byte buffer exactly
	in := "." + long + "\r\n" + strings.Repeat("y", 100) + "\r\n.\r\n"
	br := bufio.NewReaderSize(strings.NewReader(in), 16)
	var out bytes.Buffer
	if _, err := readData(br, &out, 0, func() {}); err != nil {
		t.Fatal(err)
	}
	want := long + "\n" + strings.Repeat("y", 100) + "\n"
	if out.String() != want {
		t.Errorf("got %q, want %q", out.String(), want)
	}
}

func TestReadDataLimit(t *testing.T) {
	in := strings.Repeat("0123456789\r\n", 10) + ".\r\nNOOP\r\n"
	br := bufio.NewReader(strings.NewReader(in))
	var out bytes.Buffer
	res, err := readData(br, &out, 50, func() {})
	if err != nil {
		t.Fatal(err)
	}
	if !res.tooBig || out.Len() > 50 {
		t.Errorf("tooBig %v, wrote %d bytes", res.tooBig, out.Len())
	}
	if rest, _ := io.ReadAll(br); string(rest) != "NOOP\r\n" {
		t.Errorf("not in step after the limit: rest %q", rest)
	}
}

func TestReadDataHangUp(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("Subject: x\r\n\r\nhalf"))
	_, err := readData(br, io.Discard, 0, func() {})
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err %v, want unexpected EOF", err)
	}
}

func TestReadLine(t *testing.T) {
	tests := []struct {
		in            string
		line          string
		tooLong, bare bool
	}{
		{"HELO x\r\n", "HELO x", false, false},
		{"HELO x\n", "HELO x", false, true},
		{strings.Repeat("a", 600) + "\r\n", "", true, false},
		{"NOOP\r\r\n", "NOOP\r", false, false},
	}
	for _, tt := range tests {
		br := bufio.NewReaderSize(strings.NewReader(tt.in), 64)
		line, tooLong, bare, err := readLine(br, 512)
		if err != nil || line != tt.line || tooLong != tt.tooLong || bare != tt.bare {
			t.Errorf("readLine(%.20q) = %q %v %v %v", tt.in, line, tooLong, bare, err)
		}
	}
}

func FuzzReadData(f *testing.F) {
	for _, s := range []string{"a\r\n.\r\n", "a\n.\n.\r\n", "..\r\n\r.\r\n.\r\n", ".\r", "x\r"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		br := bufio.NewReaderSize(strings.NewReader(in), 16)
		var out bytes.Buffer
		res, err := readData(br, &out, 1<<20, func() {})
		if err == nil && !strings.Contains("\r\n"+in, "\r\n.\r\n") {
			t.Fatalf("ended without CRLF.CRLF: %q", in)
		}
		if res.size != int64(out.Len()) {
			t.Fatalf("size %d, wrote %d", res.size, out.Len())
		}
		rest, _ := io.ReadAll(br)
		// The same input through the line-by-line reference.
		refBr := bufio.NewReaderSize(strings.NewReader(in), 16)
		var refOut bytes.Buffer
		refRes, refErr := readDataReference(refBr, &refOut, 1<<20, func() {})
		refRest, _ := io.ReadAll(refBr)
		if res != refRes || (err == nil) != (refErr == nil) || out.String() != refOut.String() || string(rest) != string(refRest) {
			t.Fatalf("%q: got %+v %v %q rest %q; reference %+v %v %q rest %q",
				in, res, err, out.String(), rest, refRes, refErr, refOut.String(), refRest)
		}
	})
}

// readDataReference is readData as it was before its output was
// gathered into 4 KB writes: two writes per line. FuzzReadData checks that
// both read the same content, results and end of data.
func readDataReference(br *bufio.Reader, w io.Writer, limit int64, before func()) (dataResult, error) {
	var (
		res       dataResult
		atStart   = true // at the start of a line
		prevCRLF  = true // the previous line ended in CRLF (DATA's did)
		pendingCR bool   // a piece ended in CR, not yet written
	)
	write := func(p []byte) {
		if res.tooBig {
			return
		}
		res.size += int64(len(p))
		if limit > 0 && res.size > limit {
			res.tooBig = true
			return
		}
		if _, err := w.Write(p); err != nil {
			// The sink failed: keep reading to the end, report tooBig
			// no further; the caller learns of the failure from the sink.
			w = io.Discard
		}
	}
	for {
		// Renew the deadline only when the next line is not already
		// buffered, that is before the reads that may block: a deadline
		// per line cost a tenth of smtpd's CPU on 100 KB messages.
		if b, _ := br.Peek(br.Buffered()); bytes.IndexByte(b, '\n') < 0 {
			before()
		}
		piece, err := br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return res, err
		}
		complete := err == nil
		if atStart && complete && prevCRLF && string(piece) == ".\r\n" {
			return res, nil
		}
		if atStart && len(piece) > 0 && piece[0] == '.' {
			piece = piece[1:] // dot-stuffing: a leading dot is doubled
		}
		if pendingCR {
			pendingCR = false
			if complete && len(piece) == 1 { // the CR and this LF make CRLF
				write([]byte{'\n'})
				atStart, prevCRLF = true, true
				continue
			}
			write([]byte{'\r'})
		}
		if !complete {
			if n := len(piece); n > 0 && piece[n-1] == '\r' {
				piece, pendingCR = piece[:n-1], true
			}
			write(piece)
			atStart = false
			continue
		}
		n := len(piece)
		crlf := n >= 2 && piece[n-2] == '\r'
		if crlf {
			write(piece[:n-2])
		} else {
			res.bareLF = true
			write(piece[:n-1])
		}
		write([]byte{'\n'})
		atStart, prevCRLF = true, crlf
	}
}

// TestReadDataRenewsDeadlineOnlyBeforeReads pins the cost found in
// profiling: the deadline was renewed for every line; it is needed only
// before a read that may block, when no whole line is buffered.
func TestReadDataRenewsDeadlineOnlyBeforeReads(t *testing.T) {
	body := strings.Repeat("a line of text\r\n", 1000) + ".\r\n"
	calls := 0
	br := bufio.NewReaderSize(strings.NewReader(body), 64<<10)
	if _, err := readData(br, io.Discard, 0, func() { calls++ }); err != nil {
		t.Fatal(err)
	}
	if calls > 3 {
		t.Errorf("deadline renewed %d times for 1,001 buffered lines", calls)
	}
	// A client that sends a byte at a time gets a renewal before every
	// line, as before: the deadline never runs from an earlier line.
	calls = 0
	br = bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader("ab\r\n.\r\n")), 16)
	if _, err := readData(br, io.Discard, 0, func() { calls++ }); err != nil {
		t.Fatal(err)
	}
	if calls != 2 {
		t.Errorf("deadline renewed %d times for 2 unbuffered lines, want 2", calls)
	}
}

// BenchmarkReadData reads a 100 KB message of 80-byte lines, the shape
// smtp-source sends, into a sink that copies as the queue connection does.
func BenchmarkReadData(b *testing.B) {
	msg := strings.Repeat(strings.Repeat("x", 78)+"\r\n", 1280) + ".\r\n"
	for _, impl := range []struct {
		name string
		read func(*bufio.Reader, io.Writer, int64, func()) (dataResult, error)
	}{{"batched", readData}, {"per-line", readDataReference}} {
		b.Run(impl.name, func(b *testing.B) {
			src := strings.NewReader(msg)
			br := bufio.NewReaderSize(src, 4096)
			sink := &copySink{buf: make([]byte, 0, 64<<10)}
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				src.Reset(msg)
				br.Reset(src)
				sink.buf = sink.buf[:0]
				if _, err := impl.read(br, sink, 0, func() {}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// copySink copies what it is given, dropping it when its buffer is full.
type copySink struct{ buf []byte }

func (s *copySink) Write(p []byte) (int, error) {
	if len(s.buf)+len(p) > cap(s.buf) {
		s.buf = s.buf[:0]
	}
	s.buf = append(s.buf, p...)
	return len(p), nil
}
