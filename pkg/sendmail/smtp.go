package sendmail

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/tern-mta/tern/pkg/ipc"
)

// Limits of the -bs session, Postfix's defaults.
const (
	smtpLineLimit      = 2048 // longest command line
	smtpRecipientLimit = 1000 // smtpd_recipient_limit
	smtpErrorLimit     = 20   // smtpd_hard_error_limit
)

// smtpSession is "sendmail -bs": a minimal RFC 5321 server on stdin and
// stdout; each DATA is submitted through pickup (or maildrop).
type smtpSession struct {
	host     string
	limit    int64
	spoolDir string
	br       *bufio.Reader
	bw       *bufio.Writer
	open     func(ipc.Record) (*sink, error)

	inMail   bool
	sender   string
	smtputf8 bool // MAIL had SMTPUTF8 (RFC 6531)
	rcpts    []string
	errors   int
	done     bool
}

// smtp runs the -bs session.
func (r *runner) smtp() error {
	s := &smtpSession{
		host:     r.env.MyHostname,
		limit:    r.env.MessageSizeLimit,
		spoolDir: filepath.Join(r.env.QueueDirectory, MaildropDir),
		br:       bufio.NewReaderSize(r.env.Stdin, inputBufferSize),
		bw:       bufio.NewWriter(r.env.Stdout),
		open:     r.openSink,
	}
	if err := s.run(); err != nil {
		return fatal(ExIOErr, "SMTP session: %v", err)
	}
	return nil
}

// run serves commands until QUIT, end of input or too many errors.
func (s *smtpSession) run() error {
	s.reply("220 " + s.host + " ESMTP tern")
	for !s.done {
		// Answer pipelined commands in one write, before waiting for input.
		if s.br.Buffered() == 0 {
			if err := s.bw.Flush(); err != nil {
				return err
			}
		}
		line, tooLong, err := s.readLine()
		if err != nil {
			break // end of input ends the session
		}
		if tooLong {
			s.fail("500 5.5.0 Error: line too long")
			continue
		}
		s.command(line)
	}
	return s.bw.Flush()
}

// readLine reads a command line without its CRLF. A line longer than
// smtpLineLimit is consumed and reported as tooLong.
func (s *smtpSession) readLine() (line string, tooLong bool, err error) {
	var b []byte
	for {
		p, err := s.br.ReadSlice('\n')
		if len(b)+len(p) <= smtpLineLimit+2 {
			b = append(b, p...)
		} else {
			tooLong = true
		}
		switch {
		case err == nil:
			return strings.TrimRight(string(b), "\r\n"), tooLong, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case len(b) > 0 && errors.Is(err, io.EOF):
			return strings.TrimRight(string(b), "\r\n"), tooLong, nil
		default:
			return "", false, err
		}
	}
}

func (s *smtpSession) reply(text string) {
	s.bw.WriteString(text)
	s.bw.WriteString("\r\n")
}

// fail sends an error reply and ends the session after too many.
func (s *smtpSession) fail(text string) {
	s.reply(text)
	if s.errors++; s.errors >= smtpErrorLimit {
		s.reply("421 4.7.0 " + s.host + " Error: too many errors")
		s.done = true
	}
}

func (s *smtpSession) reset() {
	s.inMail, s.sender, s.rcpts, s.smtputf8 = false, "", nil, false
}

// command dispatches one command line.
func (s *smtpSession) command(line string) {
	verb, arg, _ := strings.Cut(line, " ")
	arg = strings.TrimSpace(arg)
	switch strings.ToUpper(verb) {
	case "EHLO":
		s.hello(arg, true)
	case "HELO":
		s.hello(arg, false)
	case "MAIL":
		s.mail(arg)
	case "RCPT":
		s.rcpt(arg)
	case "DATA":
		s.data(arg)
	case "RSET":
		s.reset()
		s.reply("250 2.0.0 Ok")
	case "NOOP":
		s.reply("250 2.0.0 Ok")
	case "QUIT":
		s.reply("221 2.0.0 Bye")
		s.done = true
	case "VRFY":
		s.fail("502 5.5.1 VRFY command is disabled")
	case "":
		s.fail("500 5.5.2 Error: bad syntax")
	default:
		s.fail("502 5.5.2 Error: command not recognized")
	}
}

func (s *smtpSession) hello(arg string, extended bool) {
	if arg == "" {
		if extended {
			s.fail("501 5.5.4 Syntax: EHLO hostname")
		} else {
			s.fail("501 5.5.4 Syntax: HELO hostname")
		}
		return
	}
	s.reset()
	if !extended {
		s.reply("250 " + s.host)
		return
	}
	size := "SIZE"
	if s.limit > 0 {
		size += " " + strconv.FormatInt(s.limit, 10)
	}
	for _, l := range []string{s.host, "PIPELINING", size, "8BITMIME", "SMTPUTF8"} {
		s.reply("250-" + l)
	}
	s.reply("250 ENHANCEDSTATUSCODES")
}

// parsePath parses "FROM:<addr> params" (prefix "FROM:") leniently, as
// Postfix does without strict_rfc821_envelopes.
func parsePath(arg, prefix string) (addr string, params []string, ok bool) {
	if len(arg) < len(prefix) || !strings.EqualFold(arg[:len(prefix)], prefix) {
		return "", nil, false
	}
	rest := strings.TrimLeft(arg[len(prefix):], " ")
	if strings.HasPrefix(rest, "<") {
		end := strings.IndexByte(rest, '>')
		if end < 0 {
			return "", nil, false
		}
		addr, rest = rest[1:end], rest[end+1:]
		if i := strings.LastIndexByte(addr, ':'); i >= 0 && strings.HasPrefix(addr, "@") {
			addr = addr[i+1:] // source route
		}
	} else {
		addr, rest, _ = strings.Cut(rest, " ")
		if addr == "" {
			return "", nil, false
		}
	}
	return addr, strings.Fields(rest), true
}

func (s *smtpSession) mail(arg string) {
	if s.inMail {
		s.fail("503 5.5.1 Error: nested MAIL command")
		return
	}
	addr, params, ok := parsePath(arg, "FROM:")
	if !ok {
		s.fail("501 5.5.4 Syntax: MAIL FROM:<address>")
		return
	}
	utf8 := false
	for _, p := range params {
		name, value, _ := strings.Cut(p, "=")
		switch strings.ToUpper(name) {
		case "SIZE":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 {
				s.fail("501 5.5.4 Bad message size syntax")
				return
			}
			if s.limit > 0 && n > s.limit {
				s.fail("552 5.3.4 Message size exceeds fixed limit")
				return
			}
		case "BODY":
			if v := strings.ToUpper(value); v != "7BIT" && v != "8BITMIME" {
				s.fail("501 5.5.4 Unsupported BODY parameter value")
				return
			}
		case "SMTPUTF8":
			if strings.Contains(p, "=") {
				s.fail("501 5.5.4 Syntax: SMTPUTF8 takes no value")
				return
			}
			utf8 = true
		default:
			s.fail("555 5.5.4 Unsupported option: " + name)
			return
		}
	}
	s.inMail, s.sender, s.smtputf8 = true, addr, utf8
	s.reply("250 2.1.0 Ok")
}

func (s *smtpSession) rcpt(arg string) {
	if !s.inMail {
		s.fail("503 5.5.1 Error: need MAIL command")
		return
	}
	addr, params, ok := parsePath(arg, "TO:")
	switch {
	case !ok:
		s.fail("501 5.5.4 Syntax: RCPT TO:<address>")
	case addr == "":
		s.fail("501 5.1.3 Bad recipient address syntax")
	case len(params) > 0:
		name, _, _ := strings.Cut(params[0], "=")
		s.fail("555 5.5.4 Unsupported option: " + name)
	case len(s.rcpts) >= smtpRecipientLimit:
		s.fail("452 4.5.3 Error: too many recipients")
	default:
		s.rcpts = append(s.rcpts, addr)
		s.reply("250 2.1.5 Ok")
	}
}

func (s *smtpSession) data(arg string) {
	switch {
	case arg != "":
		s.fail("501 5.5.4 Syntax: DATA")
		return
	case !s.inMail:
		s.fail("503 5.5.1 Error: need RCPT command")
		return
	case len(s.rcpts) == 0:
		s.fail("554 5.5.1 Error: no valid recipients")
		return
	}
	req := ipc.Record{{Name: AttrRequest, Value: RequestSubmit}, {Name: AttrSender, Value: s.sender}}
	for _, rc := range s.rcpts {
		req = req.Add(AttrRcpt, rc)
	}
	if s.smtputf8 {
		req = req.Add(AttrSMTPUTF8, "1")
	}
	s.reset()
	s.reply("354 End data with <CR><LF>.<CR><LF>")
	if err := s.bw.Flush(); err != nil {
		s.done = true
		return
	}
	in := newLineReader(s.br)
	in.dotEnds, in.unstuff, in.needDot = true, true, true
	id, err := submitMessage(s.spoolDir, s.limit, req, nil, in, s.open)
	s.finishData(in, id, err)
}

// finishData answers the end of DATA: after a failed submission it first
// reads what is left of the message.
func (s *smtpSession) finishData(in *lineReader, id string, err error) {
	if err != nil {
		for n := 0; !in.eof && n < 1<<40; n++ {
			if _, rerr := in.next(); rerr != nil {
				break
			}
		}
	}
	if !in.sawDot {
		s.done = true // the client went away in the middle of DATA
		return
	}
	if err == nil {
		if id == "" {
			s.reply("250 2.0.0 Ok: queued")
		} else {
			s.reply("250 2.0.0 Ok: queued as " + id)
		}
		return
	}
	s.fail(smtpReplyFor(err))
}

// smtpReplyFor maps a failed submission to an SMTP reply.
func smtpReplyFor(err error) string {
	var se *submitError
	if !errors.As(err, &se) {
		return "451 4.3.0 Error: queue file write error"
	}
	text := strings.ReplaceAll(se.text, "\n", " ")
	if se.text == errTooBig {
		return "552 5.3.4 Error: message file too big"
	}
	dsn := se.dsn
	switch se.code {
	case ExTempFail, ExIOErr, ExOSErr, ExOSFile, ExCantCreat, ExSoftware:
		if !strings.HasPrefix(dsn, "4.") {
			dsn = "4.3.0"
		}
		return fmt.Sprintf("451 %s Error: %s", dsn, text)
	}
	if !strings.HasPrefix(dsn, "5.") {
		dsn = "5.3.0"
	}
	return fmt.Sprintf("554 %s Error: %s", dsn, text)
}
