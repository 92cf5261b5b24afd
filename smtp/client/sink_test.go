package client

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// findSink returns the path of Postfix's smtp-sink, skipping the test
// when it is missing, unless CI is set.
func findSink(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"smtp-sink", "/usr/sbin/smtp-sink"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("smtp-sink (package postfix) is not installed")
	}
	t.Skip("smtp-sink not installed")
	return ""
}

// startSink runs smtp-sink on a free loopback port with the flags and
// returns its address and the directory it dumps messages to.
func startSink(t *testing.T, flags ...string) (addr, dumpDir string) {
	t.Helper()
	bin := findSink(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close()
	dumpDir, err = os.MkdirTemp("", "tern-sink-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dumpDir) })
	if err := os.Chmod(dumpDir, 0o777); err != nil { // smtp-sink may run as nobody
		t.Fatal(err)
	}
	args := []string{"-t", "10", "-d", filepath.Join(dumpDir, "%H%M%S.")}
	if os.Geteuid() == 0 {
		args = append(args, "-u", "nobody") // smtp-sink refuses to run as root
	}
	args = append(args, flags...)
	args = append(args, addr, "10")
	cmd := exec.Command(bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start smtp-sink: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	for i := 0; i < 100; i++ {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr, dumpDir
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("smtp-sink %v does not listen on %s: %s", args, addr, stderr.String())
	return "", ""
}

// readDumps returns what smtp-sink wrote, waiting up to 10 s for it.
func readDumps(t *testing.T, dir string, n int) string {
	t.Helper()
	var all string
	done := 0
	for i := 0; i < 200; i++ {
		files, _ := filepath.Glob(filepath.Join(dir, "*"))
		all, done = "", 0
		for _, f := range files {
			b, _ := os.ReadFile(f)
			all += string(b)
			if strings.Contains(string(b), "X-Mail-Args") && strings.HasSuffix(string(b), "\n\n") {
				done++
			}
		}
		if done >= n {
			return all
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("smtp-sink dumped %d messages, want %d: %q", done, n, all)
	return ""
}

func TestSMTPSink(t *testing.T) {
	mime8 := "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nCaf\xc3\xa9\n.dot line\nlast line"
	tests := []struct {
		name     string
		flags    []string
		lmtp     bool
		msg      Message
		want     string   // result summary
		wantExt  []string // extensions that must (or with "!" must not) be announced
		inDump   []string // strings the dumped transaction must hold
		noDump   bool     // no message must have been dumped
		wantText string   // text of the first result
	}{
		{
			name:    "SMTP with PIPELINING, 8BITMIME and DSN",
			wantExt: []string{"PIPELINING", "8BITMIME", "DSN"},
			msg: Message{Sender: "s@example.org", EightBit: true, Ret: "HDRS", EnvID: "q1",
				Recipients: []Recipient{{Addr: "a@example.com", Notify: "FAILURE", ORcpt: "rfc822;a@example.com"}, {Addr: "b@example.com"}},
				Body:       strings.NewReader(mime8)},
			want: "250 end of DATA, 250 end of DATA",
			inDump: []string{"X-Mail-Args: <s@example.org> BODY=8BITMIME RET=HDRS ENVID=q1",
				"X-Rcpt-Args: <a@example.com> NOTIFY=FAILURE ORCPT=rfc822;a@example.com", "X-Rcpt-Args: <b@example.com>",
				"\nCaf\xc3\xa9\n.dot line\nlast line\n"},
			wantText: "250 2.0.0 Ok",
		},
		{
			name:    "SMTP without PIPELINING and 8BITMIME: downgraded",
			flags:   []string{"-p", "-8", "-N"},
			wantExt: []string{"!PIPELINING", "!8BITMIME", "!DSN"},
			msg: Message{Sender: "s@example.org", EightBit: true, Ret: "FULL",
				Recipients: []Recipient{{Addr: "a@example.com", Notify: "SUCCESS"}}, Body: strings.NewReader(mime8)},
			want: "250 end of DATA",
			inDump: []string{"X-Mail-Args: <s@example.org>\n", "X-Rcpt-Args: <a@example.com>\n",
				"Content-Transfer-Encoding: quoted-printable\n\nCaf=C3=A9\n.dot line\nlast line\n"},
		},
		{
			name:    "LMTP",
			flags:   []string{"-L"},
			lmtp:    true,
			wantExt: []string{"PIPELINING"},
			msg:     Message{Sender: "s@example.org", Recipients: rcpts("a@example.com", "b@example.com", "c@example.com"), Body: strings.NewReader("Subject: lmtp\n\nhello\n")},
			want:    "250 end of DATA, 250 end of DATA, 250 end of DATA",
			inDump:  []string{"X-Client-Proto: LMTP", "X-Rcpt-Args: <c@example.com>", "\nhello\n"},
		},
		{
			name:     "every RCPT refused: RSET, no DATA",
			flags:    []string{"-f", "RCPT"},
			msg:      Message{Sender: "s@example.org", Recipients: rcpts("a@example.com", "b@example.com"), Body: strings.NewReader("x\n")},
			want:     "500 RCPT TO, 500 RCPT TO",
			noDump:   true,
			wantText: "500 5.3.0 Error: command failed",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			addr, dir := startSink(t, tc.flags...)
			ctx := testCtx(t)
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			s, err := Open(ctx, conn, "localhost[127.0.0.1]:"+portOf(addr), Options{Helo: "client.example", LMTP: tc.lmtp})
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			for _, e := range tc.wantExt {
				if has := s.Has(strings.TrimPrefix(e, "!")); has == strings.HasPrefix(e, "!") {
					t.Errorf("extension %s: announced %v (%v)", e, has, s.Extensions())
				}
			}
			res, err := s.Send(ctx, tc.msg)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			if got := summary(res); got != tc.want {
				t.Errorf("results %q, want %q (%+v)", got, tc.want, res)
			}
			if tc.wantText != "" && res[0].Reply.Text != tc.wantText {
				t.Errorf("first reply %q, want %q", res[0].Reply.Text, tc.wantText)
			}
			if err := s.Close(ctx); err != nil {
				t.Errorf("Close: %v", err)
			}
			if tc.noDump {
				time.Sleep(100 * time.Millisecond)
				if files, _ := filepath.Glob(filepath.Join(dir, "*")); len(files) != 0 {
					t.Errorf("smtp-sink got a message: %v", files)
				}
				return
			}
			dump := readDumps(t, dir, 1)
			t.Logf("smtp-sink dumped:\n%s", dump)
			for _, want := range tc.inDump {
				if !strings.Contains(dump, want) {
					t.Errorf("dump lacks %q:\n%s", want, dump)
				}
			}
		})
	}
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}
