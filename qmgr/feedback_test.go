package qmgr

import (
	"strings"
	"testing"
	"time"

	"github.com/tern-mta/tern/internal/testutil"
	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/maillog"
)

func TestParseFeedback(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want feedbackAmount
		ok   bool
	}{
		{"1/concurrency", feedbackAmount{1, true}, true},
		{" 0.5 / Concurrency ", feedbackAmount{0.5, true}, true},
		{"1", feedbackAmount{1, false}, true},
		{"0", feedbackAmount{0, false}, true},
		{"2", feedbackAmount{}, false},
		{"1/window", feedbackAmount{}, false},
		{"-0.1", feedbackAmount{}, false},
		{"", feedbackAmount{}, false},
	} {
		got, err := parseFeedback(tt.in)
		if (err == nil) != tt.ok || tt.ok && got != tt.want {
			t.Errorf("parseFeedback(%q) = %+v, %v; want %+v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

// feedbackTransport is an smtp transport of a manager with main.cf src.
func feedbackTransport(t *testing.T, src string) (*transport, *testutil.SyncBuffer) {
	t.Helper()
	cfg, err := config.Parse("main.cf", strings.NewReader(src))
	if err != nil {
		t.Fatal(err)
	}
	log := &testutil.SyncBuffer{}
	m := &Manager{cfg: cfg, log: maillog.NewWriter(log, "qmgr"), settings: loadSettings(cfg)}
	m.settings.queueRunDelay = time.Hour
	return newTransport(&scheduler{m: m}, "smtp"), log
}

// failJobs feeds n failed jobs to dest, overlapping as a window's worth
// of parallel deliveries do, and reports whether dest is then dead.
func failJobs(tr *transport, dest string, n int) bool {
	j := &job{dest: dest}
	refused := []agent.Result{{Status: agent.Defer, DSN: "4.4.1", Text: "connect to mx: Connection refused"}}
	for i := 0; i < n; i++ {
		tr.busy[dest] += 2 // another job stays in flight
		tr.release(j, refused)
		tr.busy[dest]--
	}
	_, dead := tr.suspended(dest)
	return dead
}

// TestFailedCohortLimit: a destination is dead after one window's worth
// of failures in a row (Postfix's default failed cohort limit of 1), not
// only once its window has shrunk to 1; a delivery in between starts the
// count again; the limit is read per transport, and 0 never gives up.
func TestFailedCohortLimit(t *testing.T) {
	tr, _ := feedbackTransport(t, "")
	if failJobs(tr, "a.example", 4) {
		t.Error("dead after 4 failures with a window of 5")
	}
	if !failJobs(tr, "a.example", 1) {
		t.Error("not dead after 5 failures with a window of 5")
	}

	tr, _ = feedbackTransport(t, "")
	failJobs(tr, "b.example", 4)
	j := &job{dest: "b.example"}
	tr.busy[j.dest] += 2
	tr.release(j, []agent.Result{{Status: agent.OK, Relay: "mx[192.0.2.1]:25"}})
	tr.busy[j.dest]--
	if failJobs(tr, "b.example", 2) {
		t.Error("a delivery did not reset the failed cohorts")
	}

	tr, _ = feedbackTransport(t, "smtp_destination_concurrency_failed_cohort_limit = 0\n")
	if failJobs(tr, "c.example", 500) {
		t.Error("dead with a failed cohort limit of 0")
	}
	tr, _ = feedbackTransport(t, "default_destination_concurrency_failed_cohort_limit = 3\nsmtp_initial_destination_concurrency = 1\n")
	if failJobs(tr, "d.example", 2) || !failJobs(tr, "d.example", 1) {
		t.Error("with a window of 1 and a limit of 3, not dead at the third failure exactly")
	}
}

// TestConcurrencyFeedback: the positive and negative feedback settings
// change how fast a window grows and shrinks; a bad per-transport value
// is warned about and the default used.
func TestConcurrencyFeedback(t *testing.T) {
	tr, _ := feedbackTransport(t, "smtp_destination_concurrency_positive_feedback = 1\n")
	j := &job{dest: "grow.example"}
	sent := []agent.Result{{Status: agent.OK, Relay: "mx[192.0.2.1]:25"}}
	for i := 0; i < 3; i++ {
		tr.busy[j.dest] += 2
		tr.release(j, sent)
		tr.busy[j.dest]--
	}
	if w := tr.window(j.dest, 20); w != 8 {
		t.Errorf("window after 3 deliveries with feedback 1: %d, want 8", w)
	}
	tr, _ = feedbackTransport(t, "default_destination_concurrency_negative_feedback = 1\n"+
		"default_destination_concurrency_failed_cohort_limit = 0\n")
	failJobs(tr, "shrink.example", 2)
	if w := tr.window("shrink.example", 20); w != 3 {
		t.Errorf("window after 2 failures with feedback 1: %d, want 3", w)
	}
	tr, log := feedbackTransport(t, "smtp_destination_concurrency_positive_feedback = lots\n")
	if tr.fb.positive != defaultFeedback {
		t.Errorf("bad value taken: %+v", tr.fb.positive)
	}
	if !strings.Contains(log.String(), "warning: smtp_destination_concurrency_positive_feedback = lots: need a number from 0 to 1") {
		t.Errorf("no warning for the bad value:\n%s", log)
	}
}
