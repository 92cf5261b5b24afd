// Package sendmail is tern's sendmail(1) command, compatible with Postfix
// 3.7 sendmail: programs that run /usr/sbin/sendmail (cron, PHP mail(),
// mutt, git send-email, mailx) work unchanged. The same entry point is also
// mailq(1) ("sendmail -bp") and newaliases(1) ("sendmail -bi"), and
// "sendmail -bs" speaks SMTP on standard input and output.
//
// # The pickup protocol
//
// sendmail is the client and qmgr the server of the pickup protocol, spoken
// with pkg/ipc frames over the unix socket $queue_directory/public/pickup
// (PickupSocket). One conversation submits one message:
//
//	client -> server  request record:
//	    request=submit
//	    sender=ADDR      optional; present only with -f/-r (or MAIL FROM in
//	                     -bs mode). "" is the null sender <>. When absent
//	                     the server uses the submitter's login name.
//	    rcpt=ADDR        one per recipient, in order, as given (qualifying
//	                     bare names is cleanup's job, not the client's)
//	    fullname=TEXT    optional, from -F
//	    envid=TEXT       optional, from -V (RFC 3461 ENVID)
//	    ret=FULL|HDRS    optional, from -R
//	    verp=XY          optional, from -XV: the two VERP delimiters
//	    smtputf8=1       optional, from -SMTPUTF8 (RFC 6531)
//	    notify=LIST      optional, from -N: "NEVER" or a comma list of
//	                     SUCCESS, DELAY, FAILURE (applies to every rcpt)
//	    flags=LIST       reserved, a comma list; this client sends none: it
//	                     extracts -t recipients and removes Bcc itself
//	client -> server  the message as an ipc body ('D' frames, one 'E'
//	                  frame); LF line endings, no SMTP dot-stuffing
//	server -> client  reply record:
//	    status=ok      id=QUEUEID
//	    status=error   code=N (a sysexits.h value, e.g. 75) text=REASON
//	                   and optionally dsn=X.Y.Z (enhanced status code)
//
// The server learns the submitting uid from the kernel (SO_PEERCRED); the
// client never claims a uid. Servers ignore attributes they do not know.
//
// sendmail reads the whole message before it connects (in memory up to
// 1 MiB, beyond that in an unlinked temporary file named maildrop/tmp.*),
// so the socket's timeouts never depend on how fast the submitting program
// writes: cron feeds a job's output to sendmail as the job runs.
//
// # The maildrop fallback
//
// When the pickup socket cannot be connected (qmgr is down), sendmail
// writes the very same frames (request frame, body frames, end frame) to
// $queue_directory/maildrop/tmp.RANDOM (mode 0644, owned by the submitter),
// fsyncs it, renames it to maildrop/UNIXNANO.PID.RANDOM, fsyncs the
// directory, and exits 0 silently, as Postfix does. qmgr picks these files
// up when it starts and when triggered; it must take the submitter's uid
// from the file's owner, ignore files named "tmp.*" (incomplete; they may be
// removed when old), and may use ReadMaildrop to parse a file. The maildrop
// directory should be mode 1730 or 1733 so that users can create files but
// not read each other's.
//
// # Exit status
//
// As Postfix, with sysexits.h codes and one "sendmail: fatal: ..." line on
// standard error: 64 (EX_USAGE) for bad options and missing recipients, 65
// (EX_DATAERR) when standard input cannot be read, 69 (EX_UNAVAILABLE) for
// "message file too big" (message_size_limit) and when mailq or -q cannot
// reach qmgr, 75 (EX_TEMPFAIL) when neither pickup nor maildrop took the
// message; a server's status=error code is passed through.
//
// # Other requests
//
// "sendmail -q" sends request=flush to $queue_directory/public/qmgr
// (QmgrSocket) and expects status=ok. mailq sends request=showq to
// $queue_directory/public/showq (ShowqSocket) and expects status=ok followed
// by an ipc body: the report, printed verbatim. With format=json
// (postqueue -j) the report is one JSON object per message, as Postfix's.
package sendmail

import "strconv"

// Socket and directory names, relative to queue_directory.
const (
	PickupSocket = "public/pickup"
	QmgrSocket   = "public/qmgr"
	ShowqSocket  = "public/showq"
	MaildropDir  = "maildrop"
)

// Attribute names of the pickup, flush and showq protocols.
const (
	AttrRequest  = "request"
	AttrSender   = "sender"
	AttrRcpt     = "rcpt"
	AttrFullname = "fullname"
	AttrEnvID    = "envid"
	AttrVERP     = "verp"
	AttrRet      = "ret"
	AttrNotify   = "notify"
	AttrFlags    = "flags"
	AttrStatus   = "status"
	AttrID       = "id"
	AttrCode     = "code"
	AttrText     = "text"
	AttrDSN      = "dsn"
	AttrFormat   = "format"
	AttrSite     = "site"
	AttrTrace    = "trace" // envelope.TraceVerify (-bv) or TraceRecord (-v)
	AttrSMTPUTF8 = "smtputf8"
)

// Values of the request and status attributes.
const (
	RequestSubmit = "submit"
	RequestFlush  = "flush"
	RequestShowq  = "showq"
	FormatJSON    = "json"
	StatusOK      = "ok"
	StatusError   = "error"
)

// Exit codes of sysexits.h.
const (
	ExOK          = 0
	ExUsage       = 64
	ExDataErr     = 65
	ExNoInput     = 66
	ExNoUser      = 67
	ExNoHost      = 68
	ExUnavailable = 69
	ExSoftware    = 70
	ExOSErr       = 71
	ExOSFile      = 72
	ExCantCreat   = 73
	ExIOErr       = 74
	ExTempFail    = 75
	ExProtocol    = 76
	ExNoPerm      = 77
	ExConfig      = 78
)

// parseExitCode parses a code attribute: a number in the sysexits range or
// one of the symbolic names (EX_TEMPFAIL). ok is false for anything else.
func parseExitCode(s string) (code int, ok bool) {
	switch s {
	case "EX_USAGE":
		return ExUsage, true
	case "EX_DATAERR":
		return ExDataErr, true
	case "EX_NOINPUT":
		return ExNoInput, true
	case "EX_NOUSER":
		return ExNoUser, true
	case "EX_NOHOST":
		return ExNoHost, true
	case "EX_UNAVAILABLE":
		return ExUnavailable, true
	case "EX_SOFTWARE":
		return ExSoftware, true
	case "EX_OSERR":
		return ExOSErr, true
	case "EX_OSFILE":
		return ExOSFile, true
	case "EX_CANTCREAT":
		return ExCantCreat, true
	case "EX_IOERR":
		return ExIOErr, true
	case "EX_TEMPFAIL":
		return ExTempFail, true
	case "EX_PROTOCOL":
		return ExProtocol, true
	case "EX_NOPERM":
		return ExNoPerm, true
	case "EX_CONFIG":
		return ExConfig, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < ExUsage || n > ExConfig {
		return 0, false
	}
	return n, true
}
