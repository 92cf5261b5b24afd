package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// The relay phase: smtp-source sends mail over SMTP to each system's
// smtpd on loopback, for a domain that is not local; each system relays
// it with its smtp delivery agent to an smtp-sink of its own. The bench
// times N messages from smtp-source's start until the sink has received
// the N-th: intake, queue and the SMTP client together. Both systems run
// with their defaults (concurrency limits, connection caching, fsync),
// TLS off in the client (smtp-sink offers no STARTTLS anyway). Relaying
// is allowed because smtp-source connects from 127.0.0.1, which is in
// mynetworks (mynetworks_style = host) in both.

// relayDomain is the recipient domain routed to the sink, relayLocal the
// recipient's local part.
const (
	relayDomain = "relay.tst"
	relayLocal  = "bench"
)

// relayTargetSession is the sessions count whose row carries the
// issue's target, relayTarget the tern/Postfix relay rate it asks for.
const (
	relayTargetSession = 10
	relayTarget        = 3
)

// relayCases lists the relay phase's runs: 1 KB messages at each
// sessions count cfg asks for.
func relayCases(cfg config) []smtpCase {
	if cfg.relayN <= 0 {
		return nil
	}
	cases := make([]smtpCase, 0, len(cfg.relaySessions))
	for _, s := range cfg.relaySessions {
		cases = append(cases, smtpCase{size: smtpSmallSize, sessions: s, messages: cfg.relayN})
	}
	return cases
}

// relayUsable says whether the relay phase can run, and if not, why.
func relayUsable(cfg config) (bool, string) {
	switch {
	case cfg.noRelay:
		return false, "disabled with -no-relay"
	case cfg.smtpOnly:
		return false, "not with -smtp-only"
	case cfg.mapsOnly:
		return false, "not with -maps-only"
	case len(relayCases(cfg)) == 0:
		return false, "no cases selected"
	}
	if ok, why := sourceUsable(cfg.smtpSource); !ok {
		return false, why
	}
	return sinkUsable(cfg.smtpSink)
}

// relayMaster: tern's master.cf of the bench has no smtp client; the
// relay phase adds the line of tern's shipped master.cf.
func (ternFlavor) relayMaster() []string {
	return []string{"smtp\tunix\t-\t-\tn\t-\t-\tsmtp"}
}

// relayMaster: Postfix's master.cf.dist has its smtp client already.
func (postfixFlavor) relayMaster() []string { return nil }

// relayExtra is the configuration the relay phase adds to a system: the
// SMTP listener, its smtp client (when the flavor's master.cf lacks
// it), the relay domain routed to the sink, and no TLS in the client.
func relayExtra(f flavor, service, sinkAddr string) extraConf {
	return extraConf{
		main: []string{
			"transport_maps = inline:{ " + relayDomain + "=smtp:[" + hostOf(sinkAddr) + "]:" + portOf(sinkAddr) + " }",
			"smtp_tls_security_level = none",
		},
		master: append([]string{service + "\tinet\tn\t-\tn\t-\t-\tsmtpd"}, f.relayMaster()...),
	}
}

// hostOf and portOf split "host:port" (an IPv4 address and a port).
func hostOf(addr string) string {
	h, _, _ := strings.Cut(addr, ":")
	return h
}

func portOf(addr string) string {
	_, p, _ := strings.Cut(addr, ":")
	return p
}

// measureRelay runs every relay case on a fresh instance of one system
// and a fresh smtp-sink, both stopped again on every path.
func measureRelay(ctx context.Context, cfg config, f flavor, rcpt, owner string, cases []smtpCase) ([]smtpFigures, error) {
	sk, err := startSink(ctx, cfg.smtpSink)
	if err != nil {
		return nil, fmt.Errorf("%s relay: %w", f.name(), err)
	}
	defer sk.stop()
	service, err := f.smtpListen()
	if err != nil {
		return nil, err
	}
	in, err := newInstance(ctx, cfg.tmpRoot, f, rcpt, owner, relayExtra(f, service, sk.addr))
	if err != nil {
		return nil, err
	}
	defer in.close(cfg.keep)
	figs, err := relaySystem(ctx, cfg, in, sk, service, cases)
	if err != nil {
		return nil, fmt.Errorf("%s relay: %w", f.name(), err)
	}
	return figs, nil
}

// relaySystem starts the instance, warms it up and times each case.
func relaySystem(ctx context.Context, cfg config, in *instance, sk *sink, service string, cases []smtpCase) ([]smtpFigures, error) {
	addr, b, err := startSMTP(ctx, cfg, in, service)
	if err != nil {
		return nil, err
	}
	s := &sourcer{path: cfg.smtpSource, addr: addr, from: in.rcpt + "@" + smtpDomain,
		to: relayLocal + "@" + relayDomain, reuse: cfg.smtpReuse, timeout: cfg.smtpTimeout}
	// Warm-up at the highest concurrency: daemons started, the
	// client's connections to the sink opened.
	most := 1
	for _, c := range cases {
		most = max(most, c.sessions)
	}
	if err := b.relayCase(ctx, s, sk, smtpCase{size: smtpSmallSize, sessions: most, messages: 2 * most}, nil); err != nil {
		return nil, fmt.Errorf("warm-up: %w", err)
	}
	figs := make([]smtpFigures, len(cases))
	for i, c := range cases {
		if err := b.relayCase(ctx, s, sk, c, &figs[i]); err != nil {
			return nil, fmt.Errorf("%s: %w", c.label(), err)
		}
	}
	return figs, in.stop(ctx)
}

// relayCase sends one case's messages and waits until the sink has
// received all of them and the system has logged every delivery. When
// fig is not nil it records the rate (messages / time from smtp-source's
// start to the sink's last message) and the system's CPU time per
// message over the case.
func (b *bencher) relayCase(ctx context.Context, s *sourcer, sk *sink, c smtpCase, fig *smtpFigures) error {
	if n, _ := sk.received(); n != b.submitted {
		return fmt.Errorf("smtp-sink received %d messages before the case, %d were sent", n, b.submitted)
	}
	cpu0, err := treeCPU(b.in.masterPID())
	if err != nil {
		return fmt.Errorf("CPU time: %w", err)
	}
	start := time.Now()
	if err := s.send(ctx, c); err != nil {
		return fmt.Errorf("%w\nmaillog tail:\n%s", err, b.in.logTail(20))
	}
	b.submitted += c.messages
	last, err := b.waitSink(ctx, sk)
	if err != nil {
		return err
	}
	if _, _, err := b.waitDelivered(ctx); err != nil {
		return err
	}
	cpu1, err := treeCPU(b.in.masterPID())
	if err != nil {
		return fmt.Errorf("CPU time: %w", err)
	}
	if n, _ := sk.received(); n != b.submitted {
		return fmt.Errorf("smtp-sink received %d messages, %d were sent (a duplicate delivery?)", n, b.submitted)
	}
	if fig != nil {
		fig.rate = float64(c.messages) / last.Sub(start).Seconds()
		fig.cpu = (cpu1 - cpu0) / time.Duration(c.messages)
	}
	return nil
}

// errSinkStalled is waitSink's error when the sink's count stops growing.
var errSinkStalled = errors.New("relay stalled")

// waitSink polls until the sink has received every message submitted so
// far, and returns when the last one arrived. It fails when the system
// logs a deferral or bounce, when the sink dies, and when no message
// arrives for b.stall.
func (b *bencher) waitSink(ctx context.Context, sk *sink) (time.Time, error) {
	seen, progress := -1, time.Now()
	for {
		n, at := sk.received()
		if n >= b.submitted {
			return at, nil
		}
		if err := b.lc.update(); err != nil {
			return time.Time{}, fmt.Errorf("%s: %w\nmaillog tail:\n%s", b.in.name(), err, b.in.logTail(20))
		}
		if sk.exited() {
			return time.Time{}, fmt.Errorf("smtp-sink exited after %d of %d messages: %v: %s", n, b.submitted, sk.waitErr, sk.stderr.String())
		}
		now := time.Now()
		if n > seen {
			seen, progress = n, now
		} else if now.Sub(progress) > b.stall {
			return time.Time{}, fmt.Errorf("%s %w: smtp-sink received %d of %d messages, none for %s\nmaillog tail:\n%s",
				b.in.name(), errSinkStalled, n, b.submitted, b.stall, b.in.logTail(20))
		}
		if err := sleepCtx(ctx, pollEvery); err != nil {
			return time.Time{}, err
		}
	}
}
