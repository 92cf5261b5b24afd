package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// mapFigures are one system's figures of the map phase.
type mapFigures struct {
	build    time.Duration // "map hash:FILE" of the whole source file
	query    time.Duration // "map -q - hash:FILE" of the query keys
	buildCPU time.Duration // user+system time of the build
	queryCPU time.Duration // user+system time of the lookups
}

// mapTargets: the tern advantage the map phase asks for.
const (
	mapBuildTarget = 1
	mapQueryTarget = 2
)

// mapMetrics lists the map phase's lines.
func mapMetrics() []metric {
	return []metric{
		{"hash: build", "s", func(r result) float64 { return r.maps.build.Seconds() }, false, mapBuildTarget, "x speedup"},
		{"hash: -q - batch lookups", "s", func(r result) float64 { return r.maps.query.Seconds() }, false, mapQueryTarget, "x speedup"},
		{"hash: build CPU", "s", func(r result) float64 { return r.maps.buildCPU.Seconds() }, false, 0, "x less CPU"},
		{"hash: -q - CPU", "s", func(r result) float64 { return r.maps.queryCPU.Seconds() }, false, 0, "x less CPU"},
	}
}

// mapsUsable says whether the map phase runs.
func mapsUsable(cfg config) bool {
	return cfg.mapsKeys > 0 && !cfg.noMaps && !cfg.smtpOnly && !cfg.relayOnly
}

// postmapUsable says whether Postfix's postmap can be compared, and if
// not, why. Unlike a Postfix instance, postmap needs no root.
func postmapUsable(cfg config) (bool, string) {
	if cfg.noPostfix {
		return false, "disabled with -no-postfix"
	}
	st, err := os.Stat(cfg.postmap)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return false, "Postfix's postmap is not installed at " + cfg.postmap
	}
	if real, err := filepath.EvalSymlinks(cfg.postmap); err == nil && filepath.Base(real) == "tern" {
		return false, cfg.postmap + " is tern's, not Postfix's"
	}
	return true, ""
}

// mapSystem is one program the map phase times: its command and the
// source file it builds (each system has a folder of its own).
type mapSystem struct {
	name string
	bin  string
	args []string // before the table, e.g. -c DIR
	src  string
}

func (s mapSystem) cmd(ctx context.Context, extra ...string) *exec.Cmd {
	args := append(append(append([]string{}, s.args...), extra...), "hash:"+s.src)
	return exec.CommandContext(ctx, s.bin, args...)
}

// runMaps runs the map phase and prints its table; it reports whether
// tern missed a target against postmap.
func runMaps(ctx context.Context, cfg config, ternBin string, w io.Writer) (bool, error) {
	withPostmap, why := postmapUsable(cfg)
	dir, err := os.MkdirTemp(cfg.tmpRoot, "tern-bench-maps-")
	if err != nil {
		return false, fmt.Errorf("temporary folder: %w", err)
	}
	defer os.RemoveAll(dir)
	systems, keys, err := prepareMaps(cfg, dir, ternBin, withPostmap)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(w, "\nmap bench: a %d-key hash: table (keys like user123456@example.com) built from its source file, then %d keys on -q - (half present, shuffled); tern map vs %s, %d run(s)\n",
		cfg.mapsKeys, cfg.mapsQueries, postmapName(withPostmap, why, cfg.postmap), cfg.mapsRuns)
	all := make([][]mapFigures, len(systems))
	for run := range cfg.mapsRuns {
		for i, s := range systems {
			fig, err := timeMap(ctx, s, keys, run == 0)
			if err != nil {
				return false, fmt.Errorf("map phase, %s: %w", s.name, err)
			}
			all[i] = append(all[i], fig)
		}
		if run == 0 && withPostmap {
			if err := sameOutput(systems); err != nil {
				return false, err
			}
		}
	}
	r := runResults{tern: result{maps: medianMaps(all[0])}}
	if withPostmap {
		r.postfix = result{maps: medianMaps(all[1])}
	}
	missed := printRows(w, fmt.Sprintf("map phase, median of %d runs:", cfg.mapsRuns), mapMetrics(), r, withPostmap)
	checked := "one line per present key (checked)"
	if withPostmap {
		checked = "the same output for both (checked)"
	}
	fmt.Fprintln(w, "map build: wall time of one \"map hash:FILE\" (no table file before it); -q - batch lookups: wall time of")
	fmt.Fprintf(w, "  \"map -q - hash:FILE < keys\" with the output in a file, %s; CPU: user+system.\n", checked)
	if load := loadAverage(); load > float64(runtime.NumCPU())/2 {
		fmt.Fprintf(w, "WARNING: the machine is busy (load average %.2f on %d cores): wall times are unreliable, CPU times less so.\n", load, runtime.NumCPU())
	}
	return missed, nil
}

func postmapName(ok bool, why, path string) string {
	if ok {
		return "Postfix's " + path + " on a copy of the same file"
	}
	return "no postmap (" + why + ")"
}

// prepareMaps writes the source file and the query keys, and returns the
// systems to time (tern first) and the keys file.
func prepareMaps(cfg config, dir, ternBin string, withPostmap bool) ([]mapSystem, string, error) {
	conf := filepath.Join(dir, "etc")
	if err := os.Mkdir(conf, 0o755); err != nil {
		return nil, "", fmt.Errorf("mkdir %s: %w", conf, err)
	}
	if err := os.WriteFile(filepath.Join(conf, "main.cf"), []byte("# tern bench: map phase\n"), 0o644); err != nil {
		return nil, "", fmt.Errorf("write main.cf: %w", err)
	}
	src, queries := mapData(cfg.mapsKeys, cfg.mapsQueries)
	keys := filepath.Join(dir, "keys")
	if err := os.WriteFile(keys, queries, 0o644); err != nil {
		return nil, "", fmt.Errorf("write %s: %w", keys, err)
	}
	systems := []mapSystem{{name: "tern", bin: ternBin, args: []string{"map", "-c", conf}}}
	if withPostmap {
		systems = append(systems, mapSystem{name: "postmap", bin: cfg.postmap, args: []string{"-c", conf}})
	}
	for i := range systems {
		sub := filepath.Join(dir, systems[i].name)
		if err := os.Mkdir(sub, 0o755); err != nil {
			return nil, "", fmt.Errorf("mkdir %s: %w", sub, err)
		}
		systems[i].src = filepath.Join(sub, "virtual")
		if err := os.WriteFile(systems[i].src, src, 0o644); err != nil {
			return nil, "", fmt.Errorf("write %s: %w", systems[i].src, err)
		}
	}
	return systems, keys, nil
}

// mapData returns a source file of n "key value" lines in random order
// and q query keys, half of them in the file, shuffled. The same seed
// every time: every run and system works on the same data.
func mapData(n, q int) (src, queries []byte) {
	rng := rand.New(rand.NewPCG(1, 2))
	// Key i has number 10*i + its residue: distinct numbers, with gaps
	// for keys that are not in the table.
	residue := make([]uint8, n)
	for i := range residue {
		residue[i] = uint8(rng.IntN(10))
	}
	var b bytes.Buffer
	for _, i := range rng.Perm(n) {
		id := 10*i + int(residue[i])
		fmt.Fprintf(&b, "user%d@example.com\tuser%d@mail%d.example.net\n", id, id, i%50)
	}
	var k bytes.Buffer
	for j := range q {
		i := rng.IntN(n)
		r := int(residue[i])
		if j%2 == 1 {
			r = (r + 1 + rng.IntN(9)) % 10 // a gap: absent
		}
		fmt.Fprintf(&k, "user%d@example.com\n", 10*i+r)
	}
	lines := strings.SplitAfter(k.String(), "\n")
	lines = lines[:len(lines)-1]
	rng.Shuffle(len(lines), func(a, c int) { lines[a], lines[c] = lines[c], lines[a] })
	return b.Bytes(), []byte(strings.Join(lines, ""))
}

// timeMap builds the table (after removing the one of the last run) and
// runs the batch lookups, keeping their output in SRC.out; check also
// verifies that the table holds what it should.
func timeMap(ctx context.Context, s mapSystem, keys string, check bool) (mapFigures, error) {
	var fig mapFigures
	if err := os.Remove(s.src + ".db"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fig, fmt.Errorf("remove old table: %w", err)
	}
	build := s.cmd(ctx)
	start := time.Now()
	if out, err := build.CombinedOutput(); err != nil {
		return fig, fmt.Errorf("build: %w: %s", err, bytes.TrimSpace(out))
	}
	fig.build = time.Since(start)
	fig.buildCPU = build.ProcessState.UserTime() + build.ProcessState.SystemTime()
	in, err := os.Open(keys)
	if err != nil {
		return fig, fmt.Errorf("open keys: %w", err)
	}
	defer in.Close()
	out, err := os.Create(s.src + ".out")
	if err != nil {
		return fig, fmt.Errorf("create output: %w", err)
	}
	defer out.Close()
	cmd := s.cmd(ctx, "-q", "-")
	var errOut bytes.Buffer
	cmd.Stdin, cmd.Stdout, cmd.Stderr = in, out, &errOut
	start = time.Now()
	if err := cmd.Run(); err != nil {
		return fig, fmt.Errorf("-q -: %w: %s", err, bytes.TrimSpace(errOut.Bytes()))
	}
	fig.query = time.Since(start)
	fig.queryCPU = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if check {
		return fig, checkQueryOutput(s.src+".out", keys)
	}
	return fig, nil
}

// checkQueryOutput verifies that the output answers every present key
// (the odd lines of the keys are absent ones, see mapData) and only those.
func checkQueryOutput(outPath, keys string) error {
	data, err := os.ReadFile(outPath)
	if err != nil {
		return fmt.Errorf("read output: %w", err)
	}
	q, err := os.ReadFile(keys)
	if err != nil {
		return fmt.Errorf("read keys: %w", err)
	}
	want := bytes.Count(q, []byte("\n")) - bytes.Count(q, []byte("\n"))/2
	got := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		got++
		if !bytes.Contains(sc.Bytes(), []byte("\t")) {
			return fmt.Errorf("query output line %d has no tab: %q", got, sc.Text())
		}
	}
	if got != want {
		return fmt.Errorf("query output has %d lines, want %d (one per present key)", got, want)
	}
	return nil
}

// sameOutput checks that every system printed the same -q - output.
func sameOutput(systems []mapSystem) error {
	first, err := os.ReadFile(systems[0].src + ".out")
	if err != nil {
		return fmt.Errorf("read output: %w", err)
	}
	for _, s := range systems[1:] {
		other, err := os.ReadFile(s.src + ".out")
		if err != nil {
			return fmt.Errorf("read output: %w", err)
		}
		if !bytes.Equal(first, other) {
			return fmt.Errorf("map phase: -q - output of %s differs from %s's (%d vs %d bytes)",
				systems[0].name, s.name, len(first), len(other))
		}
	}
	return nil
}

// medianMaps returns the median of each figure over the runs.
func medianMaps(runs []mapFigures) mapFigures {
	med := func(f func(mapFigures) time.Duration) time.Duration {
		v := make([]float64, len(runs))
		for i, r := range runs {
			v[i] = float64(f(r))
		}
		return time.Duration(median(v))
	}
	return mapFigures{
		build:    med(func(f mapFigures) time.Duration { return f.build }),
		query:    med(func(f mapFigures) time.Duration { return f.query }),
		buildCPU: med(func(f mapFigures) time.Duration { return f.buildCPU }),
		queryCPU: med(func(f mapFigures) time.Duration { return f.queryCPU }),
	}
}
