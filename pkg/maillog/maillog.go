// Package maillog writes log lines in the format Postfix uses, so that admins'
// tools (grep by queue id, pflogsumm with --syslog-name=tern) keep working:
//
//	Nov 22 12:00:00 host tern/smtpd[123]: 4Xk2abc: client=...
//
// Lines go to syslog (/dev/log) or, when maillog_file is set, are appended
// to that file; "/dev/stdout" and "/dev/stderr" are accepted for foreground
// runs, as with Postfix's postfix start-fg (main.cf's maillog_file_prefixes
// decide which the configuration may name).
package maillog

import (
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options say where and as whom a Logger writes.
type Options struct {
	Program  string // e.g. "tern/qmgr": syslog_name + "/" + daemon
	File     string // maillog_file; "" means syslog
	Hostname string // written in file lines; syslog adds its own
	Facility string // syslog_facility, default "mail"
	PID      int    // 0 means os.Getpid()
}

// Logger writes Postfix-format lines. It is safe for concurrent use.
type Logger struct {
	mu       sync.Mutex
	opt      Options
	w        io.Writer
	syslog   bool
	priority int
	now      func() time.Time
	buf      []byte // the line being written; guarded by mu
}

// New opens the log destination named by opt.
func New(opt Options) (*Logger, error) {
	if opt.PID == 0 {
		opt.PID = os.Getpid()
	}
	if opt.Hostname == "" {
		opt.Hostname, _ = os.Hostname()
	}
	l := &Logger{opt: opt, now: time.Now}
	switch opt.File {
	case "/dev/stdout":
		l.w = os.Stdout
	case "/dev/stderr":
		l.w = os.Stderr
	case "":
		c, err := net.Dial("unixgram", "/dev/log")
		if err != nil {
			// No syslog daemon: stderr is better than losing the line.
			l.w = os.Stderr
			break
		}
		l.w = c
		l.syslog = true
		l.priority = facilityCode(opt.Facility) * 8
	default:
		f, err := os.OpenFile(opt.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("open maillog_file %s: %w", opt.File, err)
		}
		l.w = f
	}
	return l, nil
}

// NewWriter returns a Logger writing file-format lines to w (for tests and
// commands that log to stderr).
func NewWriter(w io.Writer, program string) *Logger {
	h, _ := os.Hostname()
	return &Logger{opt: Options{Program: program, Hostname: h, PID: os.Getpid()}, w: w, now: time.Now}
}

// Program returns the program name the logger writes.
func (l *Logger) Program() string { return l.opt.Program }

// Infof logs an informational line.
func (l *Logger) Infof(format string, args ...any) { l.write(6, "", format, args) }

// Warnf logs a line with Postfix's "warning: " prefix.
func (l *Logger) Warnf(format string, args ...any) { l.write(4, "warning: ", format, args) }

// Errorf logs a line with Postfix's "error: " prefix.
func (l *Logger) Errorf(format string, args ...any) { l.write(3, "error: ", format, args) }

// Fatalf logs a line with Postfix's "fatal: " prefix. It does not exit: the
// caller decides how to stop.
func (l *Logger) Fatalf(format string, args ...any) { l.write(2, "fatal: ", format, args) }

func (l *Logger) write(severity int, prefix, format string, args []any) {
	if l == nil {
		return
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	// The line is built in a buffer kept from line to line: a daemon
	// logs several lines per message.
	b := l.buf[:0]
	if l.syslog {
		b = append(b, '<')
		b = strconv.AppendInt(b, int64(l.priority+severity), 10)
		b = append(b, '>')
	}
	b = now.AppendFormat(b, time.Stamp)
	b = append(b, ' ')
	if !l.syslog {
		b = append(b, l.opt.Hostname...)
		b = append(b, ' ')
	}
	b = append(b, l.opt.Program...)
	b = append(b, '[')
	b = strconv.AppendInt(b, int64(l.opt.PID), 10)
	b = append(b, "]: "...)
	msg := len(b)
	b = append(b, prefix...)
	b = fmt.Appendf(b, format, args...)
	for i := msg; i < len(b); i++ {
		if b[i] == '\n' {
			b[i] = ' ' // one line per entry
		}
	}
	if !l.syslog {
		b = append(b, '\n')
	}
	_, _ = l.w.Write(b)
	if cap(b) <= maxKeptLine {
		l.buf = b
	}
}

// maxKeptLine bounds the buffer a Logger keeps between lines.
const maxKeptLine = 8 << 10

// Close releases the destination (not stdout or stderr).
func (l *Logger) Close() error {
	if c, ok := l.w.(io.Closer); ok && l.w != os.Stdout && l.w != os.Stderr {
		return c.Close()
	}
	return nil
}

func facilityCode(name string) int {
	codes := map[string]int{
		"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5,
		"lpr": 6, "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
		"local0": 16, "local1": 17, "local2": 18, "local3": 19,
		"local4": 20, "local5": 21, "local6": 22, "local7": 23,
	}
	if c, ok := codes[strings.ToLower(name)]; ok {
		return c
	}
	return 2
}

// WithProgram returns a Logger writing to the same destination under
// another daemon name: "tern/smtpd" becomes "tern/postscreen" for name
// postscreen (the syslog_name part stays).
func (l *Logger) WithProgram(name string) *Logger {
	opt := l.opt
	if i := strings.LastIndexByte(opt.Program, '/'); i >= 0 {
		name = opt.Program[:i+1] + name
	}
	return l.As(name, opt.PID)
}

// As returns a Logger writing to the same destination as the lines of
// another process: program and pid are written as that process's. qmgr
// writes smtpd's "client=" line about a message with it once the message
// is queued, so that the line comes before qmgr's own about the message,
// as in Postfix (whose smtpd has the queue id from MAIL FROM on).
func (l *Logger) As(program string, pid int) *Logger {
	if l == nil {
		return nil
	}
	opt := l.opt
	opt.Program, opt.PID = program, pid
	return &Logger{opt: opt, w: l.w, syslog: l.syslog, priority: l.priority, now: l.now}
}
