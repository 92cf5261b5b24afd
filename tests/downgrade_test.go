package tests

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// startSMTPSink runs Postfix's smtp-sink on 127.0.0.1 with extra options,
// dumping each message into dir; it is stopped by t.Cleanup.
func startSMTPSink(t *testing.T, dir string, opts ...string) string {
	t.Helper()
	sink, err := exec.LookPath("smtp-sink")
	if err != nil {
		needPackage(t, "postfix", "smtp-sink not installed")
	}
	addr := "127.0.0.1:" + freePort(t)
	args := append([]string{}, opts...)
	if isRoot() {
		// smtp-sink refuses to run as root; its user writes the dumps.
		args = append(args, "-u", "nobody")
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	args = append(args, "-d", filepath.Join(dir, "%M."), addr, "10")
	cmd := exec.Command(sink, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("start smtp-sink: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitFor(t, 10*time.Second, "smtp-sink listening", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr
}

// TestEightBitDowngradeToServerWithout8BITMIME relays an 8-bit message
// to a real smtp-sink that does not announce 8BITMIME: what arrives is
// 7-bit, its text part converted to quoted-printable (RFC 6152 section 3).
// It pins the bug where cleanup never told the smtp agent that content was
// 8-bit, so the downgrade (and BODY=8BITMIME) never happened.
func TestEightBitDowngradeToServerWithout8BITMIME(t *testing.T) {
	dump := t.TempDir()
	addr := startSMTPSink(t, dump, "-8")
	in := newInstance(t, options{
		master: testMasterCF + "smtp unix - - n - - smtp\n",
		main:   []string{"transport_maps = inline:{ sink.example=smtp:[" + strings.Replace(addr, ":", "]:", 1) + " }"},
	})
	in.start()
	msg := "Subject: 8-bit\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n" +
		"Content-Transfer-Encoding: 8bit\n\nGr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\n"
	if code, out := in.sendmail(msg, "-f", localUser(t)+"@example.tst", "someone@sink.example"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	in.waitLog("to=<someone@sink.example>", deliveryTimeout)
	if !strings.Contains(in.log(), "status=sent") {
		t.Fatalf("not sent:\n%s", in.log())
	}
	var got []byte
	waitFor(t, 10*time.Second, "the dumped message", func() bool {
		entries, _ := os.ReadDir(dump)
		if len(entries) == 0 {
			return false
		}
		got, _ = os.ReadFile(filepath.Join(dump, entries[0].Name()))
		return strings.Contains(string(got), "aus K")
	})
	text := string(got)
	for _, b := range got {
		if b >= 0x80 {
			t.Fatalf("8-bit data reached a server without 8BITMIME:\n%s", text)
		}
	}
	for _, want := range []string{"Content-Transfer-Encoding: quoted-printable", "Gr=C3=BC=C3=9Fe aus K=C3=B6ln"} {
		if !strings.Contains(text, want) {
			t.Errorf("the relayed message lacks %q:\n%s", want, text)
		}
	}
}
