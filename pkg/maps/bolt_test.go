package maps

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestAppendFold(t *testing.T) {
	tests := []string{"", "abc", "User@Example.COM", "ÄBC@Straße.de", "x\x00Y", strings.Repeat("K", 300)}
	for _, key := range tests {
		got := string(appendFold([]byte("prefix"), key))
		if want := "prefix" + fold(key); got != want {
			t.Errorf("appendFold(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestLookupBatch(t *testing.T) {
	dir := t.TempDir()
	var src strings.Builder
	for i := range 3000 {
		fmt.Fprintf(&src, "key%d@Example.com value%d\n", i, i)
	}
	src.WriteString("Ünï value-u\n")
	m := mustOpen(t, "hash:"+buildMap(t, dir, "m", src.String()))
	keys := []string{"KEY7@example.com", "none", "", "key2999@example.com", "ünÏ", "key7@example.com", "key30000@example.com", "key1@example.co"}
	want := map[int]string{0: "value7", 3: "value2999", 4: "value-u", 5: "value7"}
	got := map[int]string{}
	var mu sync.Mutex
	err := m.(BatchLookuper).LookupBatch(keys, func(i int, v []byte) {
		mu.Lock()
		defer mu.Unlock()
		if _, dup := got[i]; dup {
			t.Errorf("key %d reported twice", i)
		}
		got[i] = string(v)
	})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("LookupBatch = %v, want %v", got, want)
	}
	for i, k := range keys {
		v, ok, err := m.Lookup(k)
		if err != nil || ok != (want[i] != "") || v != want[i] {
			t.Errorf("Lookup(%q) = %q, %v, %v; LookupBatch said %q", k, v, ok, err, want[i])
		}
	}
	m.Close()
	if err := m.(BatchLookuper).LookupBatch(keys, func(int, []byte) {}); err == nil {
		t.Error("LookupBatch on a closed table succeeded")
	}
}

func TestSortFolded(t *testing.T) {
	keys := []string{"b", "A", "abcdefghijklmnopQ", "abcdefghijklmnop", "abcdefghijklmnopq", "a\x00", "", "abcdefgh", "abcdefgg\xff"}
	buf, ends, refs := sortFolded(keys)
	var got []string
	seen := map[int]bool{}
	for _, r := range refs {
		start := 0
		if r.index > 0 {
			start = ends[r.index-1]
		}
		key := string(buf[start:ends[r.index]])
		if fold(keys[r.index]) != key || seen[r.index] {
			t.Errorf("ref %+v: %q is not the folded %q or comes twice", r, key, keys[r.index])
		}
		seen[r.index] = true
		got = append(got, key[:min(16, len(key))])
	}
	want := make([]string, len(keys))
	for i, k := range keys {
		f := fold(k)
		want[i] = f[:min(16, len(f))]
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("sortFolded order by 16 bytes = %q, want %q", got, want)
	}
}

// TestLookupBatchParts looks up a batch large enough to be split among
// goroutines (on a machine with several cores), half of the keys absent.
func TestLookupBatchParts(t *testing.T) {
	const n = 3 * minPartKeys
	var src strings.Builder
	for i := range n {
		fmt.Fprintf(&src, "k%d v%d\n", 2*i, i)
	}
	m := mustOpen(t, "hash:"+buildMap(t, t.TempDir(), "m", src.String()))
	keys := make([]string, 2*n)
	for i := range keys {
		keys[i] = fmt.Sprintf("K%d", (i*7919)%(2*n))
	}
	got := make([]string, len(keys))
	var calls sync.Map
	err := m.(BatchLookuper).LookupBatch(keys, func(i int, v []byte) {
		if _, dup := calls.LoadOrStore(i, true); dup {
			t.Errorf("key %d reported twice", i)
		}
		got[i] = string(v)
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		var num int
		fmt.Sscanf(k, "K%d", &num)
		want := ""
		if num%2 == 0 {
			want = fmt.Sprintf("v%d", num/2)
		}
		if got[i] != want {
			t.Fatalf("key %q: got %q, want %q", k, got[i], want)
		}
	}
}

// TestLookupBatchLongPrefix looks up keys that share more than the 16
// bytes that order a batch, so that they come out of order.
func TestLookupBatchLongPrefix(t *testing.T) {
	const prefix = "a-very-long-shared-prefix-"
	var src strings.Builder
	for i := range 500 {
		fmt.Fprintf(&src, "%s%d v%d\n", prefix, 3*i, i)
	}
	m := mustOpen(t, "hash:"+buildMap(t, t.TempDir(), "m", src.String()))
	var keys []string
	for i := range 1500 {
		keys = append(keys, fmt.Sprintf("%s%d", prefix, (i*997)%1500))
	}
	got := make([]string, len(keys))
	if err := m.(BatchLookuper).LookupBatch(keys, func(i int, v []byte) { got[i] = string(v) }); err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		v, _, err := m.Lookup(k)
		if err != nil || got[i] != v {
			t.Errorf("key %q: batch %q, Lookup %q, %v", k, got[i], v, err)
		}
	}
}

func BenchmarkLookupBatch(b *testing.B) {
	const n = 100_000
	m := openBigHash(b, n)
	keys := make([]string, 10_000)
	for i := range keys {
		j := (i * 31) % n
		keys[i] = fmt.Sprintf("USER%d@example%d.com", j, j%1000)
	}
	for b.Loop() {
		found := 0
		if err := m.(BatchLookuper).LookupBatch(keys, func(int, []byte) { found++ }); err != nil || found != len(keys) {
			b.Fatalf("found %d of %d: %v", found, len(keys), err)
		}
	}
}
