package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"runtime"
	"strings"
)

// run runs the bench as cfg says and writes the report to w. It reports
// whether tern missed a target against Postfix.
func run(ctx context.Context, cfg config, w io.Writer) (bool, error) {
	if cfg.mapsOnly {
		return runMapsOnly(ctx, cfg, w)
	}
	rcpt, owner, err := identities()
	if err != nil {
		return false, err
	}
	withPostfix, why := false, "disabled with -no-postfix"
	if !cfg.noPostfix {
		withPostfix, why = postfixUsable(cfg.postfixMail)
	}
	binDir, err := os.MkdirTemp(cfg.tmpRoot, "tern-bench-bin-")
	if err != nil {
		return false, fmt.Errorf("temporary folder: %w", err)
	}
	defer os.RemoveAll(binDir)
	if err := os.Chmod(binDir, 0o755); err != nil {
		return false, fmt.Errorf("chmod %s: %w", binDir, err)
	}
	ternBin, err := installTern(cfg.tern, binDir)
	if err != nil {
		return false, err
	}
	pfVersion := ""
	if withPostfix {
		pfVersion = postfixVersion(ctx)
	}
	p, err := makePlan(cfg)
	if err != nil {
		return false, err
	}
	loadStart := loadAverage()
	printHeader(w, cfg, runtime.NumCPU(), ternVersion(ctx, ternBin), pfVersion, why, p)
	flavors := []flavor{ternFlavor{bin: ternBin}}
	if withPostfix {
		flavors = append(flavors, postfixFlavor{sendmailPath: cfg.postfixMail})
	}
	all := make([]runResults, 0, cfg.runs)
	missed := false
	for i := range cfg.runs {
		r, err := oneRun(ctx, cfg, flavors, rcpt, owner, p)
		if err != nil {
			return false, fmt.Errorf("run %d: %w", i+1, err)
		}
		all = append(all, r)
		missed = printRun(w, fmt.Sprintf("run %d of %d", i+1, cfg.runs), p, r, withPostfix)
	}
	if cfg.runs > 1 {
		missed = printRun(w, fmt.Sprintf("median of %d runs", cfg.runs), p, medians(all), withPostfix)
		if withPostfix {
			printPairedAdvantages(w, p, all)
		}
	}
	printFooter(w, withPostfix, p, cfg.runs, loadStart, runtime.NumCPU())
	if mapsUsable(cfg) {
		m, err := runMaps(ctx, cfg, ternBin, w)
		if err != nil {
			return false, err
		}
		missed = missed || m
	}
	return missed, nil
}

// runMapsOnly runs the map phase alone (-maps-only): it needs no mail
// system, test users or root.
func runMapsOnly(ctx context.Context, cfg config, w io.Writer) (bool, error) {
	fmt.Fprintf(w, "machine: %d CPU cores, load average %.2f at start\n", runtime.NumCPU(), loadAverage())
	return runMaps(ctx, cfg, cfg.tern, w)
}

// plan is what one bench invocation measures: the core phase, the SMTP
// intake cases and the relay cases (each phase skipped when it has
// none), and why a phase that has none does not run.
type plan struct {
	core     bool
	smtp     []smtpCase
	smtpWhy  string
	relay    []smtpCase
	relayWhy string
}

// makePlan decides the phases from cfg and what is installed; a phase
// asked for alone (-smtp-only, -relay-only) that cannot run is an error.
func makePlan(cfg config) (plan, error) {
	p := plan{core: !cfg.smtpOnly && !cfg.relayOnly}
	ok, why := smtpUsable(cfg)
	if ok {
		p.smtp = smtpCases(cfg)
	} else if cfg.smtpOnly {
		return p, fmt.Errorf("-smtp-only, but the SMTP phase cannot run: %s", why)
	}
	p.smtpWhy = why
	ok, why = relayUsable(cfg)
	if ok {
		p.relay = relayCases(cfg)
	} else if cfg.relayOnly {
		return p, fmt.Errorf("-relay-only, but the relay phase cannot run: %s", why)
	}
	p.relayWhy = why
	return p, nil
}

// oneRun measures each system in turn, each phase on a fresh instance.
func oneRun(ctx context.Context, cfg config, flavors []flavor, rcpt, owner string, p plan) (runResults, error) {
	var r runResults
	for _, f := range flavors {
		var res result
		var err error
		if p.core {
			if res, err = measureOne(ctx, cfg, f, rcpt, owner); err != nil {
				return r, err
			}
		}
		if len(p.smtp) > 0 {
			if res.smtp, err = measureSMTP(ctx, cfg, f, rcpt, owner, p.smtp); err != nil {
				return r, err
			}
		}
		if len(p.relay) > 0 {
			if res.relay, err = measureRelay(ctx, cfg, f, rcpt, owner, p.relay); err != nil {
				return r, err
			}
		}
		if f.name() == "tern" {
			r.tern = res
		} else {
			r.postfix = res
		}
	}
	return r, nil
}

// measureOne sets up one system, measures it and removes it again.
func measureOne(ctx context.Context, cfg config, f flavor, rcpt, owner string) (result, error) {
	in, err := newInstance(ctx, cfg.tmpRoot, f, rcpt, owner, extraConf{})
	if err != nil {
		return result{}, err
	}
	defer in.close(cfg.keep)
	res, err := benchSystem(ctx, cfg, in)
	if err != nil {
		return res, fmt.Errorf("%s: %w", f.name(), err)
	}
	return res, nil
}

// identities returns the recipient and the mail_owner: as root the test
// user usera and postfix (as tests/setup-users.sh creates them), else the
// invoking user for both.
func identities() (rcpt, owner string, err error) {
	if os.Geteuid() == 0 {
		for _, name := range []string{"usera", "postfix"} {
			if _, err := user.Lookup(name); err != nil {
				return "", "", fmt.Errorf("user %s missing (run tests/setup-users.sh as root): %w", name, err)
			}
		}
		return "usera", "postfix", nil
	}
	u, err := user.Current()
	if err != nil {
		return "", "", fmt.Errorf("current user: %w", err)
	}
	return u.Username, u.Username, nil
}

// ternVersion returns what "tern version" prints ("" if it fails).
func ternVersion(ctx context.Context, bin string) string {
	out, err := exec.CommandContext(ctx, bin, "version").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}
