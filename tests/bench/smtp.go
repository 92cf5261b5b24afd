package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The SMTP intake phase: Postfix's load generator smtp-source sends mail
// to each system's smtpd on loopback, at several message sizes and
// numbers of parallel sessions, and the bench times how fast the server
// accepts it (every 250 after DATA comes only once the message is on
// stable storage, in both systems). The recipient is a local user routed
// to the discard transport, so that delivery does not compete with
// intake for the disk; the queue is drained between cases.

// smtpCase is one smtp-source run: messages of size payload bytes over
// sessions parallel SMTP sessions.
type smtpCase struct {
	size     int
	sessions int
	messages int
}

// smtpFigures is what one case measured on one system.
type smtpFigures struct {
	rate float64       // messages accepted per second (smtp-source wall time)
	cpu  time.Duration // CPU time of the whole mail system per message
}

// The payload sizes of the phase and the sessions count whose rows carry
// the target.
const (
	smtpSmallSize     = 1024
	smtpLargeSize     = 100 * 1024
	smtpTargetSession = 10
	smtpTarget        = 3 // tern/Postfix intake rate at smtpTargetSession sessions
)

// smtpHelo, smtpDomain: the HELO name smtp-source uses and the local
// domain of the sender and recipient (one of mainCF's mydestination).
const (
	smtpHelo   = "client.example.tst"
	smtpDomain = "example.tst"
)

// smtpCases lists the cases cfg asks for: each size at each sessions
// count, small messages first.
func smtpCases(cfg config) []smtpCase {
	var cases []smtpCase
	for _, sz := range []struct{ size, n int }{{smtpSmallSize, cfg.smtpSmall}, {smtpLargeSize, cfg.smtpLarge}} {
		if sz.n <= 0 {
			continue
		}
		for _, s := range cfg.smtpSessions {
			cases = append(cases, smtpCase{size: sz.size, sessions: s, messages: sz.n})
		}
	}
	return cases
}

// label names a case in the report: "1 KB, 10 sessions".
func (c smtpCase) label() string {
	s := "sessions"
	if c.sessions == 1 {
		s = "session"
	}
	return fmt.Sprintf("%s, %d %s", sizeLabel(c.size), c.sessions, s)
}

// sizeLabel writes a payload size in KB when it is a whole number of them.
func sizeLabel(n int) string {
	if n >= 1024 && n%1024 == 0 {
		return strconv.Itoa(n/1024) + " KB"
	}
	return strconv.Itoa(n) + " bytes"
}

// parseSessions reads a comma-separated list of session counts.
func parseSessions(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || n > 1000 {
			return nil, fmt.Errorf("sessions count %q: want a number from 1 to 1000", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, errors.New("no sessions count")
	}
	return out, nil
}

// smtpUsable says whether the SMTP phase can run, and if not, why.
func smtpUsable(cfg config) (bool, string) {
	switch {
	case cfg.noSMTP:
		return false, "disabled with -no-smtp"
	case cfg.relayOnly:
		return false, "not with -relay-only"
	case cfg.mapsOnly:
		return false, "not with -maps-only"
	case len(smtpCases(cfg)) == 0:
		return false, "no cases selected"
	}
	return sourceUsable(cfg.smtpSource)
}

// sourceUsable says whether smtp-source is at path, and if not, why.
func sourceUsable(path string) (bool, string) {
	st, err := os.Stat(path)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return false, "smtp-source (Debian package postfix) is not installed at " + path
	}
	return true, ""
}

// smtpListen returns the master.cf service name of tern's SMTP listener:
// port 0, the kernel picks one and master logs it.
func (ternFlavor) smtpListen() (string, error) { return "127.0.0.1:0", nil }

// listeningRE matches master's log line naming the address it bound for
// the service "127.0.0.1:0".
var listeningRE = regexp.MustCompile(`service 127\.0\.0\.1:0: listening on (127\.0\.0\.1:[0-9]{1,5})\b`)

// smtpAddr reads the bound address from tern's maillog.
func (ternFlavor) smtpAddr(ctx context.Context, in *instance, _ string) (string, error) {
	deadline := time.Now().Add(controlTimeout)
	for {
		b, err := os.ReadFile(in.logPath)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("read maillog: %w", err)
		}
		if addr, ok := parseListening(b); ok {
			return addr, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("tern logged no %q within %s\nmaillog tail:\n%s",
				"service 127.0.0.1:0: listening on", controlTimeout, in.logTail(20))
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return "", err
		}
	}
}

// parseListening finds the last address master logged for 127.0.0.1:0.
func parseListening(log []byte) (string, bool) {
	m := listeningRE.FindAllSubmatch(log, -1)
	if len(m) == 0 {
		return "", false
	}
	addr := string(m[len(m)-1][1])
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", false
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return "", false
	}
	return addr, true
}

// smtpListen picks a free loopback port for Postfix's smtpd: bind port 0,
// note the port, close.
func (postfixFlavor) smtpListen() (string, error) { return pickPort() }

// smtpAddr is the address written into master.cf.
func (postfixFlavor) smtpAddr(_ context.Context, _ *instance, service string) (string, error) {
	return service, nil
}

// smtpExtra is the configuration the SMTP phase adds to both systems:
// the listener, and the bench's domain routed to the discard transport.
// Everything else keeps the defaults (smtpd_peername_lookup = yes: both
// look up 127.0.0.1's name on every connection; mynetworks includes
// 127.0.0.0/8; unknown local users are rejected, so the recipient is a
// real user).
func smtpExtra(service string) extraConf {
	return extraConf{
		main:   []string{"transport_maps = inline:{ " + smtpDomain + "=discard:bench }"},
		master: []string{service + "\tinet\tn\t-\tn\t-\t-\tsmtpd"},
	}
}

// measureSMTP runs every case on a fresh instance of one system with an
// SMTP listener.
func measureSMTP(ctx context.Context, cfg config, f flavor, rcpt, owner string, cases []smtpCase) ([]smtpFigures, error) {
	service, err := f.smtpListen()
	if err != nil {
		return nil, err
	}
	in, err := newInstance(ctx, cfg.tmpRoot, f, rcpt, owner, smtpExtra(service))
	if err != nil {
		return nil, err
	}
	defer in.close(cfg.keep)
	figs, err := smtpSystem(ctx, cfg, in, service, cases)
	if err != nil {
		return nil, fmt.Errorf("%s SMTP: %w", f.name(), err)
	}
	return figs, nil
}

// startSMTP starts the instance and waits until its SMTP service named
// service listens; it returns the address and a bencher for the instance.
func startSMTP(ctx context.Context, cfg config, in *instance, service string) (string, *bencher, error) {
	if err := in.start(ctx); err != nil {
		return "", nil, err
	}
	addr, err := in.smtpAddr(ctx, in, service)
	if err != nil {
		return "", nil, err
	}
	if err := waitListening(ctx, addr); err != nil {
		return "", nil, err
	}
	return addr, &bencher{in: in, stall: cfg.stall, lc: &logCounter{path: in.logPath}}, nil
}

// smtpSystem starts the instance, warms it up and times each case.
func smtpSystem(ctx context.Context, cfg config, in *instance, service string, cases []smtpCase) ([]smtpFigures, error) {
	addr, b, err := startSMTP(ctx, cfg, in, service)
	if err != nil {
		return nil, err
	}
	rcpt := in.rcpt + "@" + smtpDomain
	s := &sourcer{path: cfg.smtpSource, addr: addr, from: rcpt, to: rcpt, reuse: cfg.smtpReuse, timeout: cfg.smtpTimeout}
	// Warm-up at the highest concurrency: daemons (Postfix's smtpd
	// processes) started, caches filled.
	most := 1
	for _, c := range cases {
		most = max(most, c.sessions)
	}
	if err := b.smtpCase(ctx, s, smtpCase{size: smtpSmallSize, sessions: most, messages: 2 * most}, nil); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	figs := make([]smtpFigures, len(cases))
	for i, c := range cases {
		if err := b.smtpCase(ctx, s, c, &figs[i]); err != nil {
			return nil, fmt.Errorf("%s: %w", c.label(), err)
		}
	}
	return figs, in.stop(ctx)
}

// smtpCase sends one case's messages and waits until the queue has
// handed every one to the discard transport. When fig is not nil it
// records the intake rate (smtp-source's wall time) and the system's
// CPU time per message from the first connection to the last discard.
func (b *bencher) smtpCase(ctx context.Context, s *sourcer, c smtpCase, fig *smtpFigures) error {
	cpu0, err := treeCPU(b.in.masterPID())
	if err != nil {
		return fmt.Errorf("CPU time: %w", err)
	}
	start := time.Now()
	if err := s.send(ctx, c); err != nil {
		return fmt.Errorf("%w\nmaillog tail:\n%s", err, b.in.logTail(20))
	}
	elapsed := time.Since(start)
	b.submitted += c.messages
	if _, _, err := b.waitDelivered(ctx); err != nil {
		return err
	}
	cpu1, err := treeCPU(b.in.masterPID())
	if err != nil {
		return fmt.Errorf("CPU time: %w", err)
	}
	if fig != nil {
		fig.rate = float64(c.messages) / elapsed.Seconds()
		fig.cpu = (cpu1 - cpu0) / time.Duration(c.messages)
	}
	return nil
}

// waitListening polls until addr accepts a TCP connection.
func waitListening(ctx context.Context, addr string) error {
	deadline := time.Now().Add(controlTimeout)
	var d net.Dialer
	for {
		dctx, cancel := context.WithTimeout(ctx, time.Second)
		conn, err := d.DialContext(dctx, "tcp4", addr)
		cancel()
		if err == nil {
			return conn.Close()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on %s after %s: %w", addr, controlTimeout, err)
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

// sourcer runs smtp-source against one server.
type sourcer struct {
	path    string
	addr    string
	from    string // envelope sender
	to      string // envelope recipient
	reuse   bool   // -d: all of a session's messages over one connection
	timeout time.Duration
}

// args returns smtp-source's command line for c.
func (s *sourcer) args(c smtpCase) []string {
	// No -c: a progress counter written and read for every message is
	// load on the cores the systems share. Completeness is checked by
	// smtp-source's exit status (a refused message ends it with an
	// error) and by waiting for every message's delivery.
	a := []string{"-s", strconv.Itoa(c.sessions), "-m", strconv.Itoa(c.messages),
		"-l", strconv.Itoa(c.size), "-f", s.from, "-t", s.to, "-M", smtpHelo}
	if s.reuse {
		a = append(a, "-d")
	}
	return append(a, s.addr)
}

// send runs smtp-source for c, bounded by s.timeout.
func (s *sourcer) send(ctx context.Context, c smtpCase) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.path, s.args(c)...)
	cmd.WaitDelay = 5 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		return fmt.Errorf("smtp-source %s: no end within %s: %w",
			strings.Join(s.args(c), " "), s.timeout, ctx.Err())
	}
	if err != nil {
		return fmt.Errorf("smtp-source %s: %w: %s", strings.Join(s.args(c), " "), err, strings.TrimSpace(stderr.String()))
	}
	return nil
}
