package main

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/tern-mta/tern/pkg/config"
)

// pageDate is the date in the page's title line. It is a constant, not the
// time of the run, so that regenerating an unchanged table gives the same
// bytes; change it when the page's text changes.
const pageDate = "2026-11-23"

// ternOnlyNames lists the parameters that exist only in tern and whose
// names do not start with "tern_"; every name starting with "tern_" is
// tern's own as well. The test checks that each of these is in the table.
var ternOnlyNames = []string{"dns_resolver_address"}

// ternWord finds descriptions that say how tern differs from Postfix: they
// name tern itself.
var ternWord = regexp.MustCompile(`\btern\b`)

// isTernOnly reports whether p exists only in tern.
func isTernOnly(p config.Param) bool {
	if strings.HasPrefix(p.Name, "tern_") {
		return true
	}
	for _, n := range ternOnlyNames {
		if p.Name == n {
			return true
		}
	}
	return false
}

// notesDifference reports whether p's description names a difference
// from Postfix.
func notesDifference(p config.Param) bool {
	return !isTernOnly(p) && ternWord.MatchString(p.Doc)
}

// render writes the whole page. computed tells the parameters whose
// default is worked out at run time.
func render(w io.Writer, params []config.Param, computed func(config.Param) bool) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(pageHead)
	writeSelected(bw, "TERN-SPECIFIC PARAMETERS", ternOnlyIntro, params, isTernOnly, computed)
	bw.WriteString(differencesText)
	writeSelected(bw, "", differencesIntro, params, notesDifference, computed)
	bw.WriteString(".SH PARAMETERS\n")
	bw.WriteString(parametersIntro)
	for _, p := range params {
		writeParam(bw, p, computed(p))
	}
	bw.WriteString(pageTail)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write page: %w", err)
	}
	return nil
}

// writeSelected writes a section heading (or, when heading is empty, a
// paragraph break), intro and the entries of the parameters that keep
// selects.
func writeSelected(w *bufio.Writer, heading, intro string, params []config.Param, keep, computed func(config.Param) bool) {
	if heading != "" {
		w.WriteString(".SH " + heading + "\n")
	} else {
		w.WriteString(".PP\n")
	}
	w.WriteString(intro)
	for _, p := range params {
		if keep(p) {
			writeParam(w, p, computed(p))
		}
	}
}

// writeParam writes one tagged entry: name, type and default, then the
// description.
func writeParam(w *bufio.Writer, p config.Param, computed bool) {
	fmt.Fprintf(w, ".TP\n.B %s\n", roffArg(p.Name))
	fmt.Fprintf(w, "%s\n.br\n", textLine(p.Doc))
	if config.Unsupported(p.Name) {
		w.WriteString("Not supported by tern yet: a setting other than the default is warned about at start and has no effect.\n.br\n")
	}
	fmt.Fprintf(w, "Type: %s.\n", textLine(typeText(p.Type)))
	switch {
	case computed:
		w.WriteString("Default: worked out when the configuration is read; see the description.\n")
	case p.Default == "":
		w.WriteString("Default: empty.\n")
	default:
		fmt.Fprintf(w, "Default:\n.RB \"\" %s .\n", roffArg(p.Default))
	}
}

// typeText describes a table type for readers.
func typeText(t string) string {
	units := map[string]string{"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
	if u, ok := strings.CutPrefix(t, "time:"); ok {
		if name, known := units[u]; known {
			return "time (a number without a unit means " + name + ")"
		}
		return "time"
	}
	switch t {
	case "bool":
		return "boolean"
	case "int":
		return "integer"
	case "size":
		return "size in bytes"
	case "list":
		return "list"
	case "map-list":
		return "list of values and lookup tables"
	}
	return t
}

// textLine makes s safe as one roff text line: backslashes are escaped
// and a line that would start with a control character is protected.
func textLine(s string) string {
	s = strings.NewReplacer("\\", `\e`, "\n", " ", "\r", " ").Replace(s)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// roffArg makes s one quoted macro argument: backslashes are escaped and
// a double quote is written as two, as roff reads it inside quotes.
func roffArg(s string) string {
	s = strings.NewReplacer("\\", `\e`, "\n", " ", "\r", " ", `"`, `""`).Replace(s)
	return `"` + s + `"`
}
