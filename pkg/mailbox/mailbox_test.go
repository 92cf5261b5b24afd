package mailbox

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestCopy(t *testing.T) {
	tests := []struct {
		name, in string
		o        CopyOptions
		want     string
	}{
		{"plain", "a\r\nb\r\n", CopyOptions{}, "a\nb\n"},
		{"last line ended", "a\nb", CopyOptions{}, "a\nb\n"},
		{"prepend", "x\n", CopyOptions{Prepend: "H: v\n"}, "H: v\nx\n"},
		{"quote", "From me\nFromage\n From x\n", CopyOptions{Quote: true}, ">From me\nFromage\n From x\n"},
		{"no quote", "From me\n", CopyOptions{}, "From me\n"},
		{"blank", "x\n", CopyOptions{Blank: true}, "x\n\n"},
		{"lone CR kept", "a\rb\n", CopyOptions{}, "a\rb\n"},
		{"empty", "", CopyOptions{Blank: true}, "\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := Copy(&out, strings.NewReader(tc.in), tc.o); err != nil {
				t.Fatal(err)
			}
			if out.String() != tc.want {
				t.Fatalf("got %q, want %q", out.String(), tc.want)
			}
		})
	}
}

func TestCopyFromLine(t *testing.T) {
	for _, tc := range []struct{ sender, want string }{{"a@b.org", "From a@b.org  "}, {"", "From MAILER-DAEMON  "}} {
		var out bytes.Buffer
		if err := Copy(&out, strings.NewReader("x\n"), CopyOptions{Sender: tc.sender, FromLine: true}); err != nil {
			t.Fatal(err)
		}
		first, rest, _ := strings.Cut(out.String(), "\n")
		if !strings.HasPrefix(first, tc.want) || len(first) != len(tc.want)+24 || rest != "x\n" {
			t.Errorf("sender %q: got %q", tc.sender, out.String())
		}
	}
}

func TestCopyLongLine(t *testing.T) {
	line := strings.Repeat("x", 200<<10)
	var out bytes.Buffer
	if err := Copy(&out, strings.NewReader("From "+line+"\r\n"), CopyOptions{Quote: true}); err != nil {
		t.Fatal(err)
	}
	if out.String() != ">From "+line+"\n" {
		t.Fatalf("long line damaged: %d bytes", out.Len())
	}
}

type failReader struct{}

func (failReader) Read([]byte) (int, error) { return 0, os.ErrDeadlineExceeded }

func TestCopyReadError(t *testing.T) {
	err := Copy(&bytes.Buffer{}, failReader{}, CopyOptions{})
	var re ReadError
	if !errors.As(err, &re) || !strings.HasPrefix(err.Error(), "error reading message: ") {
		t.Fatalf("err = %v", err)
	}
}

func TestLimitWriter(t *testing.T) {
	var buf bytes.Buffer
	w := NewLimitWriter(&buf, 5)
	if n, err := w.Write([]byte("abc")); n != 3 || err != nil {
		t.Fatal(n, err)
	}
	if n, err := w.Write([]byte("def")); n != 0 || !errors.Is(err, syscall.EFBIG) {
		t.Fatal(n, err)
	}
	if n, err := NewLimitWriter(&buf, -1).Write(make([]byte, 1000)); n != 1000 || err != nil {
		t.Fatal(n, err)
	}
}

func TestErrnoTextAndDSN(t *testing.T) {
	tests := []struct {
		err       error
		text, dsn string
	}{
		{ErrTooLarge, "File too large", "5.2.2"},
		{&os.PathError{Op: "open", Path: "/x", Err: syscall.ENOENT}, "No such file or directory", "4.3.0"},
		{syscall.EDQUOT, "Disk quota exceeded", "5.2.2"},
		{errors.New("odd"), "odd", "4.3.0"},
	}
	for _, tc := range tests {
		if got := ErrnoText(tc.err); got != tc.text {
			t.Errorf("ErrnoText(%v) = %q, want %q", tc.err, got, tc.text)
		}
		if got := WriteDSN(tc.err); got != tc.dsn {
			t.Errorf("WriteDSN(%v) = %q, want %q", tc.err, got, tc.dsn)
		}
	}
}

func mboxOptions() Options {
	return Options{Sender: "s@x.org", Prepend: "Delivered-To: u@x.org\n", LockMethods: []string{"fcntl", "dotlock"},
		LockAttempts: 1, OwnerUID: -1, OwnerGID: -1}
}

func TestAppendMbox(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mbox")
	for i := 0; i < 2; i++ {
		if err := AppendMbox(context.Background(), path, mboxOptions(), strings.NewReader("From x\nbody\n")); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	msgs := strings.Split(string(b), "From s@x.org  ")
	if len(msgs) != 3 || !strings.HasSuffix(msgs[2], "\nDelivered-To: u@x.org\n>From x\nbody\n\n") {
		t.Fatalf("mbox %q", b)
	}
	if _, err := os.Stat(path + ".lock"); !os.IsNotExist(err) {
		t.Fatalf("dotlock left behind: %v", err)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
}

func TestAppendMboxFailures(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name  string
		setup func(path string) Options
		body  string
		dsn   string
		text  string
	}{
		{"held dotlock", func(p string) Options {
			os.WriteFile(p+".lock", nil, 0o600)
			return mboxOptions()
		}, "x\n", "4.2.0", "unable to create lock file"},
		{"stale dotlock removed", func(p string) Options {
			os.WriteFile(p+".lock", nil, 0o600)
			old := time.Now().Add(-time.Hour)
			os.Chtimes(p+".lock", old, old)
			o := mboxOptions()
			o.LockAttempts = 2 // the removal of a stale lock uses up a try
			o.StaleLock = time.Minute
			return o
		}, "x\n", "", ""},
		{"symlink refused", func(p string) Options {
			os.Symlink(filepath.Join(dir, "elsewhere"), p)
			return mboxOptions()
		}, "x\n", "4.2.0", "cannot open file: "},
		{"size limit", func(p string) Options {
			os.WriteFile(p, []byte("From old\n\n"), 0o600)
			o := mboxOptions()
			o.SizeLimit = 50
			return o
		}, strings.Repeat("y", 100) + "\n", "5.2.2", "error writing message: File too large"},
		{"wrong owner", func(p string) Options {
			os.WriteFile(p, nil, 0o600)
			o := mboxOptions()
			o.OwnerUID = os.Geteuid() + 1
			return o
		}, "x\n", "4.2.0", "has bad owner uid"},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, "m"+string(rune('a'+i)))
			o := tc.setup(path)
			before, _ := os.ReadFile(path)
			err := AppendMbox(context.Background(), path, o, strings.NewReader(tc.body))
			if tc.dsn == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var me *Error
			if !errors.As(err, &me) || me.DSN != tc.dsn || !strings.Contains(me.Text, tc.text) {
				t.Fatalf("err = %#v, want %s %q", err, tc.dsn, tc.text)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
				t.Fatalf("mbox changed by a failed delivery: %q", after)
			}
		})
	}
}

func TestAppendMboxReadErrorTruncates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m")
	os.WriteFile(path, []byte("From a\n\n"), 0o600)
	err := AppendMbox(context.Background(), path, mboxOptions(), failReader{})
	var me *Error
	if !errors.As(err, &me) || me.DSN != "4.3.0" || me.Permanent() {
		t.Fatalf("err = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "From a\n\n" {
		t.Fatalf("not truncated: %q", b)
	}
}

func TestLockConflicts(t *testing.T) {
	for _, method := range []string{"fcntl", "flock"} {
		t.Run(method, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m")
			f1, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f1.Close()
			f2, err := os.OpenFile(path, os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer f2.Close()
			if err := Lock(context.Background(), f1, method, 1, 0); err != nil {
				t.Fatal(err)
			}
			if err := Lock(context.Background(), f2, method, 2, time.Millisecond); err == nil {
				t.Fatal("second lock granted")
			}
			f1.Close()
			if err := Lock(context.Background(), f2, method, 1, 0); err != nil {
				t.Fatalf("after release: %v", err)
			}
		})
	}
}

func TestDeliverMaildir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b", "Maildir") + "/"
	o := Options{Prepend: "Delivered-To: u@x.org\n"}
	for i := 0; i < 2; i++ {
		if err := DeliverMaildir(dir, o, strings.NewReader("From x\r\nbody")); err != nil {
			t.Fatal(err)
		}
	}
	ents, err := os.ReadDir(filepath.Join(dir, "new"))
	if err != nil || len(ents) != 2 || ents[0].Name() == ents[1].Name() {
		t.Fatalf("new/: %v %v", ents, err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "new", ents[0].Name()))
	if string(b) != "Delivered-To: u@x.org\nFrom x\nbody\n" {
		t.Fatalf("message %q", b)
	}
	for _, sub := range []string{"cur", "tmp"} {
		fi, err := os.Stat(filepath.Join(dir, sub))
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Fatalf("%s: %v %v", sub, fi, err)
		}
	}
	o.SizeLimit = 10
	err = DeliverMaildir(dir, o, strings.NewReader(strings.Repeat("z", 100)))
	var me *Error
	if !errors.As(err, &me) || me.DSN != "5.2.2" || me.Text != "maildir delivery failed: error writing message: File too large" {
		t.Fatalf("err = %v", err)
	}
	if tmp, _ := os.ReadDir(filepath.Join(dir, "tmp")); len(tmp) != 0 {
		t.Fatalf("tmp/ not cleaned: %v", tmp)
	}
}

func TestDeliverMaildirCannotCreate(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	err := DeliverMaildir(filepath.Join(file, "Maildir")+"/", Options{}, strings.NewReader("x\n"))
	var me *Error
	if !errors.As(err, &me) || me.Permanent() || !strings.HasPrefix(me.Text, "create maildir ") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzCopy(f *testing.F) {
	for _, s := range []string{"", "From x\r\n", "a\rb", "\n\nFrom \n", "x\r\r\n"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, in string, quote bool) {
		var out bytes.Buffer
		if err := Copy(&out, strings.NewReader(in), CopyOptions{Quote: quote}); err != nil {
			t.Fatal(err)
		}
		got := out.String()
		if in != "" && !strings.HasSuffix(got, "\n") {
			t.Fatalf("output %q not ended by a newline", got)
		}
		loneCR := strings.Contains(strings.ReplaceAll(in, "\r\n", ""), "\r")
		if !loneCR && strings.Contains(got, "\r\n") {
			t.Fatalf("CRLF left in %q", got)
		}
		if quote && (strings.HasPrefix(got, "From ") || strings.Contains(got, "\nFrom ")) {
			t.Fatalf("unquoted From line in %q", got)
		}
		if strings.Count(got, "\n") < strings.Count(in, "\n") {
			t.Fatalf("lines lost: %q -> %q", in, got)
		}
	})
}
