package smtpd

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"
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
			res, err := readData(br, &out, 0, func(int64) {})
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
	if _, err := readData(br, &out, 0, func(int64) {}); err != nil {
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
	res, err := readData(br, &out, 50, func(int64) {})
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
	_, err := readData(br, io.Discard, 0, func(int64) {})
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
		res, err := readData(br, &out, 1<<20, func(int64) {})
		if err == nil && !strings.Contains("\r\n"+in, "\r\n.\r\n") {
			t.Fatalf("ended without CRLF.CRLF: %q", in)
		}
		if res.size != int64(out.Len()) {
			t.Fatalf("size %d, wrote %d", res.size, out.Len())
		}
		rest, _ := io.ReadAll(br)
		// The same input stated over the whole of it at once.
		refContent, refRest, refBareLF, ended := readDataReference(in)
		if (err == nil) != ended {
			t.Fatalf("%q: error %v, reference says ended %v", in, err, ended)
		}
		if ended && (out.String() != refContent || string(rest) != refRest || res.bareLF != refBareLF) {
			t.Fatalf("%q: got %q rest %q bareLF %v; reference %q rest %q bareLF %v",
				in, out.String(), rest, res.bareLF, refContent, refRest, refBareLF)
		}
	})
}

// readDataReference is an independent statement of what readData does,
// over the whole input at once: lines end at LF (CRLF or a bare LF, which
// is reported), one leading dot is removed, and only "." CRLF after a
// line that ended in CRLF (or at the start) ends the data. It returns the
// content, what follows the end and whether there was an end.
func readDataReference(in string) (content, rest string, bareLF, ended bool) {
	var out strings.Builder
	prevCRLF := true
	for {
		i := strings.IndexByte(in, '\n')
		if i < 0 {
			return out.String(), "", bareLF, false
		}
		line := in[:i+1]
		in = in[i+1:]
		if prevCRLF && line == ".\r\n" {
			return out.String(), in, bareLF, true
		}
		line = strings.TrimPrefix(line, ".")
		if prevCRLF = strings.HasSuffix(line, "\r\n"); prevCRLF {
			out.WriteString(line[:len(line)-2])
		} else {
			out.WriteString(line[:len(line)-1])
			bareLF = true
		}
		out.WriteByte('\n')
	}
}

// TestReadDataRenewsDeadlineOnlyBeforeReads pins the cost found in
// profiling: the deadline was renewed for every line; it is needed only
// before a read that may block, when no whole line is buffered.
func TestReadDataRenewsDeadlineOnlyBeforeReads(t *testing.T) {
	body := strings.Repeat("a line of text\r\n", 1000) + ".\r\n"
	calls := 0
	br := bufio.NewReaderSize(strings.NewReader(body), 64<<10)
	if _, err := readData(br, io.Discard, 0, func(int64) { calls++ }); err != nil {
		t.Fatal(err)
	}
	if calls > 3 {
		t.Errorf("deadline renewed %d times for 1,001 buffered lines", calls)
	}
	// A client that sends a byte at a time gets a renewal before every
	// line, as before: the deadline never runs from an earlier line.
	// Each renewal learns how many bytes came before it, for
	// smtpd_min_data_rate.
	var consumed []int64
	br = bufio.NewReaderSize(iotest.OneByteReader(strings.NewReader("ab\r\n.\r\n")), 16)
	if _, err := readData(br, io.Discard, 0, func(n int64) { consumed = append(consumed, n) }); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(consumed, []int64{0, 4}) {
		t.Errorf("deadline renewed after %v bytes for 2 unbuffered lines, want [0 4]", consumed)
	}
}

// BenchmarkReadData reads a 100 KB message of 80-byte lines, the shape
// smtp-source sends, into a sink that copies as the queue connection does.
func BenchmarkReadData(b *testing.B) {
	msg := strings.Repeat(strings.Repeat("x", 78)+"\r\n", 1280) + ".\r\n"
	src := strings.NewReader(msg)
	br := bufio.NewReaderSize(src, 4096)
	sink := &copySink{buf: make([]byte, 0, 64<<10)}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(msg)
		br.Reset(src)
		sink.buf = sink.buf[:0]
		if _, err := readData(br, sink, 0, func(int64) {}); err != nil {
			b.Fatal(err)
		}
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
