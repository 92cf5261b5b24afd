package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
)

// Stages of a session, as Postfix names them in "(in reply to X command)"
// and "while X" phrases. Error.Stage and RcptResult.Stage hold these.
const (
	StageGreeting = "initial server greeting"
	StageEHLO     = "EHLO"
	StageHELO     = "HELO"
	StageLHLO     = "LHLO"
	StageStartTLS = "STARTTLS"
	StageAuth     = "AUTH"
	StageMail     = "MAIL FROM"
	StageRcpt     = "RCPT TO"
	StageData     = "DATA"
	StageBody     = "message body"
	StageDataDone = "end of DATA"
	StageRset     = "RSET"
	StageQuit     = "QUIT"
)

// Enhanced status codes the client gives its own failures.
const (
	statusConn     = "4.4.2" // RFC 3463 3.5: bad connection (lost, timed out)
	statusProtocol = "4.5.0" // RFC 3463 3.6: other protocol status
	statusLocal    = "4.3.0" // RFC 3463 3.5: other mail system status (reading the queue)
	statusTLS      = "4.7.4" // RFC 5248 registry: security features not supported (Postfix)
	statusAuthTemp = "4.7.0" // RFC 3463 3.8: other security status, transient
)

// Error is a session-level failure: a server reply that ends the session
// or the whole delivery attempt (a greeting or EHLO refusal, 421, AUTH
// failure), an I/O error, a timeout or a TLS problem. Callers try the next
// MX host for temporary errors that happen before a transaction started.
type Error struct {
	Peer      string // the peer as given to Open, without the port
	Stage     string // one of the Stage constants
	Reply     *Reply // the server's reply, if there was one
	Err       error  // the underlying error, if any
	Temporary bool   // 4xx, I/O error, timeout, TLS trouble
	// Status is the RFC 3463 code for a DSN about this failure: the
	// reply's, or the client's own ("4.4.2" for a lost connection).
	Status string
}

// Error phrases the failure the way Postfix logs it.
func (e *Error) Error() string {
	switch {
	case e.Reply != nil && e.Stage == StageGreeting:
		return fmt.Sprintf("host %s refused to talk to me: %s", e.Peer, e.Reply.Text)
	case e.Reply != nil && e.Stage == StageAuth:
		return fmt.Sprintf("SASL authentication failed; server %s said: %s", e.Peer, e.Reply.Text)
	case e.Reply != nil:
		return fmt.Sprintf("host %s said: %s (in reply to %s command)", e.Peer, e.Reply.Text, e.Stage)
	case errors.As(e.Err, new(*describedError)):
		return e.Err.Error()
	case isTimeout(e.Err):
		return fmt.Sprintf("conversation with %s timed out while %s", e.Peer, while(e.Stage))
	case errors.Is(e.Err, context.Canceled):
		return fmt.Sprintf("conversation with %s cancelled while %s", e.Peer, while(e.Stage))
	case errors.Is(e.Err, errMalformed):
		return fmt.Sprintf("host %s sent a bad reply while %s: %v", e.Peer, while(e.Stage), e.Err)
	case isConnErr(e.Err):
		return fmt.Sprintf("lost connection with %s while %s", e.Peer, while(e.Stage))
	case e.Err != nil:
		return e.Err.Error()
	}
	return fmt.Sprintf("session with %s failed while %s", e.Peer, while(e.Stage))
}

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// while phrases a stage as Postfix does after "timed out while".
func while(stage string) string {
	switch stage {
	case StageGreeting:
		return "receiving the initial server greeting"
	case StageEHLO, StageHELO, StageLHLO:
		return "performing the " + stage + " handshake"
	case StageStartTLS, StageAuth:
		return "performing the " + stage + " exchange"
	case StageBody:
		return "sending message body"
	case StageDataDone:
		return "sending end of data -- message may be sent more than once"
	}
	return "sending " + stage
}

// replyError turns a reply that ends the session into an *Error.
func (s *Session) replyError(stage string, r Reply) *Error {
	rc := r
	return &Error{Peer: s.peerName, Stage: stage, Reply: &rc, Temporary: !r.Permanent(), Status: r.Enhanced}
}

// ioError turns an I/O error into an *Error; the cancellation of ctx wins
// over the deadline error it caused.
func (s *Session) ioError(ctx context.Context, stage string, err error) *Error {
	if ctx.Err() != nil && isTimeout(err) {
		err = fmt.Errorf("%w: %w", ctx.Err(), err)
	}
	st := statusConn
	switch {
	case errors.Is(err, errMalformed):
		st = statusProtocol
	case errors.Is(err, errBodyRead):
		st = statusLocal
	}
	return &Error{Peer: s.peerName, Stage: stage, Err: err, Temporary: true, Status: st}
}

func isTimeout(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// isConnErr reports errors that mean the connection is gone or unusable.
func isConnErr(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &oe) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.ErrClosedPipe)
}

// describedError is a failure whose text already says all, in Postfix's
// words ("TLS is required, but was not offered by host ...").
type describedError struct {
	msg string
	err error
}

func (d *describedError) Error() string { return d.msg }
func (d *describedError) Unwrap() error { return d.err }

// described returns a describedError wrapping err (which may be nil).
func described(err error, format string, args ...any) error {
	return &describedError{msg: fmt.Sprintf(format, args...), err: err}
}
