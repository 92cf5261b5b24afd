package message

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

var testNow = time.Date(2026, 11, 23, 15, 51, 54, 0, time.UTC)

func smtpOpts() CleanupOptions {
	return CleanupOptions{
		QueueID: "4Xk2abc", MyHostname: "mail.example.com", MyOrigin: "example.com",
		Now: testNow, Sender: "alice@remote.example",
		ClientName: "client.remote.example", ClientAddr: "192.0.2.7", Helo: "helo.remote.example",
		Protocol: "ESMTP", Recipient: "bob@example.com",
	}
}

func localOpts() CleanupOptions {
	return CleanupOptions{
		QueueID: "4Xk2abc", MyHostname: "mail.example.com", MyOrigin: "example.com",
		Now: testNow, Local: true, SubmitUser: "bob", SubmitUID: 1000, Sender: "bob@example.com",
	}
}

const (
	rcvdSMTP = "Received: from helo.remote.example (client.remote.example [192.0.2.7])\n" +
		"\tby mail.example.com (tern) with ESMTP id 4Xk2abc\n" +
		"\tfor <bob@example.com>; Mon, 23 Nov 2026 15:51:54 +0000 (UTC)\n"
	rcvdLocal = "Received: by mail.example.com (tern, from userid 1000)\n" +
		"\tid 4Xk2abc; Mon, 23 Nov 2026 15:51:54 +0000 (UTC)\n"
	addedID   = "Message-Id: <20261123155154.4Xk2abc@mail.example.com>\n"
	addedDate = "Date: Mon, 23 Nov 2026 15:51:54 +0000 (UTC)\n"
	fullHdr   = "From: a@b\nMessage-ID: <x@y>\nDate: Sun, 1 Nov 2026 00:00:00 +0000\n"
)

func TestCleanup(t *testing.T) {
	tests := []struct {
		name string
		opt  func(*CleanupOptions)
		in   string
		want string
		res  Result // Size is checked against len(want)
	}{
		{
			name: "smtp complete headers CRLF",
			in:   strings.ReplaceAll(fullHdr+"Subject: hi\n\nbody\n.line\n", "\n", "\r\n"),
			want: rcvdSMTP + fullHdr + "Subject: hi\n\nbody\n.line\n",
			res:  Result{Hops: 1, MessageID: "<x@y>"},
		},
		{
			name: "smtp missing id and date, no from added",
			in:   "Subject: hi\n\nbody\n",
			want: rcvdSMTP + "Subject: hi\n" + addedID + addedDate + "\nbody\n",
			res:  Result{Hops: 1, MessageID: "<20261123155154.4Xk2abc@mail.example.com>"},
		},
		{
			name: "smtp no missing headers option, no for",
			opt:  func(o *CleanupOptions) { o.NoMissingHeaders = true; o.Recipient = "" },
			in:   "Subject: hi\n\nbody\n",
			want: strings.Replace(rcvdSMTP, "\n\tfor <bob@example.com>", "", 1) + "Subject: hi\n\nbody\n",
			res:  Result{Hops: 1},
		},
		{
			name: "smtp ipv6 no helo",
			opt: func(o *CleanupOptions) {
				o.ClientAddr, o.Helo, o.ClientName, o.Protocol = "2001:db8::1", "", "", "ESMTPSA"
			},
			in: fullHdr + "\nx\n",
			want: "Received: from unknown (unknown [IPv6:2001:db8::1])\n" +
				"\tby mail.example.com (tern) with ESMTPSA id 4Xk2abc\n" +
				"\tfor <bob@example.com>; Mon, 23 Nov 2026 15:51:54 +0000 (UTC)\n" + fullHdr + "\nx\n",
			res: Result{Hops: 1, MessageID: "<x@y>"},
		},
		{
			name: "local adds from with full name",
			opt:  func(o *CleanupOptions) { o.FullName = "Bob Builder" },
			in:   "Subject: hi\n\nbody\n",
			want: rcvdLocal + "Subject: hi\n" + addedID + addedDate + "From: Bob Builder <bob@example.com>\n\nbody\n",
			res:  Result{Hops: 1, MessageID: "<20261123155154.4Xk2abc@mail.example.com>"},
		},
		{
			// header_from_format = obsolete
			name: "local adds obsolete-form from",
			opt:  func(o *CleanupOptions) { o.FullName, o.ObsoleteFrom = "Bob (the) Builder", true },
			in:   "Subject: hi\n\nbody\n",
			want: rcvdLocal + "Subject: hi\n" + addedID + addedDate + "From: bob@example.com (Bob \\(the\\) Builder)\n\nbody\n",
			res:  Result{Hops: 1, MessageID: "<20261123155154.4Xk2abc@mail.example.com>"},
		},
		{
			name: "local gecos name with ampersand and specials",
			opt:  func(o *CleanupOptions) { o.GecosName = "Jo & Smith (ops),Room 1,555" },
			in:   fullHdr[len("From: a@b\n"):] + "\nb\n",
			want: rcvdLocal + fullHdr[len("From: a@b\n"):] + "From: \"Jo Bob Smith (ops)\" <bob@example.com>\n\nb\n",
			res:  Result{Hops: 1, MessageID: "<x@y>"},
		},
		{
			name: "local no name, unqualified sender, mbox From line dropped",
			opt:  func(o *CleanupOptions) { o.Sender = "bob" },
			in:   "From bob Mon Nov 23 15:51:54 2026\nMessage-ID: <x@y>\nDate: d\n\nb\n",
			want: rcvdLocal + "Message-ID: <x@y>\nDate: d\nFrom: bob@example.com\n\nb\n",
			res:  Result{Hops: 1, MessageID: "<x@y>"},
		},
		{
			name: "local null sender with name gives MAILER-DAEMON",
			opt:  func(o *CleanupOptions) { o.Sender, o.FullName = "", "X" },
			in:   "Message-ID: <x@y>\nDate: d\n\nb\n",
			want: rcvdLocal + "Message-ID: <x@y>\nDate: d\nFrom: MAILER-DAEMON@example.com\n\nb\n",
			res:  Result{Hops: 1, MessageID: "<x@y>"},
		},
		{
			name: "local header injection in full name",
			opt:  func(o *CleanupOptions) { o.FullName = "Eve\nBcc: victim@x" },
			in:   "Message-ID: <x@y>\nDate: d\n\nb\n",
			want: rcvdLocal + "Message-ID: <x@y>\nDate: d\nFrom: \"Eve Bcc: victim@x\" <bob@example.com>\n\nb\n",
			res:  Result{Hops: 1, MessageID: "<x@y>"},
		},
		{
			name: "local non-ascii name encoded",
			opt:  func(o *CleanupOptions) { o.FullName = "Jörg" },
			in:   "Message-ID: <x@y>\nDate: d\n\nb\n",
			want: rcvdLocal + "Message-ID: <x@y>\nDate: d\nFrom: =?utf-8?q?J=C3=B6rg?= <bob@example.com>\n\nb\n",
			res:  Result{Hops: 1, MessageID: "<x@y>"},
		},
		{
			name: "resent headers",
			in:   fullHdr + "To: old@x\nResent-To: new@x\nResent-Bcc: hidden@x\nBcc: oldbcc@x\n\nb\n",
			want: rcvdLocal + fullHdr + "To: old@x\nResent-To: new@x\n" +
				"Resent-Message-Id: <20261123155154.4Xk2abc@mail.example.com>\n" +
				"Resent-Date: Mon, 23 Nov 2026 15:51:54 +0000 (UTC)\nResent-From: bob@example.com\n\nb\n",
			res: Result{Hops: 1, MessageID: "<x@y>",
				ResentMessageID: "<20261123155154.4Xk2abc@mail.example.com>"},
		},
		{
			// message_drop_headers was an unknown name: the dropped set was
			// fixed. An empty setting keeps Bcc; a list drops its names.
			name: "message_drop_headers empty keeps bcc",
			opt:  func(o *CleanupOptions) { o.DropHeaders = map[string]bool{} },
			in:   fullHdr + "Bcc: kept@x\nContent-Length: 3\nReturn-Path: <kept@x>\n\nb\n",
			want: rcvdSMTP + fullHdr + "Bcc: kept@x\nContent-Length: 3\nReturn-Path: <kept@x>\n\nb\n",
			res:  Result{Hops: 1, MessageID: "<x@y>"},
		},
		{
			name: "message_drop_headers names",
			opt:  func(o *CleanupOptions) { o.DropHeaders = map[string]bool{"x-internal": true} },
			in:   fullHdr + "Bcc: kept@x\nX-Internal: secret\n\nb\n",
			want: rcvdSMTP + fullHdr + "Bcc: kept@x\n\nb\n",
			res:  Result{Hops: 1, MessageID: "<x@y>"},
		},
		{
			name: "no body and no separator",
			in:   fullHdr + "Subject: x",
			want: rcvdSMTP + fullHdr + "Subject: x\n\n",
			res:  Result{Hops: 1, MessageID: "<x@y>"},
		},
		{
			name: "no headers",
			in:   "hello world\r\nsecond: line\r\n",
			want: rcvdSMTP + addedID + addedDate + "\nhello world\nsecond: line\n",
			res:  Result{Hops: 1, MessageID: "<20261123155154.4Xk2abc@mail.example.com>"},
		},
		{
			name: "empty input",
			opt:  func(o *CleanupOptions) { o.NoMissingHeaders = true },
			in:   "",
			want: rcvdSMTP + "\n",
			res:  Result{Hops: 1},
		},
		{
			name: "header ends at non-header line",
			in:   fullHdr + "this is body\nmore\n",
			want: rcvdSMTP + fullHdr + "\nthis is body\nmore\n",
			res:  Result{Hops: 1, MessageID: "<x@y>"},
		},
		{
			name: "continuation first is body",
			in:   " indented\n",
			opt:  func(o *CleanupOptions) { o.NoMissingHeaders = true },
			want: rcvdSMTP + "\n indented\n",
			res:  Result{Hops: 1},
		},
		{
			name: "folded headers, spaced colon, last line without newline, bare CR",
			in:   fullHdr + "Subject : a\r\n\tb\r\n  c\r\nX-A: 1\r\n\r\nline\rwith CR\r\nlast",
			want: rcvdSMTP + fullHdr + "Subject : a\n\tb\n  c\nX-A: 1\n\nline\rwith CR\nlast\n",
			res:  Result{Hops: 1, MessageID: "<x@y>"},
		},
		{
			name: "stray CRs replaced in header and body",
			opt:  func(o *CleanupOptions) { o.ReplaceStrayCR = true },
			in:   fullHdr + "X-A: 1\r2\r\n\r\nsmuggle\r.\r\nMAIL FROM:<x@y>\r\nlast\r",
			want: rcvdSMTP + fullHdr + "X-A: 1 2\n\nsmuggle .\nMAIL FROM:<x@y>\nlast\n",
			res:  Result{Hops: 1, MessageID: "<x@y>"},
		},
		{
			name: "hops, delivered-to, content-length",
			opt:  func(o *CleanupOptions) { o.HopcountLimit = 4 },
			in: "Received: from a\n\tby b\nreceived: x\nRECEIVED: y\nDelivered-To: Bob@Example.COM\n" +
				"Content-Length: 99\n Continued\nDelivered-To:  <x@y>\n" + fullHdr + "\nb\n",
			want: rcvdSMTP + "Received: from a\n\tby b\nreceived: x\nRECEIVED: y\nDelivered-To: Bob@Example.COM\n" +
				"Delivered-To:  <x@y>\n" + fullHdr + "\nb\n",
			res: Result{Hops: 4, TooManyHops: true, MessageID: "<x@y>",
				DeliveredTo: []string{"bob@example.com", "<x@y>"}},
		},
		{
			name: "header of exactly the size limit",
			opt:  func(o *CleanupOptions) { o.HeaderSizeLimit = 14; o.NoMissingHeaders = true },
			in:   "Subject: one\r\n\r\nbody\n",
			want: rcvdSMTP + "Subject: one\n\nbody\n",
			res:  Result{Hops: 1},
		},
		{
			name: "header size limit moves the rest to the body",
			opt:  func(o *CleanupOptions) { o.HeaderSizeLimit = 60; o.NoMissingHeaders = true },
			in:   "Subject: one\nX-Long: " + strings.Repeat("z", 80) + "\nX-After: 1\n\nbody\n",
			want: rcvdSMTP + "Subject: one\n\nX-Long: " + strings.Repeat("z", 80) + "\nX-After: 1\n\nbody\n",
			res:  Result{Hops: 1},
		},
	}
	// Every case runs with fresh buffers and with buffers that all the
	// cases share, so that each reuses what the one before left behind.
	var shared Buffers
	for _, tt := range tests {
		for _, bufs := range []*Buffers{nil, &shared} {
			t.Run(fmt.Sprintf("%s/shared buffers %v", tt.name, bufs != nil), func(t *testing.T) {
				runCleanupCase(t, tt.name, tt.opt, bufs, tt.in, tt.want, tt.res)
			})
		}
	}
}

// runCleanupCase runs one TestCleanup case.
func runCleanupCase(t *testing.T, name string, setOpt func(*CleanupOptions), bufs *Buffers, in, want string, wantRes Result) {
	t.Helper()
	opt := smtpOpts()
	if strings.HasPrefix(name, "local") || strings.HasPrefix(name, "resent") {
		opt = localOpts()
	}
	if setOpt != nil {
		setOpt(&opt)
	}
	opt.Buffers = bufs
	var out bytes.Buffer
	res, err := Cleanup(strings.NewReader(in), &out, opt)
	if err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if out.String() != want {
		t.Errorf("output:\n%q\nwant:\n%q", out.String(), want)
	}
	wantRes.Size = int64(len(want))
	if !reflect.DeepEqual(res, wantRes) {
		t.Errorf("result %+v, want %+v", res, wantRes)
	}
}

// bodyReader produces a message with a header and size bytes of CRLF body
// lines on the fly, and counts what was read.
type bodyReader struct {
	hdr  string
	size int
	read int
}

func (r *bodyReader) Read(p []byte) (int, error) {
	total := len(r.hdr) + r.size
	if r.read >= total {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.read < total {
		if r.read < len(r.hdr) {
			p[n] = r.hdr[r.read]
		} else {
			i := (r.read - len(r.hdr)) % 64
			switch i {
			case 62:
				p[n] = '\r'
			case 63:
				p[n] = '\n'
			default:
				p[n] = 'a' + byte(i%26)
			}
		}
		n++
		r.read++
	}
	return n, nil
}

// watchWriter records how much of the input had been read when output
// first arrived, and counts bytes and LF-only line endings.
type watchWriter struct {
	src       *bodyReader
	firstRead int
	n         int
	crs       int
}

func (w *watchWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		w.firstRead = w.src.read
	}
	w.n += len(p)
	w.crs += bytes.Count(p, []byte("\r"))
	return len(p), nil
}

func TestCleanupStreamsBody(t *testing.T) {
	const size = 5 << 20 // a multiple of 64
	src := &bodyReader{hdr: fullHdr + "Subject: big\r\n\r\n", size: size}
	dst := &watchWriter{src: src}
	res, err := Cleanup(src, dst, smtpOpts())
	if err != nil {
		t.Fatalf("Cleanup: %v", err)
	}
	if src.read != len(src.hdr)+size {
		t.Fatalf("read %d bytes, want %d", src.read, len(src.hdr)+size)
	}
	if dst.firstRead > 1<<20 {
		t.Errorf("first output after %d input bytes: body was buffered", dst.firstRead)
	}
	want := len(rcvdSMTP) + len(fullHdr) + len("Subject: big\n\n") + size/64*63
	if dst.n != want || res.Size != int64(want) {
		t.Errorf("wrote %d (Size %d), want %d", dst.n, res.Size, want)
	}
	if dst.crs != 0 {
		t.Errorf("%d CRs left in output", dst.crs)
	}
}

func TestLFWriterSplitCRLF(t *testing.T) {
	// Every split of the input into two chunks gives the same output;
	// with replaceCR (cleanup_replace_stray_cr_lf) each stray CR is a
	// space, wherever the split falls.
	in := "a\r\nb\rc\r\n\r\r\nd\r.\r\re\r"
	for _, tc := range []struct {
		replaceCR bool
		want      string
	}{
		{false, "a\nb\rc\n\r\nd\r.\r\re\n"},
		{true, "a\nb c\n \nd .  e\n"},
	} {
		for i := 0; i <= len(in); i++ {
			var out bytes.Buffer
			bw := bufioWriter(&out)
			c := &lfWriter{w: bw, replaceCR: tc.replaceCR}
			c.write([]byte(in[:i]))
			c.write([]byte(in[i:]))
			c.finish()
			if err := bw.Flush(); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want || c.n != int64(len(tc.want)) {
				t.Errorf("replaceCR %v, split %d: %q (n=%d), want %q", tc.replaceCR, i, out.String(), c.n, tc.want)
			}
		}
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

type failReader struct{ data string }

func (r *failReader) Read(p []byte) (int, error) {
	if r.data == "" {
		return 0, io.ErrUnexpectedEOF
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestCleanupErrors(t *testing.T) {
	if _, err := Cleanup(strings.NewReader("Subject: x\n\nb\n"), failWriter{}, smtpOpts()); err == nil {
		t.Error("write error not reported")
	}
	for _, in := range []string{"Subject: x\n", "Subject: x\n\nbody"} {
		if _, err := Cleanup(&failReader{data: in}, io.Discard, smtpOpts()); err == nil {
			t.Errorf("read error after %q not reported", in)
		}
	}
}

func TestFormatDate(t *testing.T) {
	est := time.FixedZone("EST", -5*3600)
	noAbbr := time.FixedZone("", 5*3600+1800)
	tests := []struct {
		t    time.Time
		want string
	}{
		{testNow, "Mon, 23 Nov 2026 15:51:54 +0000 (UTC)"},
		{time.Date(2026, 1, 3, 9, 4, 5, 0, est), "Sat,  3 Jan 2026 09:04:05 -0500 (EST)"},
		{time.Date(2026, 1, 3, 9, 4, 5, 0, noAbbr), "Sat,  3 Jan 2026 09:04:05 +0530"},
	}
	for _, tt := range tests {
		if got := FormatDate(tt.t); got != tt.want {
			t.Errorf("FormatDate = %q, want %q", got, tt.want)
		}
	}
}

func FuzzCleanup(f *testing.F) {
	for _, s := range []string{"", "Subject: x\n\nb", "From x\r\nTo: a@b\r\n b\r\n\r\nbody\r", "x\ry\r\n", " a\n", "\r\r", "\x00"} {
		f.Add(s, false, 0)
		f.Add(s, true, 20)
	}
	f.Fuzz(func(t *testing.T, in string, local bool, limit int) {
		opt := smtpOpts()
		opt.Local = local
		opt.HeaderSizeLimit = limit % 4096
		var out bytes.Buffer
		res, err := Cleanup(strings.NewReader(in), &out, opt)
		if err != nil {
			t.Fatalf("Cleanup: %v", err)
		}
		s := out.String()
		if res.Size != int64(len(s)) {
			t.Fatalf("Size %d, wrote %d", res.Size, len(s))
		}
		if strings.Contains(s, "\r\n") && !strings.Contains(in, "\r\r") {
			t.Fatalf("CRLF left in output %q", s)
		}
		if !strings.HasPrefix(s, "Received: ") || !strings.Contains(s, "\n\n") || !strings.HasSuffix(s, "\n") {
			t.Fatalf("malformed output %q", s)
		}
		if header, _, _ := strings.Cut(s, "\n\n"); res.UTF8Header != Has8BitString(header) {
			t.Fatalf("UTF8Header %v for the header %q", res.UTF8Header, header)
		}
		// Read a byte at a time, every CR and LF meets a buffer edge.
		var slow bytes.Buffer
		slowRes, err := Cleanup(iotest.OneByteReader(strings.NewReader(in)), &slow, opt)
		if err != nil || !reflect.DeepEqual(slowRes, res) || slow.String() != s {
			t.Fatalf("read a byte at a time: %v %+v %q; at once %+v %q", err, slowRes, slow.String(), res, s)
		}
	})
}

func bufioWriter(w io.Writer) *bufio.Writer { return bufio.NewWriter(w) }

// TestCleanupRemovesBccWithoutExtract pins the bug where Bcc headers of
// mail submitted without -t were kept, unlike Postfix's cleanup(8).
func TestCleanupRemovesBccWithoutExtract(t *testing.T) {
	in := "From: a@example.com\nBcc: hidden@example.com\nResent-Bcc: h2@example.com\nReturn-Path: <forged@example.com>\nContent-Length: 3\nSubject: s\n\nbody\n"
	var out strings.Builder
	if _, err := Cleanup(strings.NewReader(in), &out, CleanupOptions{QueueID: "Q", MyHostname: "h", MyOrigin: "o", Local: true}); err != nil {
		t.Fatal(err)
	}
	for _, gone := range []string{"Bcc:", "hidden@", "Return-Path:", "Content-Length:"} {
		if strings.Contains(out.String(), gone) {
			t.Errorf("output keeps %q:\n%s", gone, out.String())
		}
	}
	if !strings.Contains(out.String(), "Subject: s\n") || !strings.HasSuffix(out.String(), "\nbody\n") {
		t.Errorf("output lost content:\n%s", out.String())
	}
}

func TestCleanupRewritesHeaders(t *testing.T) {
	in := "From: Joe <joe@old.example>\nTo: a@x.example,\n  b@y.example\nSubject: s\n\nbody\n"
	opt := CleanupOptions{QueueID: "Q1", MyHostname: "mx.example", Now: time.Unix(0, 0),
		RewriteHeader: func(name, value string) (string, bool, error) {
			if name != "From" {
				return value, false, nil
			}
			return strings.ReplaceAll(value, "old.example", "new.example"), true, nil
		}}
	var out strings.Builder
	if _, err := Cleanup(strings.NewReader(in), &out, opt); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\nFrom: Joe <joe@new.example>\n") {
		t.Errorf("From not rewritten:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "\nTo: a@x.example,\n  b@y.example\n") {
		t.Errorf("an unchanged field lost its folding:\n%s", out.String())
	}
	opt.RewriteHeader = func(string, string) (string, bool, error) { return "", false, errors.New("table down") }
	if _, err := Cleanup(strings.NewReader(in), &out, opt); err == nil {
		t.Error("a rewrite error did not fail cleanup")
	}
}

func TestCleanupDetectsEightBit(t *testing.T) {
	tests := []struct {
		name, in         string
		want, wantHeader bool
	}{
		{"ascii", "Subject: plain\n\nhello\n", false, false},
		{"8-bit body", "Subject: x\n\nGr\xc3\xbc\xc3\x9fe\n", true, false},
		{"8-bit header", "Subject: K\xc3\xb6ln\n\nbody\n", true, true},
		{"8-bit folded header", "Subject: x\n \xc3\xb6\n\nbody\n", true, true},
		{"8-bit in a removed header", "Bcc: j\xc3\xb6rg@example.tst\nSubject: x\n\nbody\n", false, false},
		{"8-bit in a long body line", "Subject: x\n\n" + strings.Repeat("a", 100000) + "\xe9\n", true, false},
	}
	for _, tt := range tests {
		var out strings.Builder
		res, err := Cleanup(strings.NewReader(tt.in), &out, CleanupOptions{QueueID: "Q", MyHostname: "h", Now: time.Unix(0, 0)})
		if err != nil {
			t.Fatal(err)
		}
		if res.EightBit != tt.want {
			t.Errorf("%s: EightBit = %v, want %v", tt.name, res.EightBit, tt.want)
		}
		if res.UTF8Header != tt.wantHeader {
			t.Errorf("%s: UTF8Header = %v, want %v", tt.name, res.UTF8Header, tt.wantHeader)
		}
	}
}

func TestReceivedAuthenticatedSender(t *testing.T) {
	opt := CleanupOptions{QueueID: "Q1", MyHostname: "mx.example", Now: time.Unix(0, 0).UTC(),
		ClientName: "client.example", ClientAddr: "192.0.2.7", Helo: "laptop", Protocol: "ESMTPSA",
		TLS: "TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits)", AuthenticatedSender: "alice"}
	var out strings.Builder
	if _, err := Cleanup(strings.NewReader("Subject: x\n\nbody\n"), &out, opt); err != nil {
		t.Fatal(err)
	}
	want := "Received: from laptop (client.example [192.0.2.7])\n\t(using TLSv1.3 with cipher TLS_AES_128_GCM_SHA256 (128/128 bits))\n\t(Authenticated sender: alice)\n\tby mx.example (tern) with ESMTPSA id Q1;"
	if !strings.HasPrefix(out.String(), want) {
		t.Errorf("Received header:\n%s\nwant prefix:\n%s", out.String(), want)
	}
}

func TestHas8Bit(t *testing.T) {
	for n := 0; n < 40; n++ {
		ascii := []byte(strings.Repeat("a", n))
		if Has8Bit(ascii) {
			t.Fatalf("%d ASCII bytes reported as 8-bit", n)
		}
		for i := 0; i < n; i++ {
			b := append([]byte(nil), ascii...)
			b[i] = 0x80
			if !Has8Bit(b) {
				t.Fatalf("high bit at %d of %d missed", i, n)
			}
		}
	}
}

func BenchmarkHas8Bit(b *testing.B) {
	buf := []byte(strings.Repeat("plain ASCII text line\n", 5000))
	b.SetBytes(int64(len(buf)))
	for b.Loop() {
		if Has8Bit(buf) {
			b.Fatal("8-bit")
		}
	}
}

// TestCleanupPrepend: PREPEND header lines go above the Received header,
// in order; a line with a line break is dropped.
func TestCleanupPrepend(t *testing.T) {
	opt := smtpOpts()
	opt.Prepend = []string{"X-Greylist: delayed 3 seconds", "X-Bad: a\r\nInjected: b", "X-Tag: second"}
	var out bytes.Buffer
	if _, err := Cleanup(strings.NewReader("Subject: x\n\nbody\n"), &out, opt); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	if !strings.HasPrefix(s, "X-Greylist: delayed 3 seconds\nX-Tag: second\nReceived: from ") || strings.Contains(s, "Injected") {
		t.Errorf("output:\n%s", s)
	}
}

// TestCleanupUndisclosedRecipients: undisclosed_recipients_header was an
// unknown name. Its line is added with the other missing headers to a
// message that has neither To: nor Cc: (the Resent- forms for a resent
// message), and only when missing headers are added at all.
func TestCleanupUndisclosedRecipients(t *testing.T) {
	const line = "To: undisclosed-recipients:;"
	for _, tt := range []struct {
		name, in   string
		noMissing  bool
		undisclose string
		want       bool
	}{
		{"no To or Cc", "Subject: x\n\nbody\n", false, line, true},
		{"Cc only", "Cc: a@example.org\n\nbody\n", false, line, false},
		{"To only", "To: a@example.org\n\nbody\n", false, line, false},
		{"resent without Resent-To", "Resent-From: r@example.org\nTo: a@example.org\n\nbody\n", false, line, true},
		{"resent with Resent-Cc", "Resent-From: r@example.org\nResent-Cc: a@example.org\n\nbody\n", false, line, false},
		{"no missing headers added", "Subject: x\n\nbody\n", true, line, false},
		{"parameter empty", "Subject: x\n\nbody\n", false, "", false},
	} {
		opt := localOpts()
		opt.NoMissingHeaders, opt.Undisclosed = tt.noMissing, tt.undisclose
		var out bytes.Buffer
		if _, err := Cleanup(strings.NewReader(tt.in), &out, opt); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		head, _, _ := strings.Cut(out.String(), "\n\n")
		if got := strings.Contains(head+"\n", "\n"+line+"\n"); got != tt.want {
			t.Errorf("%s: header added %v, want %v:\n%s", tt.name, got, tt.want, out.String())
		}
	}
}

// TestCleanupUTF8InPrependedHeader: a header that an access map's
// PREPEND adds counts as the header's UTF-8 too.
func TestCleanupUTF8InPrependedHeader(t *testing.T) {
	opt := CleanupOptions{QueueID: "Q", MyHostname: "h", Now: time.Unix(0, 0), Prepend: []string{"X-Note: gepr\xc3\xbcft"}}
	var out strings.Builder
	res, err := Cleanup(strings.NewReader("Subject: plain\n\nbody\n"), &out, opt)
	if err != nil {
		t.Fatal(err)
	}
	if !res.UTF8Header {
		t.Errorf("UTF8Header false with a UTF-8 prepended header:\n%s", out.String())
	}
}
