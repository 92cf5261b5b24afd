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

// printTable writes one table of figures; it reports whether tern missed
// a target (only when Postfix was measured).
func printTable(w io.Writer, title string, r runResults, withPostfix bool) bool {
	fmt.Fprintf(w, "\n%s\n", title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if !withPostfix {
		fmt.Fprintln(tw, "metric\tunit\ttern")
		for _, m := range metrics() {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", m.label, m.unit, num(m.value(r.tern)))
		}
		tw.Flush()
		return false
	}
	missed := false
	fmt.Fprintln(tw, "metric\tunit\ttern\tpostfix\ttern advantage\ttarget\tresult")
	for _, m := range metrics() {
		t, p := m.value(r.tern), m.value(r.postfix)
		adv := t / p
		if !m.higher {
			adv = p / t
		}
		target, mark := "-", "-"
		if m.target > 0 {
			target = fmt.Sprintf(">= %gx", m.target)
			mark = "PASS"
			if !(adv >= m.target) {
				mark = fmt.Sprintf("BELOW (%.0f%% of target)", 100*adv/m.target)
				missed = true
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.2f%s\t%s\t%s\n", m.label, m.unit, num(t), num(p), adv, m.adv, target, mark)
	}
	tw.Flush()
	return missed
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
		}
	}
	return runResults{
		tern:    pick(func(r runResults) result { return r.tern }),
		postfix: pick(func(r runResults) result { return r.postfix }),
	}
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

// printHeader describes the setup of the bench.
func printHeader(w io.Writer, cfg config, cores int, ternVersion, postfixVersion, noPostfixWhy string) {
	fmt.Fprintf(w, "tern bench: %d messages of %d bytes to one local mbox recipient; injection %d callers at a time; latency over %d sequential calls; %d run(s)\n",
		cfg.messages, messageSize, cfg.concurrency, cfg.latency, cfg.runs)
	fmt.Fprintf(w, "machine: %d CPU cores, load average %.2f at start\n", cores, loadAverage())
	fmt.Fprint(w, ternVersion)
	if noPostfixWhy == "" {
		fmt.Fprintf(w, " vs Postfix %s, both configured alike in temporary folders (mailbox fsync on both)\n", postfixVersion)
	} else {
		fmt.Fprintf(w, "; no Postfix comparison: %s\n", noPostfixWhy)
	}
}

// printFooter explains the figures; loadStart (the load average before
// the bench) tells whether other work competed for the cores.
func printFooter(w io.Writer, withPostfix bool, runs int, loadStart float64, cores int) {
	notes := []string{
		"injection rate: sendmail calls per second until all exited 0; latency: wall time of one sendmail call.",
		"queue+local delivery rate: N messages put in the maildrop while stopped, then the system started;",
		"  (N-1) / time from the first to the last delivery logged (pickup, queue manager and local together).",
		"end-to-end rate: N / time from the first concurrent sendmail call to the last delivery.",
		"CPU per sendmail call: user+system time of sendmail (and Postfix's postdrop) in the injection-rate phase;",
		"  daemon CPU: all of the system's processes in the delivery phase, per message. CPU figures suffer",
		"  less than wall times when other work competes for the cores (10 ms ticks: use large -n).",
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
