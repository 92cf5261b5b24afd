package queue

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"
)

const crashEnv = "QUEUE_CRASH_CHILD"

// crashContent is the content the crash child commits for id: its size
// depends on the id so that some messages are inline and some are files.
func crashContent(id string) []byte {
	n := int(idDigit(id[len(id)-1])+idDigit(id[len(id)-2])) * 97
	return pattern(n, id)
}

// TestCrashChild is the child of TestCrashDurability: it commits messages
// until killed, printing each id once Commit has returned.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("only run as the child of TestCrashDurability")
	}
	q, err := Open(dir, Options{InlineLimit: testInline})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; i < 20000; i++ {
				id := q.NewID()
				d, err := q.NewDraft()
				if err != nil {
					t.Error(err)
					return
				}
				_, _ = d.Write(crashContent(id))
				env := testEnv(fmt.Sprintf("w%d-%d@example.com", w, i))
				env.ID = id
				if err := q.Commit(context.Background(), env, d, Incoming); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				fmt.Fprintln(os.Stdout, id)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Only a guard against a hung child: it is killed once it has printed
	// want ids, and its fsyncs can be slow on a busy disk.
	timer := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
	defer timer.Stop()
	const want = 60
	var ids []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if line := sc.Text(); ValidID(line) {
			ids = append(ids, line)
		}
		if len(ids) == want {
			_ = cmd.Process.Signal(syscall.SIGKILL)
		}
	}
	_ = cmd.Wait()
	if len(ids) < want {
		t.Fatalf("child printed only %d ids before ending", len(ids))
	}
	q, err := Open(dir, Options{InlineLimit: testInline})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = q.Close() }()
	if _, err := q.Recover(); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		env, state, err := q.Get(id)
		if err != nil || state != Incoming || env.Size != int64(len(crashContent(id))) {
			t.Fatalf("%s after crash: %+v, %q, %v", id, env, state, err)
		}
		if b := readContent(t, q, id); !bytes.Equal(b, crashContent(id)) {
			t.Fatalf("%s: content differs after crash", id)
		}
	}
	t.Logf("%d committed ids survived SIGKILL; counts %v", len(ids), q.Counts())
}
