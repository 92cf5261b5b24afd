package message

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Defaults of the CleanupOptions limits, as in Postfix.
const (
	DefaultHopcountLimit   = 50     // hopcount_limit
	DefaultHeaderSizeLimit = 102400 // header_size_limit
)

// CleanupOptions describe a message being enqueued and how to treat it.
type CleanupOptions struct {
	QueueID    string
	MyHostname string // for Message-Id and Received
	MyOrigin   string // domain for From: and unqualified addresses of local submissions
	// ObsoleteFrom writes a missing From: header as "addr (Full Name)":
	// Postfix's header_from_format = obsolete.
	ObsoleteFrom bool
	Now          time.Time
	Local        bool // submitted by sendmail (pickup) rather than SMTP
	// ReplaceStrayCR turns each CR not followed by LF into a space:
	// cleanup_replace_stray_cr_lf.
	ReplaceStrayCR bool
	// NoReceived adds no Received header: the mail system's own
	// notification, which Postfix's bounce daemon gives cleanup directly.
	NoReceived bool
	SubmitUser string
	SubmitUID  int
	FullName   string // sendmail -F, or "" to use GecosName
	GecosName  string // the submitter's GECOS field ("Name,room,..."; & is the login)
	Sender     string // envelope sender, "" for the null sender
	// SMTP origin, for the Received header. Protocol is SMTP, ESMTP,
	// ESMTPS, ESMTPA, ESMTPSA...
	ClientName, ClientAddr, Helo, Protocol string
	// TLS describes the client's TLS session for the Received header
	// ("TLSv1.3 with cipher ..."), set with smtpd_tls_received_header.
	TLS string
	// AuthenticatedSender, when set, is the client's SASL login name,
	// shown in Received as "(Authenticated sender: name)" (Postfix's
	// smtpd_sasl_authenticated_header).
	AuthenticatedSender string
	// Recipient is named in Received ("for <rcpt>"); set it only when
	// the message has exactly one recipient.
	Recipient string
	// Prepend holds header lines ("Name: value") that smtpd's PREPEND
	// actions asked for; they go above the Received header, as in
	// Postfix. A line holding a line break is dropped.
	Prepend  []string
	MailName string // mail_name, default "tern"
	// HopcountLimit is hopcount_limit (default 50).
	HopcountLimit int
	// HeaderSizeLimit bounds the header block held in memory (default
	// 102400). The line that crosses it and everything after it become
	// the body: a blank separator line is written before that line, so
	// nothing is lost and memory stays bounded. (Postfix discards the
	// excess of an over-long header field instead.)
	HeaderSizeLimit int
	// DropHeaders holds the lower-case names of message_drop_headers;
	// nil means Postfix's default: Bcc, Content-Length, Resent-Bcc and
	// Return-Path.
	DropHeaders map[string]bool
	// NoMissingHeaders leaves out the missing Message-Id, Date and From
	// headers, as Postfix does for clients outside
	// local_header_rewrite_clients unless always_add_missing_headers = yes.
	NoMissingHeaders bool
	// Undisclosed is undisclosed_recipients_header: a header line added,
	// with the other missing headers, to a message that has neither To:
	// nor Cc: (Resent-To:, Resent-Cc: when it has Resent- headers). ""
	// adds none; a value that is not a header line is ignored.
	Undisclosed string
	// MIME holds the MIME limits and strict checks (mimecheck.go).
	MIME MIMEChecks
	// RewriteHeader, when set, rewrites the addresses in a header field
	// (canonical mapping and masquerading, Postfix's header_sender and
	// header_recipient classes). It gets the field name as written and the
	// unfolded value and returns the new value and whether it changed; an
	// error (a table lookup failure) fails the whole cleanup.
	RewriteHeader func(name, value string) (string, bool, error)
	// Buffers, when set, lends Cleanup its read and write buffers (80 KB
	// a message otherwise, allocated and cleared each time).
	Buffers *Buffers
	// Inspector, when set, applies content checks to the header fields
	// and, when it wants, to the body (inspect.go). The Received header
	// and the Prepend lines that Cleanup adds are not inspected.
	Inspector Inspector
}

// Buffers keeps Cleanup's I/O buffers for reuse by later messages. The
// zero value is ready; it is safe for concurrent use.
type Buffers struct {
	readers, writers sync.Pool
}

// Cleanup's buffer sizes.
const (
	cleanupReadBuffer  = 16 << 10
	cleanupWriteBuffer = 64 << 10
)

// reader returns a buffered reader of r, from b when b is not nil.
func (b *Buffers) reader(r io.Reader) *bufio.Reader {
	if b != nil {
		if br, ok := b.readers.Get().(*bufio.Reader); ok {
			br.Reset(r)
			return br
		}
	}
	return bufio.NewReaderSize(r, cleanupReadBuffer)
}

// writer returns a buffered writer to w, from b when b is not nil.
func (b *Buffers) writer(w io.Writer) *bufio.Writer {
	if b != nil {
		if bw, ok := b.writers.Get().(*bufio.Writer); ok {
			bw.Reset(w)
			return bw
		}
	}
	return bufio.NewWriterSize(w, cleanupWriteBuffer)
}

// release returns br and bw to b (when b is not nil), dropping their
// references to the message's reader and writer.
func (b *Buffers) release(br *bufio.Reader, bw *bufio.Writer) {
	if b == nil {
		return
	}
	br.Reset(nil)
	bw.Reset(nil)
	b.readers.Put(br)
	b.writers.Put(bw)
}

// Result says what Cleanup did and found.
type Result struct {
	Size int64 // bytes written
	// Hops counts the Received headers, including the one Cleanup adds
	// (Postfix counts the one its smtpd or pickup added).
	Hops int
	// TooManyHops is Hops >= HopcountLimit, Postfix's test: the caller
	// bounces the message with 5.4.6 "too many hops".
	TooManyHops bool
	MessageID   string // Message-Id header value, found or added
	// EightBit is set when the message holds bytes with the high bit
	// set; the smtp client sends it with BODY=8BITMIME or downgrades it.
	EightBit bool
	// UTF8Header is set when a header field written (kept, prepended or
	// added) has bytes with the high bit set: UTF-8 headers of RFC 6532, which need
	// SMTPUTF8 when the sender asked for it.
	UTF8Header bool
	// ResentMessageID is the Resent-Message-Id value, found or added,
	// when the message has Resent- headers.
	ResentMessageID string
	DeliveredTo     []string // Delivered-To values, lower-cased, for loop detection
	// MIMEError is the first problem the strict MIME checks found; the
	// caller rejects the message with 5.6.0, as Postfix does.
	MIMEError *MIMEError
}

// Cleanup copies the message from r to w. It converts CRLF line endings to
// LF (a stray CR becomes a space with ReplaceStrayCR, and is kept
// otherwise), prepends a Received header and appends
// to the header block the missing (Resent-)Message-Id and (Resent-)Date and,
// for local submissions, (Resent-)From headers, in that order, as Postfix
// does. Bcc, Resent-Bcc, Return-Path and Content-Length headers are
// removed, as Postfix's cleanup(8) removes them (sendmail -t extracts
// recipients itself, before the message gets here). Folding is preserved. The
// header block ends at a blank line or at the first line that is not a
// header field (then a blank line is inserted before it). A final line
// without a line ending gets one. For local submissions a leading mbox
// "From " line is dropped. Only the header block is held in memory.
func Cleanup(r io.Reader, w io.Writer, opt CleanupOptions) (Result, error) {
	defaults(&opt)
	br, bw := opt.Buffers.reader(r), opt.Buffers.writer(w)
	defer opt.Buffers.release(br, bw)
	hb, err := readHeader(br, opt.HeaderSizeLimit, opt.Local)
	if err != nil {
		return Result{}, err
	}
	res, keep := analyse(hb.fields, &opt)
	if opt.Inspector != nil {
		keep = inspectHeader(keep, opt.Inspector)
	}
	if err := rewriteHeaders(keep, &opt); err != nil {
		return Result{}, err
	}
	lw := &lfWriter{w: bw, replaceCR: opt.ReplaceStrayCR}
	// put writes one header field and notes UTF-8 in it.
	put := func(h string) {
		lw.putString(h + "\n")
		res.UTF8Header = res.UTF8Header || Has8BitString(h)
	}
	for _, h := range opt.Prepend {
		if !strings.ContainsAny(h, "\r\n") {
			put(h)
		}
	}
	switch {
	case opt.NoReceived:
	case opt.Local:
		put(receivedLocal(&opt))
	default:
		put(ReceivedSMTP(&opt))
	}
	for _, f := range keep {
		put(f.text)
	}
	for _, h := range missing(hb.fields, &opt, &res) {
		put(h)
	}
	lw.putString("\n")
	ms := &mimeState{checks: opt.MIME}
	for _, f := range hb.fields {
		ms.headerField(f.text)
	}
	if err := copyBody(lw, hb, br, &opt, ms, keep); err != nil {
		return Result{}, err
	}
	res.MIMEError = ms.err
	if err := bw.Flush(); err != nil {
		return Result{}, fmt.Errorf("write message %s: %w", opt.QueueID, err)
	}
	res.Size = lw.n
	res.EightBit = lw.eightBit
	return res, nil
}

// copyBody copies the body: what readHeader took of it, then the rest of
// br, through the inspector when it wants the body and the MIME checks
// when they are on.
func copyBody(lw *lfWriter, hb headerBlock, br *bufio.Reader, opt *CleanupOptions, ms *mimeState, fields []field) error {
	wanted := opt.Inspector != nil && opt.Inspector.WantBody()
	if !wanted && !opt.MIME.walk() {
		lw.write(hb.rest)
		if hb.eof {
			lw.finish()
			return nil
		}
		return lw.copyBody(br)
	}
	in := opt.Inspector
	if !wanted {
		in = nil
	}
	s := newBodyScanner(in, lw, ms, headerValue(fields, "content-type"), headerValue(fields, "content-transfer-encoding"))
	return s.scan(bufio.NewReaderSize(io.MultiReader(bytes.NewReader(hb.rest), br), cleanupReadBuffer))
}

// defaultDropHeaders are message_drop_headers' default.
var defaultDropHeaders = map[string]bool{"bcc": true, "content-length": true, "resent-bcc": true, "return-path": true}

// dropHeader reports whether the field named key (lower case) is removed.
func (opt *CleanupOptions) dropHeader(key string) bool {
	if opt.DropHeaders == nil {
		return defaultDropHeaders[key]
	}
	return opt.DropHeaders[key]
}

// rewriteHeaders applies opt.RewriteHeader to the fields in place. A
// rewritten field is written unfolded.
func rewriteHeaders(fields []field, opt *CleanupOptions) error {
	if opt.RewriteHeader == nil {
		return nil
	}
	for i, f := range fields {
		name, _, _ := strings.Cut(f.text, ":")
		v, changed, err := opt.RewriteHeader(strings.TrimSpace(name), f.value())
		if err != nil {
			return fmt.Errorf("rewrite %s header of %s: %w", name, opt.QueueID, err)
		}
		if changed {
			fields[i].text = strings.TrimSpace(name) + ": " + v
		}
	}
	return nil
}

func defaults(opt *CleanupOptions) {
	if opt.HopcountLimit <= 0 {
		opt.HopcountLimit = DefaultHopcountLimit
	}
	if opt.HeaderSizeLimit <= 0 {
		opt.HeaderSizeLimit = DefaultHeaderSizeLimit
	}
	if opt.MailName == "" {
		opt.MailName = "tern"
	}
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
}

// hasResent reports whether any header field is a Resent- one.
func hasResent(fields []field) bool {
	for _, f := range fields {
		if strings.HasPrefix(f.key, "resent-") {
			return true
		}
	}
	return false
}

// analyse collects what Result reports from the header fields and returns
// the fields to keep.
func analyse(fields []field, opt *CleanupOptions) (Result, []field) {
	res := Result{Hops: 1} // the Received header Cleanup adds
	if opt.NoReceived {
		res.Hops = 0
	}
	keep := make([]field, 0, len(fields))
	for _, f := range fields {
		switch f.key {
		case "received":
			res.Hops++
		case "delivered-to":
			res.DeliveredTo = append(res.DeliveredTo, strings.ToLower(f.value()))
		case "message-id":
			if res.MessageID == "" {
				res.MessageID = f.value()
			}
		case "resent-message-id":
			if res.ResentMessageID == "" {
				res.ResentMessageID = f.value()
			}
		}
		// As Postfix's cleanup(8): the message_drop_headers (Bcc,
		// Content-Length, Resent-Bcc and Return-Path by default) are
		// removed, whether or not recipients were extracted; local
		// delivery writes its own Return-Path.
		if opt.dropHeader(f.key) {
			continue
		}
		keep = append(keep, f)
	}
	res.TooManyHops = res.Hops >= opt.HopcountLimit
	return res, keep
}

// missing returns the header lines to append, and records an added
// message id in res.
func missing(fields []field, opt *CleanupOptions, res *Result) []string {
	if opt.NoMissingHeaders {
		return nil
	}
	prefix := ""
	if hasResent(fields) {
		prefix = "Resent-"
	}
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		seen[f.key] = true
	}
	var out []string
	lp := strings.ToLower(prefix)
	if !seen[lp+"message-id"] {
		id := MessageID(opt.Now, clean(opt.QueueID), clean(opt.MyHostname))
		out = append(out, prefix+"Message-Id: "+id)
		if prefix == "" {
			res.MessageID = id
		} else {
			res.ResentMessageID = id
		}
	}
	if !seen[lp+"date"] {
		out = append(out, prefix+"Date: "+FormatDate(opt.Now))
	}
	if opt.Local && !seen[lp+"from"] {
		out = append(out, prefix+"From: "+fromHeader(opt))
	}
	if opt.Undisclosed != "" && !seen[lp+"to"] && !seen[lp+"cc"] && IsHeaderLine(opt.Undisclosed) {
		out = append(out, opt.Undisclosed)
	}
	return out
}
