// Command bench measures tern's core path — sendmail injection rate and
// latency, queue and local delivery rate —, its SMTP intake rate
// (Postfix's smtp-source at several sizes and concurrencies) and its relay
// rate end to end (smtp-source to smtpd, relayed by the smtp client to
// Postfix's smtp-sink) and, when Postfix is installed and the bench runs
// as root, does the same work on a Postfix instance configured alike in a
// temporary folder, printing tern/Postfix ratios.
//
// It is what "make bench" runs (through tests/bench/run.sh):
//
//	go run ./tests/bench -tern bin/tern [-n 3000] [-c 8] [-l 200] [-runs 1]
//	    [-smtp-only | -no-smtp] [-smtp-n 5000] [-smtp-n-large 1000] [-smtp-sessions 1,10,50]
//	    [-relay-only | -no-relay] [-relay-n 5000] [-relay-sessions 1,10,50]
//	    [-maps-only | -no-maps] [-maps-keys 1000000] [-maps-queries 100000] [-maps-runs 3]
//
// Every instance lives in its own temporary folder on loopback and is
// stopped and removed at the end, also on error or interrupt.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// config holds the command-line settings of one bench invocation.
type config struct {
	messages    int           // N: messages per injection and delivery phase
	concurrency int           // concurrent sendmail callers
	latency     int           // sequential calls timed for latency
	runs        int           // repetitions of the whole bench
	tern        string        // the tern binary
	postfixMail string        // Postfix's sendmail
	noPostfix   bool          // measure tern only
	stall       time.Duration // give up when delivery makes no progress this long
	strict      bool          // exit 1 when a target is missed
	tmpRoot     string        // where the temporary folders go ("": the system's)
	keep        bool          // keep the instances' folders (for their logs)

	// The SMTP intake phase.
	smtpOnly     bool          // run the SMTP phase alone
	noSMTP       bool          // skip the SMTP phase
	smtpSource   string        // Postfix's smtp-source
	smtpSessions []int         // parallel sessions of each case
	smtpSmall    int           // 1 KB messages per sessions count (0: none)
	smtpLarge    int           // 100 KB messages per sessions count (0: none)
	smtpReuse    bool          // smtp-source -d: one connection per session
	smtpTimeout  time.Duration // bound of one smtp-source run

	// The relay phase (smtp-source -> system -> smtp-sink).
	relayOnly     bool   // run the relay phase alone
	noRelay       bool   // skip the relay phase
	smtpSink      string // Postfix's smtp-sink
	relaySessions []int  // smtp-source's parallel sessions of each case
	relayN        int    // 1 KB messages per sessions count (0: none)

	// The map phase (tern map vs postmap: build and -q - lookups).
	mapsOnly    bool   // run the map phase alone
	noMaps      bool   // skip the map phase
	postmap     string // Postfix's postmap
	mapsKeys    int    // keys of the table (0: no map phase)
	mapsQueries int    // keys looked up with -q -
	mapsRuns    int    // runs of the map phase, for medians
}

func main() {
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	defer stop()
	missed, err := run(ctx, cfg, os.Stdout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		stop()
		os.Exit(1)
	}
	if missed && cfg.strict {
		stop()
		os.Exit(1)
	}
}

// parseFlags reads the command line into a config.
func parseFlags(args []string, errOut io.Writer) (config, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(errOut)
	var cfg config
	fs.IntVar(&cfg.messages, "n", 3000, "messages per injection and delivery phase (tern delivers 1,000 in under a second: fewer make the delivery rate a measure of start-up)")
	fs.IntVar(&cfg.concurrency, "c", 8, "concurrent sendmail callers in the injection-rate phase")
	fs.IntVar(&cfg.latency, "l", 200, "sequential sendmail calls timed for latency")
	fs.IntVar(&cfg.runs, "runs", 1, "repeat the whole bench this many times and report medians")
	fs.StringVar(&cfg.tern, "tern", "bin/tern", "the tern binary (make build puts the sendmail binary beside it)")
	fs.StringVar(&cfg.postfixMail, "postfix-sendmail", "/usr/sbin/sendmail", "Postfix's sendmail")
	fs.BoolVar(&cfg.noPostfix, "no-postfix", false, "measure tern only")
	fs.DurationVar(&cfg.stall, "stall", 120*time.Second, "fail when delivery makes no progress for this long")
	fs.BoolVar(&cfg.strict, "strict", false, "exit 1 when tern misses a target")
	fs.BoolVar(&cfg.keep, "keep", false, "keep the instances' temporary folders (logs, mailboxes) and print where")
	fs.StringVar(&cfg.tmpRoot, "tmpdir", "", "folder for the instances' temporary folders (default: $TMPDIR or /tmp)")
	fs.BoolVar(&cfg.smtpOnly, "smtp-only", false, "run only the SMTP intake phase")
	fs.BoolVar(&cfg.noSMTP, "no-smtp", false, "skip the SMTP intake phase")
	fs.StringVar(&cfg.smtpSource, "smtp-source", "/usr/sbin/smtp-source", "Postfix's SMTP load generator")
	sessions := fs.String("smtp-sessions", "1,10,50", "SMTP phase: comma-separated parallel session counts")
	fs.IntVar(&cfg.smtpSmall, "smtp-n", 5000, "SMTP phase: 1 KB messages per session count (0: none); runs well over a second, so start-up does not weigh")
	fs.IntVar(&cfg.smtpLarge, "smtp-n-large", 1000, "SMTP phase: 100 KB messages per session count (0: none)")
	fs.BoolVar(&cfg.smtpReuse, "smtp-reuse", false, "SMTP phase: send all of a session's messages over one connection (smtp-source -d)")
	fs.DurationVar(&cfg.smtpTimeout, "smtp-timeout", 3*time.Minute, "SMTP phase: give up on one smtp-source run after this long")
	fs.BoolVar(&cfg.relayOnly, "relay-only", false, "run only the relay phase (smtp-source -> system -> smtp-sink)")
	fs.BoolVar(&cfg.noRelay, "no-relay", false, "skip the relay phase")
	fs.StringVar(&cfg.smtpSink, "smtp-sink", "/usr/sbin/smtp-sink", "Postfix's SMTP test server, the relay phase's destination")
	relaySessions := fs.String("relay-sessions", "1,10,50", "relay phase: comma-separated smtp-source parallel session counts")
	fs.IntVar(&cfg.relayN, "relay-n", 5000, "relay phase: 1 KB messages per session count (0: none)")
	fs.BoolVar(&cfg.mapsOnly, "maps-only", false, "run only the map phase (tern map vs postmap: build and -q - lookups)")
	fs.BoolVar(&cfg.noMaps, "no-maps", false, "skip the map phase")
	fs.StringVar(&cfg.postmap, "postmap", "/usr/sbin/postmap", "Postfix's postmap, the map phase's comparison")
	fs.IntVar(&cfg.mapsKeys, "maps-keys", 1_000_000, "map phase: keys of the hash: table (0: no map phase)")
	fs.IntVar(&cfg.mapsQueries, "maps-queries", 100_000, "map phase: keys looked up with -q -, half of them present")
	fs.IntVar(&cfg.mapsRuns, "maps-runs", 3, "map phase: runs, of which the medians are reported")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	var err error
	if cfg.smtpSessions, err = parseSessions(*sessions); err != nil {
		fmt.Fprintln(errOut, "bench: -smtp-sessions:", err)
		return cfg, err
	}
	if cfg.relaySessions, err = parseSessions(*relaySessions); err != nil {
		fmt.Fprintln(errOut, "bench: -relay-sessions:", err)
		return cfg, err
	}
	if err := checkPhases(cfg); err != nil {
		fmt.Fprintln(errOut, "bench:", err)
		return cfg, err
	}
	if cfg.smtpOnly && cfg.noSMTP || cfg.smtpSmall < 0 || cfg.smtpLarge < 0 || cfg.smtpTimeout <= 0 ||
		cfg.smtpOnly && cfg.smtpSmall == 0 && cfg.smtpLarge == 0 {
		fmt.Fprintln(errOut, "bench: need -smtp-n >= 0, -smtp-n-large >= 0 (not both 0 with -smtp-only), -smtp-timeout > 0, and not both -smtp-only and -no-smtp")
		return cfg, errors.New("bad flag values")
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(errOut, "bench: unexpected argument %q\n", fs.Arg(0))
		return cfg, errors.New("unexpected arguments")
	}
	if cfg.messages < 2 || cfg.concurrency < 1 || cfg.latency < 1 || cfg.runs < 1 || cfg.stall <= 0 {
		fmt.Fprintln(errOut, "bench: need -n >= 2, -c >= 1, -l >= 1, -runs >= 1, -stall > 0")
		return cfg, errors.New("bad flag values")
	}
	return cfg, nil
}

// checkPhases rejects contradicting phase flags.
func checkPhases(cfg config) error {
	switch {
	case cfg.relayOnly && cfg.noRelay:
		return errors.New("not both -relay-only and -no-relay")
	case cfg.relayOnly && cfg.smtpOnly:
		return errors.New("not both -relay-only and -smtp-only")
	case cfg.relayN < 0:
		return errors.New("need -relay-n >= 0")
	case cfg.relayOnly && cfg.relayN == 0:
		return errors.New("-relay-only needs -relay-n > 0")
	case cfg.mapsOnly && (cfg.noMaps || cfg.smtpOnly || cfg.relayOnly):
		return errors.New("-maps-only goes with none of -no-maps, -smtp-only, -relay-only")
	case cfg.mapsKeys < 0 || cfg.mapsQueries < 1 || cfg.mapsRuns < 1:
		return errors.New("need -maps-keys >= 0, -maps-queries >= 1, -maps-runs >= 1")
	case cfg.mapsOnly && cfg.mapsKeys == 0:
		return errors.New("-maps-only needs -maps-keys > 0")
	}
	return nil
}
