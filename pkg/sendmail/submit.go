package sendmail

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/tern-mta/tern/pkg/ipc"
)

// sink is where one submission goes: the pickup socket or a maildrop file.
// Both carry the same frames.
type sink struct {
	conn   *ipc.Conn
	body   io.WriteCloser
	finish func() (string, error) // after body.Close: the queue id
	abort  func()
	// fallback, for the pickup socket, starts a maildrop file instead:
	// used when the connection breaks before qmgr answered, so a qmgr that
	// dies mid-submission costs nothing but a possible duplicate.
	fallback func() (*sink, error)
}

// submitError is a failed submission: a sysexits code, a reason and, when
// the server gave one, an enhanced status code.
type submitError struct {
	code int
	dsn  string
	text string
	// broken says the connection failed, as opposed to qmgr refusing.
	broken bool
}

func (e *submitError) Error() string { return e.text }

// errTooBig is the text Postfix uses for message_size_limit.
const errTooBig = "message file too big"

// openSink sends req to the pickup service, or, when that cannot be
// reached, starts a maildrop file with it.
func (r *runner) openSink(req ipc.Record) (*sink, error) {
	c, err := r.env.Dial(filepath.Join(r.env.QueueDirectory, PickupSocket))
	if err == nil {
		if err = c.Send(ipc.FrameRequest, req); err == nil {
			s := pickupSink(c)
			s.fallback = func() (*sink, error) {
				return openMaildrop(filepath.Join(r.env.QueueDirectory, MaildropDir), r.env.Now(), req)
			}
			return s, nil
		}
		c.Close()
	}
	s, derr := openMaildrop(filepath.Join(r.env.QueueDirectory, MaildropDir), r.env.Now(), req)
	if derr != nil {
		return nil, fmt.Errorf("%w; %w", err, derr)
	}
	return s, nil
}

func pickupSink(c *ipc.Conn) *sink {
	return &sink{
		conn: c,
		body: c.BodyWriter(),
		finish: func() (string, error) {
			defer c.Close()
			reply, err := c.Receive(ipc.FrameReply)
			if err != nil {
				return "", &submitError{code: ExTempFail, dsn: "4.3.0", text: fmt.Sprintf("no reply from the pickup service: %v", err), broken: true}
			}
			if err := replyError(reply); err != nil {
				var ee *exitError
				errors.As(err, &ee)
				return "", &submitError{code: ee.code, dsn: reply.Get(AttrDSN), text: ee.msg}
			}
			return reply.Get(AttrID), nil
		},
		abort: func() { c.Close() },
	}
}

// failWrite abandons the submission after a failed write and says why.
func (s *sink) failWrite(err error) error {
	e := s.explainWrite(err)
	s.abort()
	return e
}

// explainWrite turns a failed write to the pickup socket into the server's
// reason when it answered early (it may refuse before reading the body).
func (s *sink) explainWrite(err error) error {
	if s.conn != nil {
		s.conn.SetTimeout(5 * time.Second)
		if reply, rerr := s.conn.Receive(ipc.FrameReply); rerr == nil {
			if rerr := replyError(reply); rerr != nil {
				var ee *exitError
				errors.As(rerr, &ee)
				return &submitError{code: ee.code, dsn: reply.Get(AttrDSN), text: ee.msg}
			}
		}
	}
	return &submitError{code: ExTempFail, dsn: "4.3.0", text: fmt.Sprintf("error writing queue file: %v", err), broken: true}
}

// openMaildrop starts maildrop/tmp.RANDOM with the request frame; finish
// makes it durable and renames it to UNIXNANO.PID.RANDOM.
func openMaildrop(dir string, now time.Time, req ipc.Record) (*sink, error) {
	rnd := randomHex()
	tmp := filepath.Join(dir, "tmp."+rnd)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create maildrop file: %w", err)
	}
	c := ipc.NewConn(streamConn{w: f, c: f}, 0)
	abort := func() {
		f.Close()
		os.Remove(tmp)
	}
	if err := c.Send(ipc.FrameRequest, req); err != nil {
		abort()
		return nil, fmt.Errorf("write %s: %w", tmp, err)
	}
	final := filepath.Join(dir, fmt.Sprintf("%d.%d.%s", now.UnixNano(), os.Getpid(), rnd))
	finish := func() (string, error) {
		if err := commitFile(f, tmp, final, dir); err != nil {
			os.Remove(tmp)
			return "", &submitError{code: ExTempFail, dsn: "4.3.0", text: err.Error()}
		}
		return "", nil
	}
	return &sink{body: c.BodyWriter(), finish: finish, abort: abort}, nil
}

// commitFile fsyncs and closes f, renames tmp to final and fsyncs dir.
func commitFile(f *os.File, tmp, final, dir string) error {
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("fsync %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("fsync %s: %w", dir, err)
	}
	return nil
}

// randomHex returns 16 random hex digits for a maildrop file name. The
// generator of math/rand/v2 is seeded from the kernel's randomness at
// start, so names are not guessable; crypto/rand's package set-up cost
// each sendmail call about 2% of its CPU for no gain (the file is created
// with O_EXCL).
func randomHex() string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], rand.Uint64())
	return hex.EncodeToString(b[:])
}

// ReadMaildrop parses a maildrop file: the request record and a reader
// over the message body. The body reader reports io.ErrUnexpectedEOF if
// the file ends before the end frame.
func ReadMaildrop(r io.Reader) (ipc.Record, io.Reader, error) {
	c := ipc.NewConn(streamConn{r: r}, 0)
	req, err := c.Receive(ipc.FrameRequest)
	if err != nil {
		return nil, nil, fmt.Errorf("maildrop request: %w", err)
	}
	if got := req.Get(AttrRequest); got != RequestSubmit {
		return nil, nil, fmt.Errorf("maildrop request: unexpected request %q", got)
	}
	return req, c.BodyReader(), nil
}

// streamConn lets ipc.Conn frame a plain reader or writer (a file).
type streamConn struct {
	r io.Reader
	w io.Writer
	c io.Closer
}

func (s streamConn) Read(p []byte) (int, error) {
	if s.r == nil {
		return 0, io.EOF
	}
	return s.r.Read(p)
}

func (s streamConn) Write(p []byte) (int, error) {
	if s.w == nil {
		return 0, errors.New("not writable")
	}
	return s.w.Write(p)
}

func (s streamConn) Close() error {
	if s.c == nil {
		return nil
	}
	return s.c.Close()
}

func (streamConn) LocalAddr() net.Addr              { return streamAddr{} }
func (streamConn) RemoteAddr() net.Addr             { return streamAddr{} }
func (streamConn) SetDeadline(time.Time) error      { return nil }
func (streamConn) SetReadDeadline(time.Time) error  { return nil }
func (streamConn) SetWriteDeadline(time.Time) error { return nil }

type streamAddr struct{}

func (streamAddr) Network() string { return "file" }
func (streamAddr) String() string  { return "file" }

// sendSpool streams a spooled message to the sink's body and completes
// the submission, falling back to maildrop when the pickup connection
// breaks.
func sendSpool(s *sink, sp *spool) (string, error) {
	id, err := sendSpoolOnce(s, sp)
	var se *submitError
	// A broken connection or a temporary refusal (qmgr stopping, its
	// disk full) sends the message to maildrop instead, as Postfix's
	// sendmail always writes there.
	if err == nil || s.fallback == nil || !errors.As(err, &se) || !(se.broken || se.code == ExTempFail) {
		return id, err
	}
	drop, derr := s.fallback()
	if derr != nil {
		return "", fmt.Errorf("%w; %w", err, derr)
	}
	return sendSpoolOnce(drop, sp)
}

func sendSpoolOnce(s *sink, sp *spool) (string, error) {
	if _, err := sp.writeTo(s.body); err != nil {
		var se *submitError
		if errors.As(err, &se) {
			s.abort()
			return "", se
		}
		return "", s.failWrite(err)
	}
	if err := s.body.Close(); err != nil {
		return "", s.failWrite(err)
	}
	return s.finish()
}

// submitMessage spools the message from head and in, then sends it to the
// sink that open returns. The spool decouples input speed from the socket:
// cron feeds a job's output as it comes, with pauses longer than any
// socket timeout.
func submitMessage(spoolDir string, limit int64, req ipc.Record, head []byte, in *lineReader, open func(ipc.Record) (*sink, error)) (string, error) {
	sp := newSpool(spoolDir)
	defer sp.close()
	if err := sp.fill(head, in, limit); err != nil {
		return "", err
	}
	s, err := open(req)
	if err != nil {
		return "", &submitError{code: ExTempFail, dsn: "4.3.0", text: fmt.Sprintf("cannot submit mail: %v", err)}
	}
	return sendSpool(s, sp)
}
