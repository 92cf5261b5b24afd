package maps

import (
	"cmp"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// DupMode says what a build does with a key that is already present.
type DupMode int

const (
	// DupWarn keeps the first entry and warns about the others (postmap's
	// default).
	DupWarn DupMode = iota
	// DupReplace keeps the last entry silently (postmap -r).
	DupReplace
	// DupIgnore keeps the first entry silently (postmap -w).
	DupIgnore
)

// BuildOptions controls BuildWith.
type BuildOptions struct {
	// Aliases selects the aliases(5) source syntax (postalias) instead of
	// postmap's "key whitespace value", and adds the "@" -> "@" entry.
	Aliases bool
	// Dup is the handling of duplicate keys.
	Dup DupMode
	// Incremental adds to the existing table instead of replacing it
	// (postmap -i).
	Incremental bool
	// Source, when not nil, is read instead of the source file PATH.
	Source io.Reader
	// SourceName names Source in warnings.
	SourceName string
	// FileValues (postmap -F) takes each value as file names, separated
	// by commas or white space, and stores their contents, joined by
	// newlines, base64-encoded, as tls_server_sni_maps wants them.
	FileValues bool
}

// record is one entry during a build; seq orders records of the same key.
type record struct {
	key, value string
	line, seq  int
}

// writeBatch is the number of entries written per bbolt transaction.
const writeBatch = 100_000

// Build reads the source file path (postmap or, when aliases is set,
// aliases(5) syntax) and atomically replaces the table file path.db with a
// new one. typ must be "hash" or "btree". Malformed records are skipped
// with a warning; warnings are returned and, when out is not nil, also
// written to out one per line as they are known.
func Build(typ, path string, aliases bool, out io.Writer) ([]string, error) {
	warnings, err := BuildWith(typ, path, BuildOptions{Aliases: aliases})
	if out != nil {
		for _, w := range warnings {
			fmt.Fprintln(out, w)
		}
	}
	return warnings, err
}

// BuildWith is Build with all options. Readers of the table see either the
// old or the new version, never a partial one.
func BuildWith(typ, path string, opt BuildOptions) ([]string, error) {
	if err := checkBuildType(typ); err != nil {
		return nil, err
	}
	src, srcName := opt.Source, opt.SourceName
	var srcInfo os.FileInfo
	if src == nil {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("open source file: %w", err)
		}
		defer f.Close()
		if srcInfo, err = f.Stat(); err != nil {
			return nil, fmt.Errorf("stat %s: %w", path, err)
		}
		src, srcName = f, path
	}
	if srcName == "" {
		srcName = "-"
	}
	dbPath := DBPath(path)
	unlock, err := lockDir(filepath.Dir(dbPath))
	if err != nil {
		return nil, err
	}
	defer unlock()
	var recs []record
	if opt.Incremental {
		if recs, err = readTable(dbPath); err != nil {
			return nil, err
		}
	}
	if srcInfo != nil {
		recs = slices.Grow(recs, int(srcInfo.Size()/40))
	}
	scan := scanSource
	if opt.Aliases {
		scan = scanAliases
	}
	var fileErr error
	warnings, err := scan(src, srcName, func(e Entry) {
		if opt.FileValues {
			v, err := fileContents(e.Value)
			if err != nil {
				fileErr = cmp.Or(fileErr, fmt.Errorf("%s, line %d: %w", srcName, e.Line, err))
				return
			}
			e.Value = v
		}
		recs = append(recs, record{key: fold(e.Key), value: e.Value, line: e.Line, seq: len(recs)})
	})
	if err == nil {
		err = fileErr
	}
	if err != nil {
		return warnings, err
	}
	recs, dupWarnings := dedup(recs, srcName, opt.Dup)
	warnings = append(warnings, dupWarnings...)
	if opt.Aliases {
		recs = addAt(recs)
	}
	meta, err := tableMeta(dbPath, srcInfo)
	if err != nil {
		return warnings, err
	}
	return warnings, writeTable(dbPath, recs, meta)
}

// Delete removes keys from the table built from path and returns how many
// were found. The table is rewritten atomically when anything was removed.
func Delete(typ, path string, keys []string) (int, error) {
	if err := checkBuildType(typ); err != nil {
		return 0, err
	}
	dbPath := DBPath(path)
	unlock, err := lockDir(filepath.Dir(dbPath))
	if err != nil {
		return 0, err
	}
	defer unlock()
	recs, err := readTable(dbPath)
	if err != nil {
		return 0, err
	}
	drop := make(map[string]bool, len(keys))
	for _, k := range keys {
		drop[fold(k)] = true
	}
	kept := recs[:0]
	for _, r := range recs {
		if !drop[r.key] {
			kept = append(kept, r)
		}
	}
	n := len(recs) - len(kept)
	if n == 0 {
		return 0, nil
	}
	meta, err := tableMeta(dbPath, nil)
	if err != nil {
		return 0, err
	}
	return n, writeTable(dbPath, kept, meta)
}

func checkBuildType(typ string) error {
	switch typ {
	case "hash", "btree":
		return nil
	default:
		return fmt.Errorf("unsupported table type for building: %q (use hash or btree)", typ)
	}
}

// dedup sorts recs by key and resolves duplicate keys: of records with the
// same key, the one with the lowest seq comes first.
func dedup(recs []record, srcName string, dup DupMode) ([]record, []string) {
	slices.SortFunc(recs, func(a, b record) int {
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	var dups []record
	out := recs[:0]
	for _, r := range recs {
		if n := len(out); n > 0 && out[n-1].key == r.key {
			switch dup {
			case DupReplace:
				out[n-1] = r
			case DupWarn:
				dups = append(dups, r)
			}
			continue
		}
		out = append(out, r)
	}
	slices.SortFunc(dups, func(a, b record) int { return cmp.Compare(a.seq, b.seq) })
	warnings := make([]string, 0, len(dups))
	for _, d := range dups {
		warnings = append(warnings, fmt.Sprintf("%s, line %d: duplicate entry: %q", srcName, d.line, d.key))
	}
	return out, warnings
}

// addAt adds the "@" -> "@" entry that postalias stores for sendmail
// compatibility, keeping recs sorted.
func addAt(recs []record) []record {
	i, found := slices.BinarySearchFunc(recs, "@", func(r record, k string) int { return cmp.Compare(r.key, k) })
	if found {
		return recs
	}
	return slices.Insert(recs, i, record{key: "@", value: "@"})
}

// readTable returns the entries of an existing table file in key order, or
// nothing when it does not exist.
func readTable(dbPath string) ([]record, error) {
	if _, err := os.Stat(dbPath); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	db, _, err := openReadOnly(dbPath)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var recs []record
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte(bucketName))
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			recs = append(recs, record{key: string(k), value: string(v), seq: len(recs)})
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", dbPath, err)
	}
	return recs, nil
}

// lockDir takes an exclusive lock on dir so that concurrent updates of
// tables in it are serialized; readers never take it.
func lockDir(dir string) (func(), error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}

// fileContents reads the files a postmap -F value names and returns their
// contents, joined by newlines, base64-encoded.
func fileContents(value string) (string, error) {
	names := strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })
	if len(names) == 0 {
		return "", errors.New("no file name in the value")
	}
	var all []byte
	for i, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			return "", err
		}
		if i > 0 {
			all = append(all, '\n')
		}
		all = append(all, b...)
	}
	return base64.StdEncoding.EncodeToString(all), nil
}
