package maps

import (
	"bytes"
	"fmt"
	"runtime"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// BatchLookuper is implemented by tables that look many keys up faster
// together than one at a time (postmap -q -).
type BatchLookuper interface {
	// LookupBatch looks up every key of keys as Lookup does and calls
	// found with the index in keys of each key the table has and its
	// value, which is valid only during the call. The calls come in no
	// particular order and may come from several goroutines at once,
	// never two for the same index.
	LookupBatch(keys []string, found func(i int, value []byte)) error
}

// LookupBatch looks the keys up in the table's key order, so that keys
// near each other find the pages they share still in the CPU caches,
// without an allocation per key, and a large batch in parts on several
// cores.
func (bm *boltMap) LookupBatch(keys []string, found func(i int, value []byte)) error {
	bm.refresh()
	bm.mu.RLock()
	defer bm.mu.RUnlock()
	v := bm.view
	if v == nil {
		return fmt.Errorf("%s: table is closed", bm.spec)
	}
	if v.bucket == nil {
		return nil
	}
	folded, ends, refs := sortFolded(keys)
	parts := max(1, min(runtime.GOMAXPROCS(0), len(refs)/minPartKeys))
	var wg sync.WaitGroup
	for p := range parts {
		part := refs[p*len(refs)/parts : (p+1)*len(refs)/parts]
		wg.Add(1)
		go func() {
			defer wg.Done()
			lookupSorted(v.bucket, folded, ends, part, found)
		}()
	}
	wg.Wait()
	return nil
}

// minPartKeys is the fewest keys of a batch that a goroutine of its own
// looks up.
const minPartKeys = 8192

// lookupSorted looks up the keys of refs, which sortFolded ordered, with
// one cursor of its own.
func lookupSorted(b *bolt.Bucket, folded []byte, ends []int, refs []foldedRef, found func(int, []byte)) {
	s := batchSeeker{c: b.Cursor()}
	for _, r := range refs {
		start := 0
		if r.index > 0 {
			start = ends[r.index-1]
		}
		key := folded[start:ends[r.index]]
		if len(key) == 0 {
			continue
		}
		if val := s.seek(key); val != nil {
			found(r.index, val)
		}
	}
}

// maxSteps is how far a batch lookup walks on from the last key found
// before it searches the tree from its root again.
const maxSteps = 16

// batchSeeker finds keys that mostly come in ascending order: a key a
// little after the last one is reached by stepping through the leaf the
// cursor is on, which costs less than a search from the root.
type batchSeeker struct {
	c    *bolt.Cursor
	prev []byte // the last key sought; the cursor is on the first entry >= prev
	k, v []byte // the entry the cursor is on (k nil: past the end)
}

// seek returns the value stored under key, or nil.
func (s *batchSeeker) seek(key []byte) []byte {
	if s.prev == nil || bytes.Compare(key, s.prev) < 0 {
		s.k, s.v = s.c.Seek(key)
	} else {
		for steps := 0; s.k != nil && bytes.Compare(s.k, key) < 0; steps++ {
			if steps == maxSteps {
				s.k, s.v = s.c.Seek(key)
				break
			}
			s.k, s.v = s.c.Next()
		}
	}
	s.prev = key
	if s.v == nil || !bytes.Equal(s.k, key) {
		return nil
	}
	return s.v
}

// foldedRef is one key of a batch: its index in the batch and its first
// 16 bytes folded, as two numbers that order as the bytes do.
type foldedRef struct {
	hi, lo uint64
	index  int
}

// sortFolded folds keys into one buffer, where the key of index i ends at
// ends[i], and returns references to the keys ordered by their first 16
// folded bytes: the table's order, but for keys that share those bytes,
// which lie near each other in the table anyway.
func sortFolded(keys []string) (buf []byte, ends []int, refs []foldedRef) {
	size := 0
	for _, k := range keys {
		size += len(k)
	}
	buf = make([]byte, 0, size)
	ends = make([]int, len(keys))
	refs = make([]foldedRef, len(keys))
	for i, k := range keys {
		start := len(buf)
		buf = appendFold(buf, k)
		ends[i] = len(buf)
		key := buf[start:]
		refs[i] = foldedRef{hi: prefix64(key), lo: prefix64(key[min(8, len(key)):]), index: i}
	}
	return buf, ends, radixSort(refs)
}

// radixSort sorts refs by (hi, lo), a byte at a time from the last one,
// skipping the bytes that all refs share. It returns the sorted slice,
// which is refs or a new one.
func radixSort(refs []foldedRef) []foldedRef {
	var counts [16][256]int
	for _, r := range refs {
		for d := range 16 {
			counts[d][r.digit(d)]++
		}
	}
	tmp := make([]foldedRef, len(refs))
	for d := 15; d >= 0; d-- {
		c := &counts[d]
		if slices.Contains(c[:], len(refs)) {
			continue // every ref has the same byte here
		}
		pos := 0
		for b := range c {
			n := c[b]
			c[b] = pos
			pos += n
		}
		for _, r := range refs {
			b := r.digit(d)
			tmp[c[b]] = r
			c[b]++
		}
		refs, tmp = tmp, refs
	}
	return refs
}

// digit returns byte d (0: the first) of the ref's 16-byte prefix.
func (r foldedRef) digit(d int) byte {
	if d < 8 {
		return byte(r.hi >> (56 - 8*d))
	}
	return byte(r.lo >> (56 - 8*(d-8)))
}

// prefix64 returns the first 8 bytes of b as a big-endian number, padded
// with zeros, so that numbers order as the byte strings do.
func prefix64(b []byte) uint64 {
	var p uint64
	for j := range 8 {
		p <<= 8
		if j < len(b) {
			p |= uint64(b[j])
		}
	}
	return p
}
