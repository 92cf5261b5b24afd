package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"slices"
	"sync"
	"time"
)

// result is one system's figures from one run.
type result struct {
	injectRate   float64       // sendmail calls per second, C at a time
	latMedian    time.Duration // median of sequential sendmail calls
	latP95       time.Duration // 95th percentile of the same
	deliveryRate float64       // messages per second from a full maildrop, first to last delivery
	endToEnd     float64       // messages per second from the first call to the last delivery
	sendmailCPU  time.Duration // CPU time per sendmail call (with postdrop for Postfix)
	daemonCPU    time.Duration // CPU time of the whole system per message in the delivery phase
	smtp         []smtpFigures // the SMTP phase, one per case
	relay        []smtpFigures // the relay phase, one per case
	maps         mapFigures    // the map phase (its own medians)
}

// messageSize is the size of every test message.
const messageSize = 1024

// pollEvery is how often delivery progress is checked.
const pollEvery = 10 * time.Millisecond

// makeMessage returns a 1 KiB message numbered seq.
func makeMessage(seq int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "To: usera@example.tst\nSubject: bench message %d\n\n", seq)
	line := "The quick brown fox jumps over the lazy dog, message body line.\n"
	for b.Len()+len(line) <= messageSize-1 {
		b.WriteString(line)
	}
	for b.Len() < messageSize-1 {
		b.WriteByte('x')
	}
	b.WriteByte('\n')
	return b.Bytes()
}

// benchSystem runs every measurement on a fresh instance of one system.
func benchSystem(ctx context.Context, cfg config, in *instance) (result, error) {
	var res result
	b := &bencher{in: in, stall: cfg.stall, lc: &logCounter{path: in.logPath}}
	if err := in.start(ctx); err != nil {
		return res, err
	}
	// One message first: daemons up, mailbox created, caches warm.
	if err := b.injectSequential(ctx, 1, nil); err != nil {
		return res, err
	}
	if _, _, err := b.waitDelivered(ctx); err != nil {
		return res, err
	}
	if err := b.measureInjection(ctx, cfg, &res); err != nil {
		return res, err
	}
	if err := b.measureLatency(ctx, cfg, &res); err != nil {
		return res, err
	}
	if err := b.measureDelivery(ctx, cfg, &res); err != nil {
		return res, err
	}
	if err := in.stop(ctx); err != nil {
		return res, err
	}
	return res, b.checkMbox()
}

// bencher drives one instance and keeps count of what it submitted.
type bencher struct {
	in        *instance
	lc        *logCounter
	stall     time.Duration
	submitted int // messages handed to sendmail (exit 0)
}

// measureInjection times N sendmail calls, C at a time, then waits for
// their delivery.
func (b *bencher) measureInjection(ctx context.Context, cfg config, res *result) error {
	cpu0, err := childrenCPU()
	if err != nil {
		return err
	}
	start := time.Now()
	if err := b.injectConcurrent(ctx, cfg.messages, cfg.concurrency); err != nil {
		return err
	}
	res.injectRate = float64(cfg.messages) / time.Since(start).Seconds()
	cpu1, err := childrenCPU()
	if err != nil {
		return err
	}
	res.sendmailCPU = (cpu1 - cpu0) / time.Duration(cfg.messages)
	_, last, err := b.waitDelivered(ctx)
	if err != nil {
		return err
	}
	res.endToEnd = float64(cfg.messages) / last.Sub(start).Seconds()
	return nil
}

// measureLatency times sequential sendmail calls, then waits for their
// delivery.
func (b *bencher) measureLatency(ctx context.Context, cfg config, res *result) error {
	lat := make([]time.Duration, 0, cfg.latency)
	if err := b.injectSequential(ctx, cfg.latency, &lat); err != nil {
		return err
	}
	res.latMedian, res.latP95 = percentile(lat, 0.50), percentile(lat, 0.95)
	_, _, err := b.waitDelivered(ctx)
	return err
}

// measureDelivery fills the maildrop with N messages while the system is
// stopped, starts it, and times the first to the last delivery: pickup,
// queue manager and local delivery together.
func (b *bencher) measureDelivery(ctx context.Context, cfg config, res *result) error {
	if err := b.in.stop(ctx); err != nil {
		return err
	}
	if err := b.injectConcurrent(ctx, cfg.messages, cfg.concurrency); err != nil {
		return err
	}
	if err := b.checkHeld(cfg.messages); err != nil {
		return err
	}
	if err := b.in.start(ctx); err != nil {
		return err
	}
	first, last, err := b.waitDelivered(ctx)
	if err != nil {
		return err
	}
	cpu, err := treeCPU(b.in.masterPID())
	if err != nil {
		return fmt.Errorf("%s CPU time: %w", b.in.name(), err)
	}
	res.daemonCPU = cpu / time.Duration(cfg.messages)
	if d := last.Sub(first); d > 0 {
		res.deliveryRate = float64(cfg.messages-1) / d.Seconds()
	} else {
		res.deliveryRate = math.Inf(1)
	}
	return nil
}

// checkHeld makes sure the stopped system delivered nothing and holds
// the n new messages in its maildrop.
func (b *bencher) checkHeld(n int) error {
	if err := b.lc.update(); err != nil {
		return err
	}
	if want := b.submitted - n; b.lc.sent != want {
		return fmt.Errorf("%s delivered while stopped: %d deliveries logged, want %d", b.in.name(), b.lc.sent, want)
	}
	held, err := b.in.maildropCount()
	if err != nil {
		return err
	}
	if held != n {
		return fmt.Errorf("%s maildrop holds %d files after %d submissions while stopped", b.in.name(), held, n)
	}
	return nil
}

// injectSequential makes n sendmail calls one after another, recording
// each call's wall time in lat when it is not nil.
func (b *bencher) injectSequential(ctx context.Context, n int, lat *[]time.Duration) error {
	for i := 0; i < n; i++ {
		t := time.Now()
		if err := b.in.submit(ctx, makeMessage(b.submitted)); err != nil {
			return err
		}
		if lat != nil {
			*lat = append(*lat, time.Since(t))
		}
		b.submitted++
	}
	return nil
}

// injectConcurrent makes n sendmail calls from c concurrent callers and
// returns when all have exited; the first failure stops the others.
func (b *bencher) injectConcurrent(ctx context.Context, n, c int) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan int)
	var wg sync.WaitGroup
	var once sync.Once
	var firstErr error
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := range jobs {
				if err := b.in.submit(ctx, makeMessage(seq)); err != nil {
					once.Do(func() { firstErr = err; cancel() })
				}
			}
		}()
	}
	feed(ctx, jobs, b.submitted, n)
	wg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fmt.Errorf("interrupted: %w", ctx.Err())
	}
	if firstErr != nil {
		return firstErr
	}
	b.submitted += n
	return nil
}

// feed sends base..base+n-1 to jobs unless ctx ends, then closes jobs.
func feed(ctx context.Context, jobs chan<- int, base, n int) {
	defer close(jobs)
	for i := 0; i < n; i++ {
		select {
		case jobs <- base + i:
		case <-ctx.Done():
			return
		}
	}
}

// waitDelivered polls the maillog until every submitted message has been
// delivered. It returns when the first of the outstanding deliveries and
// the last were seen, and fails when no delivery happens for b.stall.
func (b *bencher) waitDelivered(ctx context.Context) (first, last time.Time, err error) {
	if err := b.lc.update(); err != nil {
		return first, last, err
	}
	base, seen, progress := b.lc.sent, b.lc.sent, time.Now()
	for b.lc.sent < b.submitted {
		if err := sleepCtx(ctx, pollEvery); err != nil {
			return first, last, err
		}
		if err := b.lc.update(); err != nil {
			return first, last, fmt.Errorf("%s: %w\nmaillog tail:\n%s", b.in.name(), err, b.in.logTail(20))
		}
		now := time.Now()
		if b.lc.sent > seen {
			seen, progress = b.lc.sent, now
			if first.IsZero() && b.lc.sent > base {
				first = now
			}
		} else if now.Sub(progress) > b.stall {
			return first, last, fmt.Errorf("%s delivery stalled: %d of %d messages delivered, none for %s\nmaillog tail:\n%s",
				b.in.name(), b.lc.sent, b.submitted, b.stall, b.in.logTail(20))
		}
	}
	last = time.Now()
	if first.IsZero() {
		first = last
	}
	return first, last, nil
}

// checkMbox verifies that the mailbox holds every submitted message.
func (b *bencher) checkMbox() error {
	n, err := b.in.mboxMessages()
	if err != nil {
		return err
	}
	if n != b.submitted {
		return fmt.Errorf("%s mailbox holds %d messages, %d were submitted", b.in.name(), n, b.submitted)
	}
	return nil
}

// percentile returns the nearest-rank p-quantile of d.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// logCounter counts deliveries in a growing maillog, reading only what
// was appended since the last look.
type logCounter struct {
	path    string
	off     int64
	partial []byte // an incomplete last line
	sent    int
}

// update reads the new part of the log. A deferred or bounced delivery,
// or a daemon killed by a signal, is an error: the figures would be
// meaningless.
func (lc *logCounter) update() error {
	f, err := os.Open(lc.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("open maillog: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(lc.off, io.SeekStart); err != nil {
		return fmt.Errorf("seek maillog: %w", err)
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return fmt.Errorf("read maillog: %w", err)
	}
	lc.off += int64(len(data))
	data = append(lc.partial, data...)
	end := bytes.LastIndexByte(data, '\n') + 1
	lc.partial = slices.Clone(data[end:])
	return lc.count(data[:end])
}

// count tallies the complete lines in data.
func (lc *logCounter) count(data []byte) error {
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		line := data[:i]
		data = data[i+1:]
		switch {
		case bytes.Contains(line, []byte(" status=sent ")):
			lc.sent++
		case bytes.Contains(line, []byte(" status=deferred ")), bytes.Contains(line, []byte(" status=bounced ")):
			return fmt.Errorf("delivery failed: %s", line)
		case bytes.Contains(line, []byte(" killed by signal ")):
			// Master logs a daemon's death by a signal; the figures
			// (and mailbox count) would not be comparable.
			return fmt.Errorf("a daemon died during the bench (crash, or killed from outside): %s", line)
		}
	}
	return nil
}
