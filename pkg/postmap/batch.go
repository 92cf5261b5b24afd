package postmap

import (
	"bufio"
	"bytes"
	"fmt"

	"github.com/tern-mta/tern/pkg/maps"
)

// batchKeys is how many keys of "-q -" are read and looked up together
// when the table can look up a batch faster than key by key.
const batchKeys = 1 << 18

// queryStream implements "-q -": it looks up every line of stdin and
// writes a "key<TAB>value" line for each key found, in the order of the
// keys.
func (c *command) queryStream(ms []maps.Map, out *bufio.Writer) (bool, error) {
	sc := newKeyScanner(c.stdin)
	var bl maps.BatchLookuper
	if len(ms) == 1 {
		bl, _ = ms[0].(maps.BatchLookuper)
	}
	found := false
	var (
		batch []string
		text  []byte
		ends  []int
	)
	for {
		// The batch's keys share one string instead of one each.
		text, ends = text[:0], ends[:0]
		for len(ends) < batchKeys && sc.Scan() {
			text = append(text, bytes.TrimRight(sc.Bytes(), "\r")...)
			ends = append(ends, len(text))
		}
		batch = splitKeys(batch[:0], string(text), ends)
		var f bool
		var err error
		if bl != nil {
			f, err = c.queryBatch(bl, batch, out)
		} else {
			f, err = c.querySequential(ms, batch, out)
		}
		found = found || f
		if err != nil {
			return found, err
		}
		if len(batch) < batchKeys {
			break
		}
	}
	if err := sc.Err(); err != nil {
		return found, fmt.Errorf("read keys from stdin: %w", err)
	}
	return found, nil
}

// splitKeys appends to keys the parts of text that end at ends.
func splitKeys(keys []string, text string, ends []int) []string {
	start := 0
	for _, end := range ends {
		keys = append(keys, text[start:end])
		start = end
	}
	return keys
}

// queryBatch looks keys up together and writes the entries found in the
// order of keys.
func (c *command) queryBatch(bl maps.BatchLookuper, keys []string, out *bufio.Writer) (bool, error) {
	values := make([]string, len(keys))
	hit := make([]bool, len(keys))
	// Calls for different keys may come at once: each writes its own slot.
	err := bl.LookupBatch(keys, func(i int, v []byte) {
		values[i], hit[i] = string(v), true
	})
	if err != nil {
		return false, fmt.Errorf("query error: %w", err)
	}
	found := false
	for i, k := range keys {
		if hit[i] {
			found = true
			c.writeEntry(out, k, values[i])
		}
	}
	return found, nil
}

// querySequential looks keys up one after the other, writing each entry
// found, until the end or the first lookup error.
func (c *command) querySequential(ms []maps.Map, keys []string, out *bufio.Writer) (bool, error) {
	found := false
	for _, k := range keys {
		v, ok, err := maps.LookupFirst(ms, k)
		if err != nil {
			return found, fmt.Errorf("query error: %w", err)
		}
		if ok {
			found = true
			c.writeEntry(out, k, v)
		}
	}
	return found, nil
}
