package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// metric is one line of the report.
type metric struct {
	label  string
	unit   string
	value  func(result) float64
	higher bool    // a higher value is better (else lower is)
	target float64 // the tern/Postfix advantage the issue asks for; 0: none
	adv    string  // what the advantage is called: "x rate", "x speedup"
}

// metrics lists the report's lines in order.
func metrics() []metric {
	return []metric{
		{"sendmail injection rate", "msg/s", func(r result) float64 { return r.injectRate }, true, 5, "x rate"},
		{"sendmail latency, median", "ms", func(r result) float64 { return ms(r.latMedian) }, false, 5, "x speedup"},
		{"sendmail latency, p95", "ms", func(r result) float64 { return ms(r.latP95) }, false, 0, "x speedup"},
		{"queue+local delivery rate", "msg/s", func(r result) float64 { return r.deliveryRate }, true, 2, "x rate"},
		{"end-to-end rate (inject+deliver)", "msg/s", func(r result) float64 { return r.endToEnd }, true, 0, "x rate"},
		{"CPU per sendmail call", "ms", func(r result) float64 { return ms(r.sendmailCPU) }, false, 0, "x less CPU"},
		{"daemon CPU per delivered message", "ms", func(r result) float64 { return ms(r.daemonCPU) }, false, 0, "x less CPU"},
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// runResults is what one run measured: tern always, Postfix when compared.
type runResults struct {
	tern, postfix result
}

// smtpMetrics lists the SMTP phase's lines: the intake rate of every
// case, then the CPU time per message of every case.
func smtpMetrics(cases []smtpCase) []metric {
	return caseMetrics(cases, "SMTP intake ", "CPU per message ", smtpTargetSession, smtpTarget,
		func(r result) []smtpFigures { return r.smtp })
}

// relayMetrics lists the relay phase's lines: the relay rate of every
// case, then the CPU time per message of every case.
func relayMetrics(cases []smtpCase) []metric {
	return caseMetrics(cases, "relay rate ", "relay CPU per message ", relayTargetSession, relayTarget,
		func(r result) []smtpFigures { return r.relay })
}

// caseMetrics lists a rate line per case (the targetSessions row with
// the target), then a CPU line per case, reading the figures that figs
// picks from a result.
func caseMetrics(cases []smtpCase, ratePrefix, cpuPrefix string, targetSessions int, targetAdv float64,
	figs func(result) []smtpFigures) []metric {
	var rates, cpus []metric
	for i, c := range cases {
		target := 0.0
		if c.sessions == targetSessions {
			target = targetAdv
		}
		rates = append(rates, metric{ratePrefix + c.label(), "msg/s", func(r result) float64 {
			if f := figs(r); i < len(f) {
				return f[i].rate
			}
			return math.NaN()
		}, true, target, "x rate"})
		cpus = append(cpus, metric{cpuPrefix + c.label(), "ms", func(r result) float64 {
			if f := figs(r); i < len(f) {
				return ms(f[i].cpu)
			}
			return math.NaN()
		}, false, 0, "x less CPU"})
	}
	return append(rates, cpus...)
}

// printRun writes a run's tables (core when planned, SMTP and relay when
// they have cases); it reports whether tern missed a target.
func printRun(w io.Writer, title string, p plan, r runResults, withPostfix bool) bool {
	missed := false
	if p.core {
		missed = printTable(w, title+":", r, withPostfix)
	}
	if len(p.smtp) > 0 {
		missed = printRows(w, title+", SMTP intake:", smtpMetrics(p.smtp), r, withPostfix) || missed
	}
	if len(p.relay) > 0 {
		missed = printRows(w, title+", relay (smtp-source -> smtpd -> smtp -> smtp-sink):",
			relayMetrics(p.relay), r, withPostfix) || missed
	}
	return missed
}

// printTable writes one table of the core figures; it reports whether
// tern missed a target (only when Postfix was measured).
func printTable(w io.Writer, title string, r runResults, withPostfix bool) bool {
	return printRows(w, title, metrics(), r, withPostfix)
}

// printRows writes one table of figures; it reports whether tern missed
// a target (only when Postfix was measured).
func printRows(w io.Writer, title string, rows []metric, r runResults, withPostfix bool) bool {
	fmt.Fprintf(w, "\n%s\n", title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if !withPostfix {
		fmt.Fprintln(tw, "metric\tunit\ttern")
		for _, m := range rows {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", m.label, m.unit, num(m.value(r.tern)))
		}
		tw.Flush()
		return false
	}
	missed := false
	fmt.Fprintln(tw, "metric\tunit\ttern\tpostfix\ttern advantage\ttarget\tresult")
	for _, m := range rows {
		t, p := m.value(r.tern), m.value(r.postfix)
		adv := m.advantage(r)
		target, mark := "-", "-"
		if m.target > 0 {
			target, mark = m.verdict(adv)
			missed = missed || mark != "PASS"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f%s\t%s\t%s\n", m.label, m.unit, num(t), num(p), adv, m.adv, target, mark)
	}
	tw.Flush()
	return missed
}

// advantage is tern's advantage over Postfix in r: tern/Postfix for a
// figure where higher is better, Postfix/tern otherwise.
func (m metric) advantage(r runResults) float64 {
	t, p := m.value(r.tern), m.value(r.postfix)
	if !m.higher {
		return p / t
	}
	return t / p
}

// verdict names m's target and whether adv meets it.
func (m metric) verdict(adv float64) (target, mark string) {
	target = fmt.Sprintf(">= %gx", m.target)
	if !(adv >= m.target) {
		return target, fmt.Sprintf("BELOW (%.0f%% of target)", 100*adv/m.target)
	}
	return target, "PASS"
}

// printPairedAdvantages writes, for each figure with a target, tern's
// advantage in each run and the median of those. A run measures both
// systems back to back, so its ratio cancels much of what the machine
// did between runs, which the medians of each system's figures do not.
// It is shown beside the medians' table, whose verdicts stand.
func printPairedAdvantages(w io.Writer, p plan, runs []runResults) {
	var rows []metric
	if p.core {
		rows = append(rows, metrics()...)
	}
	if len(p.smtp) > 0 {
		rows = append(rows, smtpMetrics(p.smtp)...)
	}
	if len(p.relay) > 0 {
		rows = append(rows, relayMetrics(p.relay)...)
	}
	fmt.Fprintf(w, "\nmedian of the per-run advantages (each run measures both systems back to back):\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tper run\tmedian\ttarget\tresult")
	for _, m := range rows {
		if m.target <= 0 {
			continue
		}
		advs := make([]float64, len(runs))
		each := make([]string, len(runs))
		for i, r := range runs {
			advs[i] = m.advantage(r)
			each[i] = fmt.Sprintf("%.2f", advs[i])
		}
		med := median(advs)
		target, mark := m.verdict(med)
		fmt.Fprintf(tw, "%s\t%s\t%.2f%s\t%s\t%s\n", m.label, strings.Join(each, " "), med, m.adv, target, mark)
	}
	tw.Flush()
}

// num formats a figure with about three significant digits.
func num(v float64) string {
	switch {
	case math.IsInf(v, 0) || math.IsNaN(v):
		return fmt.Sprint(v)
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}

// medians returns, per system and metric, the median over the runs, as a
// result.
func medians(runs []runResults) runResults {
	pick := func(sys func(runResults) result) result {
		med := func(f func(result) float64) float64 {
			v := make([]float64, len(runs))
			for i, r := range runs {
				v[i] = f(sys(r))
			}
			return median(v)
		}
		medDur := func(f func(result) time.Duration) time.Duration {
			return time.Duration(med(func(r result) float64 { return float64(f(r)) }))
		}
		return result{
			injectRate:   med(func(r result) float64 { return r.injectRate }),
			latMedian:    medDur(func(r result) time.Duration { return r.latMedian }),
			latP95:       medDur(func(r result) time.Duration { return r.latP95 }),
			deliveryRate: med(func(r result) float64 { return r.deliveryRate }),
			endToEnd:     med(func(r result) float64 { return r.endToEnd }),
			sendmailCPU:  medDur(func(r result) time.Duration { return r.sendmailCPU }),
			daemonCPU:    medDur(func(r result) time.Duration { return r.daemonCPU }),
			smtp:         medFigures(runs, func(r runResults) []smtpFigures { return sys(r).smtp }),
			relay:        medFigures(runs, func(r runResults) []smtpFigures { return sys(r).relay }),
		}
	}
	return runResults{
		tern:    pick(func(r runResults) result { return r.tern }),
		postfix: pick(func(r runResults) result { return r.postfix }),
	}
}

// medFigures returns the median of each case's figures, as figs picks
// them from a run, over the runs (nil when there are none).
func medFigures(runs []runResults, figs func(runResults) []smtpFigures) []smtpFigures {
	if len(runs) == 0 {
		return nil
	}
	n := len(figs(runs[0]))
	for _, r := range runs {
		n = min(n, len(figs(r)))
	}
	if n == 0 {
		return nil
	}
	out := make([]smtpFigures, n)
	rate, cpu := make([]float64, len(runs)), make([]float64, len(runs))
	for i := range out {
		for j, r := range runs {
			f := figs(r)[i]
			rate[j], cpu[j] = f.rate, float64(f.cpu)
		}
		out[i] = smtpFigures{rate: median(rate), cpu: time.Duration(median(cpu))}
	}
	return out
}

// median returns the middle value (the mean of the two middle ones for
// an even count).
func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// printHeader describes the setup of the bench: the phases that run
// (the SMTP and relay ones when they have cases, else why not).
func printHeader(w io.Writer, cfg config, cores int, ternVersion, postfixVersion, noPostfixWhy string, p plan) {
	if p.core {
		fmt.Fprintf(w, "tern bench: %d messages of %d bytes to one local mbox recipient; injection %d callers at a time; latency over %d sequential calls; %d run(s)\n",
			cfg.messages, messageSize, cfg.concurrency, cfg.latency, cfg.runs)
	}
	conn := "a new connection per message"
	if cfg.smtpReuse {
		conn = "one connection per session (-d)"
	}
	if len(p.smtp) > 0 {
		fmt.Fprintf(w, "SMTP intake bench: smtp-source, %s; %s; recipient a local user routed to the discard transport; %d run(s)\n",
			conn, smtpCaseList(p.smtp), cfg.runs)
	} else {
		fmt.Fprintf(w, "no SMTP intake bench: %s\n", p.smtpWhy)
	}
	if len(p.relay) > 0 {
		fmt.Fprintf(w, "relay bench: smtp-source (%s) -> smtpd -> queue -> smtp client -> smtp-sink, all on 127.0.0.1; %s; %d run(s)\n",
			conn, smtpCaseList(p.relay), cfg.runs)
	} else {
		fmt.Fprintf(w, "no relay bench: %s\n", p.relayWhy)
	}
	fmt.Fprintf(w, "machine: %d CPU cores, load average %.2f at start\n", cores, loadAverage())
	fmt.Fprint(w, ternVersion)
	if noPostfixWhy == "" {
		fmt.Fprintf(w, " vs Postfix %s, both configured alike in temporary folders (mailbox and queue fsync on both)\n", postfixVersion)
	} else {
		fmt.Fprintf(w, "; no Postfix comparison: %s\n", noPostfixWhy)
	}
}

// smtpCaseList summarises the cases: "2000 x 1 KB, 300 x 100 KB at 1,
// 10, 50 sessions".
func smtpCaseList(cases []smtpCase) string {
	var sizes, sessions []string
	seenSize, seenSess := map[int]bool{}, map[int]bool{}
	for _, c := range cases {
		if !seenSize[c.size] {
			seenSize[c.size] = true
			sizes = append(sizes, fmt.Sprintf("%d x %s", c.messages, sizeLabel(c.size)))
		}
		if !seenSess[c.sessions] {
			seenSess[c.sessions] = true
			sessions = append(sessions, fmt.Sprint(c.sessions))
		}
	}
	return strings.Join(sizes, ", ") + " at " + strings.Join(sessions, ", ") + " parallel sessions"
}

// printFooter explains the figures; loadStart (the load average before
// the bench) tells whether other work competed for the cores.
func printFooter(w io.Writer, withPostfix bool, p plan, runs int, loadStart float64, cores int) {
	var notes []string
	if p.core {
		notes = append(notes, coreNotes()...)
	}
	if len(p.smtp) > 0 {
		notes = append(notes, smtpNotes()...)
	}
	if len(p.relay) > 0 {
		notes = append(notes, relayNotes()...)
	}
	if withPostfix {
		notes = append(notes, "tern advantage: tern/Postfix for rates, Postfix/tern for latencies and CPU (> 1 is better for tern).")
	}
	if runs < 3 {
		notes = append(notes, "Quote the medians of several runs (-runs 3 or more): single runs are noisy.")
	} else {
		notes = append(notes, "Quote the medians; the per-run tables show the spread.")
	}
	if loadStart > float64(cores)/2 {
		notes = append(notes, fmt.Sprintf("WARNING: the machine was busy before the bench (load average %.2f on %d cores): rates and latencies are unreliable.", loadStart, cores))
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, strings.Join(notes, "\n"))
}

// smtpNotes explain the SMTP phase's figures.
func smtpNotes() []string {
	return []string{
		"SMTP intake rate: messages / wall time of one smtp-source run (Postfix's load generator, on the same cores);",
		"  a 250 after DATA only once the message is fsynced, in both; smtpd defaults in both (client name lookup",
		"  of 127.0.0.1 on every connection, mynetworks 127.0.0.0/8, unknown local users rejected). Deliveries to",
		"  discard run meanwhile in both; the queue is drained between cases (not timed). CPU per message: all of",
		"  the system's processes from the first connection to the last discard of the case.",
	}
}

// coreNotes explain the core phase's figures.
func coreNotes() []string {
	return []string{
		"injection rate: sendmail calls per second until all exited 0; latency: wall time of one sendmail call.",
		"queue+local delivery rate: N messages put in the maildrop while stopped, then the system started;",
		"  (N-1) / time from the first to the last delivery logged (pickup, queue manager and local together).",
		"end-to-end rate: N / time from the first concurrent sendmail call to the last delivery.",
		"CPU per sendmail call: user+system time of sendmail (and Postfix's postdrop) in the injection-rate phase;",
		"  daemon CPU: all of the system's processes in the delivery phase, per message. CPU figures suffer",
		"  less than wall times when other work competes for the cores (10 ms ticks: use large -n).",
	}
}

// relayNotes explain the relay phase's figures.
func relayNotes() []string {
	return []string{
		"relay rate: N / time from smtp-source's start until the system's smtp-sink has received the N-th message",
		"  (intake, queue and the smtp client together; smtp-source and smtp-sink share the cores). The recipient",
		"  domain is routed with transport_maps to [127.0.0.1]:sink port; relaying allowed by mynetworks; default",
		"  concurrency limits and connection caching, smtp_tls_security_level = none, queue fsync in both.",
		"  relay CPU per message: all of the system's processes from smtp-source's start to the last delivery logged.",
	}
}
