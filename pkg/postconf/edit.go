package postconf

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/tern-mta/tern/pkg/config"
)

// edit is one change to main.cf: set name to value, or remove name.
type edit struct {
	name, value string
	remove      bool
}

// runEdit handles -e name=value...
func (o *options) runEdit() int {
	var edits []edit
	for _, a := range o.args {
		name, value, ok := strings.Cut(a, "=")
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if !ok || name == "" || strings.ContainsAny(name, " \t\r\n$#") || strings.ContainsAny(value, "\r\n") {
			fmt.Fprintf(o.stderr, "%s: bad -e argument %q: want name=value on one line\n", prog, a)
			return exitUnknown
		}
		if _, known := config.Lookup(name); !known {
			fmt.Fprintf(o.stderr, "%s: warning: unknown parameter: %s\n", prog, name)
		}
		edits = append(edits, edit{name: name, value: value})
	}
	return o.applyToMainCF(edits)
}

// runRemove handles -X name...
func (o *options) runRemove() int {
	edits := make([]edit, len(o.args))
	for i, name := range o.args {
		edits[i] = edit{name: strings.TrimSpace(name), remove: true}
	}
	return o.applyToMainCF(edits)
}

// applyToMainCF rewrites main.cf with edits. A change that would turn a
// valid main.cf into an invalid one is refused.
func (o *options) applyToMainCF(edits []edit) int {
	path := filepath.Join(o.dir, "main.cf")
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(o.stderr, "%s: read %s: %v\n", prog, path, err)
		return exitBadConfig
	}
	updated := editMainCF(old, edits)
	if _, err := config.Parse(path, bytes.NewReader(updated)); err != nil {
		if _, oldErr := config.Parse(path, bytes.NewReader(old)); oldErr == nil {
			fmt.Fprintf(o.stderr, "%s: not changing %s: %v\n", prog, path, err)
			return exitBadConfig
		}
	}
	if err := writeFileAtomic(path, updated); err != nil {
		fmt.Fprintf(o.stderr, "%s: %v\n", prog, err)
		return exitBadConfig
	}
	return exitOK
}

// editMainCF applies edits to the text of a main.cf. The first definition
// of a set name (with its continuation lines) is replaced and any later
// ones removed; names not defined yet are appended. Comments and all other
// lines are kept as they are.
func editMainCF(text []byte, edits []edit) []byte {
	want := map[string]edit{}
	var order []string
	for _, e := range edits {
		if _, dup := want[e.name]; !dup {
			order = append(order, e.name)
		}
		want[e.name] = e
	}
	lines := splitLines(string(text))
	var out []string
	done := map[string]bool{}
	for i := 0; i < len(lines); {
		name, ok := definitionName(lines[i])
		end := definitionEnd(lines, i)
		e, edited := want[name]
		switch {
		case !ok || !edited:
			out = append(out, lines[i:end]...)
		case !e.remove && !done[name]:
			out = append(out, formatDefinition(e))
			out = append(out, lines[lastContinuation(lines, i, end)+1:end]...)
		default:
			out = append(out, lines[lastContinuation(lines, i, end)+1:end]...)
		}
		done[name] = done[name] || (ok && edited)
		i = end
	}
	for _, name := range order {
		if e := want[name]; !e.remove && !done[name] {
			out = append(out, formatDefinition(e))
		}
	}
	if len(out) == 0 {
		return nil
	}
	return []byte(strings.Join(out, "\n") + "\n")
}

func formatDefinition(e edit) string {
	if e.value == "" {
		return e.name + " ="
	}
	return e.name + " = " + e.value
}

func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(strings.TrimSuffix(s, "\n"), "\n")
}

// definitionName returns the parameter name if line starts a definition.
func definitionName(line string) (string, bool) {
	if line == "" || isBlank(line[0]) || strings.TrimSpace(line) == "" || line[0] == '#' {
		return "", false
	}
	name, _, ok := strings.Cut(line, "=")
	if !ok {
		return "", false
	}
	return strings.TrimSpace(name), true
}

// definitionEnd returns the index of the next line after i that starts a
// new logical line (or len(lines)): everything up to it that is blank, a
// comment or indented belongs to the logical line at i.
func definitionEnd(lines []string, i int) int {
	j := i + 1
	for j < len(lines) && (lines[j] == "" || isBlank(lines[j][0]) || lines[j][0] == '#') {
		j++
	}
	return j
}

// lastContinuation returns the index of the last continuation line of the
// definition at i (i itself when it has none), ignoring trailing comments
// and blank lines, which are kept when the definition is replaced.
func lastContinuation(lines []string, i, end int) int {
	last := i
	for j := i + 1; j < end; j++ {
		t := strings.TrimSpace(lines[j])
		if t != "" && t[0] != '#' {
			last = j
		}
	}
	return last
}

func isBlank(b byte) bool { return b == ' ' || b == '\t' || b == '\r' || b == '\v' || b == '\f' }

// writeFileAtomic replaces path with data: a temporary file in the same
// directory is written, synced and renamed over path, then the directory
// is synced. The old file's permissions are kept (0644 for a new file).
func writeFileAtomic(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".main.cf.tmp*")
	if err != nil {
		return fmt.Errorf("create temporary file in %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if err := writeAndSync(tmp, data, mode); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s to %s: %w", tmp.Name(), path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

func writeAndSync(f *os.File, data []byte, mode os.FileMode) error {
	_, err := f.Write(data)
	if err == nil {
		err = f.Chmod(mode)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
