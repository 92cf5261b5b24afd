package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestMakeMessage(t *testing.T) {
	for _, seq := range []int{0, 7, 123456789} {
		m := makeMessage(seq)
		if len(m) != messageSize {
			t.Errorf("message %d: %d bytes, want %d", seq, len(m), messageSize)
		}
		if !bytes.Contains(m, []byte("Subject: bench message "+strconv.Itoa(seq)+"\n\n")) {
			t.Errorf("message %d lacks its subject and header end:\n%s", seq, m)
		}
		if !bytes.HasSuffix(m, []byte("\n")) {
			t.Errorf("message %d does not end with a newline", seq)
		}
	}
}

func TestPercentile(t *testing.T) {
	ms := func(v ...int) []time.Duration {
		d := make([]time.Duration, len(v))
		for i, x := range v {
			d[i] = time.Duration(x) * time.Millisecond
		}
		return d
	}
	tests := []struct {
		in   []time.Duration
		p    float64
		want time.Duration
	}{
		{nil, 0.5, 0},
		{ms(7), 0.95, 7 * time.Millisecond},
		{ms(5, 1, 3), 0.5, 3 * time.Millisecond},
		{ms(4, 3, 2, 1), 0.5, 2 * time.Millisecond},
		{ms(10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 20, 19, 18, 17, 16, 15, 14, 13, 12, 11), 0.95, 19 * time.Millisecond},
	}
	for _, tt := range tests {
		if got := percentile(tt.in, tt.p); got != tt.want {
			t.Errorf("percentile(%v, %v) = %v, want %v", tt.in, tt.p, got, tt.want)
		}
	}
}

func TestMedian(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{9, 1, 5}, 5},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestRewriteMasterCF(t *testing.T) {
	in := "# comment y\n" +
		"smtp      inet  n       -       y       -       -       smtpd\n" +
		"  -o syslog_name=postfix/smtp\n" +
		"pickup    unix  n       -       y       60      1       pickup\n" +
		"relay     unix  -       -       y       -       -       smtp\n" +
		"        -o syslog_name=postfix/$service_name\n" +
		"\n" +
		"local     unix  -       n       n       -       -       local\n"
	got, err := rewriteMasterCF(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := "# comment y\n" +
		"pickup\tunix\tn\t-\tn\t60\t1\tpickup\n" +
		"relay\tunix\t-\t-\tn\t-\t-\tsmtp\n" +
		"        -o syslog_name=postfix/$service_name\n" +
		"\n" +
		"local\tunix\t-\tn\tn\t-\t-\tlocal\n"
	if got != want {
		t.Errorf("rewriteMasterCF:\n%s\nwant:\n%s", got, want)
	}
}

func TestLogCounter(t *testing.T) {
	tests := []struct {
		name    string
		chunks  []string
		sent    int
		wantErr bool
	}{
		{"empty", nil, 0, false},
		{"one", []string{"x: to=<a>, relay=local, dsn=2.0.0, status=sent (delivered to mailbox)\n"}, 1, false},
		{"split line", []string{"x: to=<a>, dsn=2.0.0, sta", "tus=sent (ok)\nother\n"}, 1, false},
		{"partial not counted", []string{"x: to=<a>, status=sent (ok)"}, 0, false},
		{"two", []string{"a status=sent (ok)\nb status=sent (ok)\nc removed\n"}, 2, false},
		{"deferred", []string{"a status=deferred (mailbox locked)\n"}, 0, true},
		{"bounced", []string{"a status=sent (ok)\n", "b status=bounced (unknown user)\n"}, 1, true},
		{"killed", []string{"master[1]: warning: process /x/local pid 2 killed by signal 9\n"}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "maillog")
			lc := &logCounter{path: path}
			if err := lc.update(); err != nil {
				t.Fatalf("missing log: %v", err)
			}
			var err error
			for _, c := range tt.chunks {
				appendFile(t, path, c)
				if err = lc.update(); err != nil {
					break
				}
			}
			if (err != nil) != tt.wantErr {
				t.Errorf("err = %v, want error %v", err, tt.wantErr)
			}
			if lc.sent != tt.sent {
				t.Errorf("sent = %d, want %d", lc.sent, tt.sent)
			}
		})
	}
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func TestPrintTableMarks(t *testing.T) {
	base := result{injectRate: 100, latMedian: 10 * time.Millisecond, latP95: 20 * time.Millisecond, deliveryRate: 50, endToEnd: 40}
	tests := []struct {
		name   string
		tern   result
		missed bool
		marks  []string
	}{
		{"all targets met", result{injectRate: 500, latMedian: 2 * time.Millisecond, latP95: 4 * time.Millisecond, deliveryRate: 100, endToEnd: 80}, false,
			[]string{"5.00x rate", "5.00x speedup", "2.00x rate", "PASS"}},
		{"rate below", result{injectRate: 250, latMedian: time.Millisecond, latP95: time.Millisecond, deliveryRate: 200, endToEnd: 80}, true,
			[]string{"2.50x rate", "BELOW (50% of target)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			missed := printTable(&b, "t", runResults{tern: tt.tern, postfix: base}, true)
			if missed != tt.missed {
				t.Errorf("missed = %v, want %v", missed, tt.missed)
			}
			for _, m := range tt.marks {
				if !strings.Contains(b.String(), m) {
					t.Errorf("table lacks %q:\n%s", m, b.String())
				}
			}
		})
	}
}

func TestMedians(t *testing.T) {
	runs := []runResults{
		{tern: result{injectRate: 1, latMedian: 3 * time.Millisecond}, postfix: result{deliveryRate: 9}},
		{tern: result{injectRate: 5, latMedian: 1 * time.Millisecond}, postfix: result{deliveryRate: 1}},
		{tern: result{injectRate: 3, latMedian: 2 * time.Millisecond}, postfix: result{deliveryRate: 4}},
	}
	m := medians(runs)
	if m.tern.injectRate != 3 || m.tern.latMedian != 2*time.Millisecond || m.postfix.deliveryRate != 4 {
		t.Errorf("medians = %+v", m)
	}
	if !math.IsNaN(m.tern.endToEnd) && m.tern.endToEnd != 0 {
		t.Errorf("endToEnd median = %v, want 0", m.tern.endToEnd)
	}
}

func TestParseFlags(t *testing.T) {
	tests := []struct {
		args []string
		ok   bool
		n    int
	}{
		{nil, true, 3000},
		{[]string{"-n", "20", "-runs", "3"}, true, 20},
		{[]string{"-n", "1"}, false, 0},
		{[]string{"-c", "0"}, false, 0},
		{[]string{"extra"}, false, 0},
	}
	for _, tt := range tests {
		cfg, err := parseFlags(tt.args, &bytes.Buffer{})
		if (err == nil) != tt.ok {
			t.Errorf("parseFlags(%q) err = %v, want ok %v", tt.args, err, tt.ok)
		}
		if tt.ok && cfg.messages != tt.n {
			t.Errorf("parseFlags(%q) n = %d, want %d", tt.args, cfg.messages, tt.n)
		}
	}
}

func FuzzLogCounter(f *testing.F) {
	f.Add("a status=sent (ok)\nb\n", 3)
	f.Add("x status=sent y\nstatus=sent\n status=sent \n", 1)
	f.Add("", 0)
	f.Fuzz(func(t *testing.T, data string, cut int) {
		if strings.Contains(data, " status=deferred ") || strings.Contains(data, " status=bounced ") || strings.Contains(data, " killed by signal ") {
			return
		}
		whole := &logCounter{}
		if err := whole.count([]byte(data[:strings.LastIndexByte(data, '\n')+1])); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "log")
		lc := &logCounter{path: path}
		cut = max(0, min(cut, len(data)))
		for _, c := range []string{data[:cut], data[cut:]} {
			appendFile(t, path, c)
			if err := lc.update(); err != nil {
				t.Fatal(err)
			}
		}
		if lc.sent != whole.sent {
			t.Errorf("chunked count %d != whole count %d", lc.sent, whole.sent)
		}
	})
}

func FuzzRewriteMasterCF(f *testing.F) {
	f.Add("smtp inet n - y - - smtpd\n  -o x=y\npickup unix n - y 60 1 pickup\n")
	f.Add("# c\n\n\tcont\n")
	f.Fuzz(func(t *testing.T, in string) {
		out, err := rewriteMasterCF(strings.NewReader(in))
		if err != nil {
			return
		}
		for _, line := range strings.Split(out, "\n") {
			fields := strings.Fields(line)
			if line != "" && line[0] != ' ' && line[0] != '\t' && !strings.HasPrefix(strings.TrimSpace(line), "#") && len(fields) >= 2 && fields[1] == "inet" {
				t.Errorf("inet service kept: %q", line)
			}
			if len(fields) >= 8 && line[0] != ' ' && line[0] != '\t' && !strings.HasPrefix(fields[0], "#") && fields[4] != "n" {
				t.Errorf("chroot not n: %q", line)
			}
		}
	})
}

// TestPairedAdvantages: the median of each run's ratio is printed beside
// the ratio of the medians, which can differ when the machine's speed
// drifts between runs.
func TestPairedAdvantages(t *testing.T) {
	runs := []runResults{
		{tern: result{injectRate: 10}, postfix: result{injectRate: 2}},
		{tern: result{injectRate: 4}, postfix: result{injectRate: 1}},
		{tern: result{injectRate: 12}, postfix: result{injectRate: 3}},
	}
	var b bytes.Buffer
	printPairedAdvantages(&b, plan{core: true}, runs)
	var line string
	for _, l := range strings.Split(b.String(), "\n") {
		if strings.HasPrefix(l, "sendmail injection rate") {
			line = strings.Join(strings.Fields(l), " ")
		}
	}
	if want := "sendmail injection rate 5.00 4.00 4.00 4.00x rate >= 5x BELOW (80% of target)"; line != want {
		t.Errorf("line %q, want %q\n%s", line, want, b.String())
	}
	if strings.Contains(b.String(), "CPU per sendmail call") {
		t.Errorf("a figure without a target is listed:\n%s", b.String())
	}
}
