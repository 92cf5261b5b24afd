// Package agent is the protocol between qmgr and the delivery agents (local,
// smtp, lmtp, virtual): qmgr sends one delivery request naming the sender,
// a group of recipients and the next hop, followed by the message content;
// the agent answers with one result per recipient, in order.
//
// Request record (ipc.FrameRequest): "request"="deliver", the envelope's
// origin attributes (envelope.Envelope.Record), "transport", "nexthop", and
// one "rcpt" attribute per recipient (envelope.RcptRecord), then the content
// as an ipc body. Reply record (ipc.FrameReply): one "result" attribute per
// recipient, "STATUS DSN TEXT" where STATUS is ok, defer or bounce, and
// optional "relay", "diag" and "mta" attributes per recipient in the same
// order.
package agent

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/daemon"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/ipc"
	"github.com/tern-mta/tern/pkg/maillog"
	"github.com/tern-mta/tern/pkg/maps"
)

// Status is the outcome of one recipient's delivery attempt.
type Status int

// Delivery outcomes.
const (
	OK     Status = iota // delivered (2.x.x)
	Defer                // try again later (4.x.x)
	Bounce               // failed for good (5.x.x)
)

func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Defer:
		return "defer"
	default:
		return "bounce"
	}
}

func parseStatus(s string) (Status, bool) {
	switch s {
	case "ok":
		return OK, true
	case "defer":
		return Defer, true
	case "bounce":
		return Bounce, true
	}
	return Defer, false
}

// Result is one recipient's outcome.
type Result struct {
	Status Status
	DSN    string // enhanced status code, e.g. "5.1.1"
	Text   string // human-readable reason, as logged and shown by mailq
	Relay  string // where it went, e.g. "local" or "mx.example.com[192.0.2.1]:25"
	// Diagnostic is the remote server's reply ("550 5.1.1 <u@x>: ...")
	// and RemoteMTA its host name, for a delivery status notification's
	// Diagnostic-Code and Remote-MTA fields (RFC 3464 section 2.3); both
	// are "" for local deliveries.
	Diagnostic string
	RemoteMTA  string
	// DSNPassed is set on a success when the next hop announced DSN and
	// took the recipient with its NOTIFY and ORCPT: from then on notices
	// are its duty (RFC 3461 section 4.1), so tern sends no "relayed"
	// notice of its own.
	DSNPassed bool
	// Relayed is set on a success that handed the mail to a server which
	// does not report on final delivery (smtp, and lmtp unless
	// lmtp_assume_final): a success notice says "relayed", not
	// "delivered" (RFC 3464 section 2.3.3).
	Relayed bool
	// Logged is set when the recipient's delivery has its log lines
	// already: written by another agent that delivered it (local's
	// mailbox_transport, smtp's best_mx_transport), or by local for each
	// address an alias or .forward expanded it to, as Postfix logs them.
	// The agent server does not log it again.
	Logged bool
	// Setup is the time the agent spent before the transfer: DNS
	// lookups, connecting, greeting, EHLO, TLS and AUTH (the c of
	// Postfix's delays=a/b/c/d). It is logged by the agent and not sent
	// to the queue manager.
	Setup time.Duration
	// ConnUse counts the transactions of the connection the result came
	// from, this one included; above 1 it is logged as Postfix's
	// conn_use=N. Not sent to the queue manager.
	ConnUse int
	// Trace lists what the recipient's delivery reached, one entry per
	// alias member, file, command or forwarded address, for the report
	// of sendmail -bv or -v (Envelope.Trace); empty when the recipient
	// itself is the whole story.
	Trace []TraceEntry
}

// TraceEntry is one destination that a recipient's delivery reached, and
// its outcome.
type TraceEntry struct {
	Address string // the address delivered to, e.g. an alias member
	Status  Status
	DSN     string
	Text    string // e.g. "delivers to command: /usr/bin/procmail"
}

// Deferf returns a Defer result with a formatted text.
func Deferf(dsn, format string, args ...any) Result {
	return Result{Status: Defer, DSN: dsn, Text: fmt.Sprintf(format, args...)}
}

// Bouncef returns a Bounce result with a formatted text.
func Bouncef(dsn, format string, args ...any) Result {
	return Result{Status: Bounce, DSN: dsn, Text: fmt.Sprintf(format, args...)}
}

// Body is the message content as the agent sees it: readable as often and
// wherever it likes.
type Body interface {
	io.ReaderAt
	Size() int64
}

// Reader returns a fresh reader over the whole body.
func Reader(b Body) io.Reader { return io.NewSectionReader(b, 0, b.Size()) }

// Request is one delivery request.
type Request struct {
	Env        *envelope.Envelope // sender, origin, queue id; no recipients
	Recipients []envelope.Recipient
	Transport  string // master.cf service name, e.g. "local"
	Nexthop    string // e.g. the domain, or "[mx.example.com]:25"
	Body       Body
	// StatusFilter is the agent's delivery status filter. The server
	// applies it to each result it logs; a Deliverer that logs results
	// itself (Result.Logged) applies it first.
	StatusFilter *StatusFilter
}

// Deliverer is what an agent implements. It must return exactly one result
// per recipient of the request, in order.
type Deliverer interface {
	Deliver(ctx context.Context, req *Request) []Result
}

// Server serves delivery requests with a Deliverer and logs each
// recipient's outcome in Postfix's format.
type Server struct {
	Deliverer Deliverer
	Log       *maillog.Logger
	SpoolDir  string // temporary files for bodies above MemLimit
	MemLimit  int64  // bodies up to this size are held in memory
	// Filter is the agent's delivery_status_filter; nil: none.
	Filter *StatusFilter
}

// ServeConn reads one delivery request at a time from c and answers it,
// until the peer closes the connection.
func (s *Server) ServeConn(ctx context.Context, c *ipc.Conn) {
	// On shutdown, stop waiting for the next request; a delivery in
	// progress still completes and answers.
	stop := context.AfterFunc(ctx, func() { _ = c.NetConn().SetReadDeadline(time.Now()) })
	defer stop()
	if err := s.serve(ctx, c); err != nil && ctx.Err() == nil {
		s.Log.Warnf("delivery request: %v", err)
	}
}

func (s *Server) serve(ctx context.Context, c *ipc.Conn) error {
	for {
		rec, err := c.Receive(ipc.FrameRequest)
		if err != nil {
			if err == io.EOF {
				return nil
			}
			return err
		}
		if rec.Get("request") != "deliver" {
			return fmt.Errorf("agent: unknown request %q", rec.Get("request"))
		}
		req := &Request{Env: envelope.FromRecord(rec), Transport: rec.Get("transport"), Nexthop: rec.Get("nexthop"), StatusFilter: s.Filter}
		for _, v := range rec.All("rcpt") {
			req.Recipients = append(req.Recipients, envelope.ParseRcptRecord(v))
		}
		body, cleanup, err := spool(c.BodyReader(), s.SpoolDir, s.MemLimit)
		if err != nil {
			return fmt.Errorf("agent: receive body: %w", err)
		}
		req.Body = body
		start := time.Now()
		results := s.Deliverer.Deliver(ctx, req)
		cleanup()
		if len(results) != len(req.Recipients) {
			return fmt.Errorf("agent: %d results for %d recipients", len(results), len(req.Recipients))
		}
		for i, r := range results {
			if !r.Logged {
				results[i] = s.Filter.Apply(r)
				LogResult(s.Log, req.Env, req.Recipients[i], results[i], start)
			}
		}
		if err := c.Send(ipc.FrameReply, encodeResults(results)); err != nil {
			return err
		}
	}
}

// statusWords are the status= words of delivery lines; probeStatusWords
// those of address verification probes, which deliver nothing (Postfix's
// words for their results).
var (
	statusWords      = map[Status]string{OK: "sent", Defer: "deferred", Bounce: "bounced"}
	probeStatusWords = map[Status]string{OK: "deliverable", Defer: "deferred", Bounce: "undeliverable"}
)

// LogResult writes Postfix's delivery line for one recipient:
// "QID: to=<a>, orig_to=<b>, relay=R, conn_use=N, delay=D, delays=a/b/c/d, dsn=X, status=S (text)",
// conn_use only for a connection used before.
// start is when the delivery began. The delays are: a, from arrival to
// the queue manager taking the message in (env.Activated); b, from then
// to start; c, r.Setup; d, the rest.
func LogResult(log *maillog.Logger, env *envelope.Envelope, rc envelope.Recipient, r Result, start time.Time) {
	log.Infof("%s", FormatResult(env, rc, r, start, time.Now()))
}

// FormatResult is the text of LogResult's line, for a delivery that
// started at start and ended at now.
func FormatResult(env *envelope.Envelope, rc envelope.Recipient, r Result, start, now time.Time) string {
	status := statusWords[r.Status]
	if env.Verifying() {
		status = probeStatusWords[r.Status]
	}
	orig := ""
	if rc.Original != "" && !strings.EqualFold(rc.Original, rc.Address) {
		orig = ", orig_to=<" + rc.Original + ">"
	}
	relay := r.Relay
	if relay == "" {
		relay = "none"
	}
	if r.ConnUse > 1 {
		relay += ", conn_use=" + strconv.Itoa(r.ConnUse)
	}
	a, b, c, d := delays(env, r, start, now)
	return fmt.Sprintf("%s: to=<%s>%s, relay=%s, delay=%s, delays=%s/%s/%s/%s, dsn=%s, status=%s (%s)",
		env.ID, rc.Address, orig, relay, seconds(a+b+c+d), seconds(a), seconds(b), seconds(c), seconds(d), r.DSN, status, r.Text)
}

// delays splits the time since arrival into Postfix's four parts, in
// seconds; a part that cannot be measured is 0.
func delays(env *envelope.Envelope, r Result, start, now time.Time) (a, b, c, d float64) {
	since := func(from, to time.Time) float64 {
		if from.IsZero() || to.Before(from) {
			return 0
		}
		return to.Sub(from).Seconds()
	}
	activated := env.Activated
	if activated.IsZero() || activated.After(start) {
		activated = start
	}
	a = since(env.Arrival, activated)
	b = since(activated, start)
	total := since(start, now)
	c = min(r.Setup.Seconds(), total)
	return a, b, c, total - c
}

// seconds formats a delay as Postfix does with its default
// delay_logging_resolution_limit of 2: at most two decimals, none from ten
// seconds on.
func seconds(s float64) string {
	switch {
	case s < 0.01:
		return "0"
	case s < 10:
		v := strconv.FormatFloat(s, 'f', 2, 64)
		return strings.TrimRight(strings.TrimRight(v, "0"), ".")
	default:
		return strconv.FormatFloat(s, 'f', 0, 64)
	}
}

type memBody struct{ *bytes.Reader }

func (m memBody) Size() int64 { return m.Reader.Size() }

type fileBody struct {
	*os.File
	size int64
}

func (f fileBody) Size() int64 { return f.size }

// NewMemBody returns a Body over b.
func NewMemBody(b []byte) Body { return memBody{bytes.NewReader(b)} }

func spool(r io.Reader, dir string, memLimit int64) (Body, func(), error) {
	var buf bytes.Buffer
	n, err := io.Copy(&buf, io.LimitReader(r, memLimit+1))
	if err != nil {
		return nil, nil, err
	}
	if n <= memLimit {
		return NewMemBody(buf.Bytes()), func() {}, nil
	}
	f, err := os.CreateTemp(dir, "agent-body-")
	if err != nil {
		return nil, nil, fmt.Errorf("spool body: %w", err)
	}
	os.Remove(f.Name())
	closeIt := func() { f.Close() }
	m, err := f.Write(buf.Bytes())
	if err != nil {
		closeIt()
		return nil, nil, fmt.Errorf("spool body: %w", err)
	}
	rest, err := io.Copy(f, r)
	if err != nil {
		closeIt()
		return nil, nil, fmt.Errorf("spool body: %w", err)
	}
	return fileBody{f, int64(m) + rest}, closeIt, nil
}

func encodeResults(rs []Result) ipc.Record {
	var rec ipc.Record
	for _, r := range rs {
		text := strings.ReplaceAll(r.Text, "\n", " ")
		rec = rec.Add("result", r.Status.String()+" "+r.DSN+" "+text)
	}
	for _, r := range rs {
		rec = rec.Add("relay", r.Relay)
	}
	for _, r := range rs {
		rec = rec.Add("diag", strings.ReplaceAll(r.Diagnostic, "\n", " ")).Add("mta", r.RemoteMTA)
	}
	for _, r := range rs {
		passed, relayed := "", ""
		if r.DSNPassed {
			passed = "1"
		}
		if r.Relayed {
			relayed = "1"
		}
		rec = rec.Add("dsnpassed", passed).Add("relayed", relayed)
	}
	for i, r := range rs {
		for _, t := range r.Trace {
			rec = rec.Add("trace", strings.Join([]string{strconv.Itoa(i), t.Address, t.Status.String(), t.DSN,
				strings.ReplaceAll(t.Text, "\n", " ")}, "\x00"))
		}
	}
	return rec
}

// decodeTrace adds the "trace" attributes of rec to the results they
// belong to.
func decodeTrace(rec ipc.Record, out []Result) error {
	for _, v := range rec.All("trace") {
		f := strings.SplitN(v, "\x00", 5)
		if len(f) != 5 {
			return fmt.Errorf("agent: bad trace %q", v)
		}
		i, err := strconv.Atoi(f[0])
		st, ok := parseStatus(f[2])
		if err != nil || i < 0 || i >= len(out) || !ok {
			return fmt.Errorf("agent: bad trace %q", v)
		}
		out[i].Trace = append(out[i].Trace, TraceEntry{Address: f[1], Status: st, DSN: f[3], Text: f[4]})
	}
	return nil
}

func decodeResults(rec ipc.Record, n int) ([]Result, error) {
	vals := rec.All("result")
	if len(vals) != n {
		return nil, fmt.Errorf("agent: %d results for %d recipients", len(vals), n)
	}
	relays, diags, mtas, passed, relayed := rec.All("relay"), rec.All("diag"), rec.All("mta"), rec.All("dsnpassed"), rec.All("relayed")
	out := make([]Result, n)
	for i, v := range vals {
		f := strings.SplitN(v, " ", 3)
		for len(f) < 3 {
			f = append(f, "")
		}
		st, ok := parseStatus(f[0])
		if !ok {
			return nil, fmt.Errorf("agent: bad result %q", v)
		}
		out[i] = Result{Status: st, DSN: f[1], Text: f[2]}
		if i < len(relays) {
			out[i].Relay = relays[i]
		}
		if i < len(diags) && i < len(mtas) {
			out[i].Diagnostic, out[i].RemoteMTA = diags[i], mtas[i]
		}
		if i < len(passed) {
			out[i].DSNPassed = passed[i] == "1"
		}
		if i < len(relayed) {
			out[i].Relayed = relayed[i] == "1"
		}
	}
	if err := decodeTrace(rec, out); err != nil {
		return nil, err
	}
	return out, nil
}

// Client sends delivery requests to one agent over one connection; a
// connection may carry many requests in turn.
type Client struct {
	c *ipc.Conn
}

// DialAgent connects to the agent listening at the unix socket path.
func DialAgent(path string, timeout time.Duration) (*Client, error) {
	c, err := ipc.Dial(path, timeout)
	if err != nil {
		return nil, err
	}
	return &Client{c: c}, nil
}

// Close closes the connection.
func (cl *Client) Close() error { return cl.c.Close() }

// SetTimeout bounds each read and write of the next requests.
func (cl *Client) SetTimeout(d time.Duration) { cl.c.SetTimeout(d) }

// Deliver sends one request with the content read from body and waits for
// the per-recipient results.
func (cl *Client) Deliver(env *envelope.Envelope, rcpts []envelope.Recipient, transport, nexthop string, body io.Reader) ([]Result, error) {
	rec := env.Record()
	rec = rec.Add("request", "deliver").Add("transport", transport).Add("nexthop", nexthop)
	for _, r := range rcpts {
		rec = rec.Add("rcpt", envelope.RcptRecord(r))
	}
	if err := cl.c.WriteFrame(ipc.FrameRequest, rec.Encode(nil)); err != nil {
		return nil, err
	}
	w := cl.c.BodyWriter()
	if _, err := io.Copy(w, body); err != nil {
		return nil, fmt.Errorf("send content: %w", err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("send content: %w", err)
	}
	reply, err := cl.c.Receive(ipc.FrameReply)
	if err != nil {
		return nil, err
	}
	return decodeResults(reply, len(rcpts))
}

// ServeDaemon runs a delivery agent daemon: it serves delivery requests
// on the daemon's listener (its service's, or the first master passed)
// until SIGTERM, logging each result. It returns the exit status.
func ServeDaemon(d *daemon.Daemon, dl Deliverer, memLimit int64) int {
	ctx, stop := daemon.SignalContext()
	defer stop()
	filter, err := OpenStatusFilter(d.Name, d.Config.Get(d.Name+"_delivery_status_filter"), maps.Options{ConfigDir: d.ConfigDir}, d.Log)
	if err != nil {
		d.Log.Fatalf("%v", err)
		return 1
	}
	defer filter.Close()
	srv := &Server{Deliverer: dl, Log: d.Log, SpoolDir: os.TempDir(), MemLimit: memLimit, Filter: filter}
	l := d.ServiceListener()
	if l == nil {
		d.Log.Fatalf("no listener passed by master")
		return 1
	}
	if err := ipc.Serve(ctx, l, 0, srv.ServeConn); err != nil {
		d.Log.Fatalf("%v", err)
		return 1
	}
	return 0
}
