package cachefile

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

var testBucket = []byte("test")

// reopen closes f and opens its file again, returning the entries read
// and the new File; load keeps the entries whose value is not "drop".
func reopen(t *testing.T, f *File, path string) (map[string]string, *File) {
	t.Helper()
	if f != nil {
		f.Close()
	}
	got := map[string]string{}
	f, err := Open(path, testBucket, func(k, v []byte) bool {
		if string(v) == "drop" {
			return false
		}
		got[string(k)] = string(v)
		return true
	}, t.Errorf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return got, f
}

// TestEntriesOutliveClose: what is put before Close is read back at the
// next Open, a nil value removes its key, and an entry load refuses is
// deleted from the file.
func TestEntriesOutliveClose(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	got, f := reopen(t, nil, path)
	if len(got) != 0 {
		t.Fatalf("a new file holds %v", got)
	}
	for k, v := range map[string]string{"a": "1", "b": "2", "c": "3", "old": "drop"} {
		if !f.Put([]byte(k), []byte(v)) {
			t.Fatalf("Put(%s) dropped", k)
		}
	}
	f.Put([]byte("b"), nil)
	f.Put([]byte("c"), []byte("4"))
	got, f = reopen(t, f, path)
	if want := map[string]string{"a": "1", "c": "4"}; !maps.Equal(got, want) {
		t.Errorf("read %v, want %v", got, want)
	}
	// "old" was refused at the last Open: it is gone from the file.
	seen := false
	f.Close()
	f2, err := Open(path, testBucket, func(k, _ []byte) bool { seen = seen || string(k) == "old"; return true }, t.Errorf)
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	if seen {
		t.Error("an entry load refused was kept in the file")
	}
}

// TestPutAfterCloseAndConcurrentPuts: Puts from many goroutines, and
// after Close, neither race nor panic; after Close they are dropped.
func TestPutAfterCloseAndConcurrentPuts(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cache.db")
	_, f := reopen(t, nil, path)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				f.Put([]byte(fmt.Sprintf("%d-%d", g, i)), []byte("v"))
			}
		}()
	}
	go f.Close()
	wg.Wait()
	f.Close()
	if f.Put([]byte("late"), []byte("v")) {
		t.Error("a Put after Close was taken")
	}
	got, _ := reopen(t, nil, path)
	if _, ok := got["late"]; ok {
		t.Error("a Put after Close reached the file")
	}
}

// TestOpenRefusesOtherFiles: a file that is not a bbolt database (a
// Berkeley DB file that Postfix left, say) is an error, and is left as
// it was.
func TestOpenRefusesOtherFiles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verify_cache.db")
	junk := make([]byte, 16384)
	for i := range junk {
		junk[i] = byte(i * 7)
	}
	if err := os.WriteFile(path, junk, 0o600); err != nil {
		t.Fatal(err)
	}
	if f, err := Open(path, testBucket, func(_, _ []byte) bool { return true }, t.Errorf); err == nil {
		f.Close()
		t.Fatal("opened a file that is not a bbolt database")
	}
	if b, _ := os.ReadFile(path); string(b) != string(junk) {
		t.Error("the file was changed")
	}
}
