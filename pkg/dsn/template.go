package dsn

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/tern-mta/tern/pkg/config"
)

// Template is one template of a bounce_template_file (Postfix's
// bounce(5)): the headers of a notification and the explanation that
// comes before the per-recipient paragraphs, with its $names expanded.
type Template struct {
	Charset           string // of the text part; "" means chosen from the text
	From              string // "MAILER-DAEMON (Mail Delivery System)"
	Subject           string
	PostmasterSubject string // of the postmaster's copy
	Text              string
}

// Templates are the templates of a file by the kind of notification they
// shape; a kind without one keeps tern's own text.
type Templates map[Action]*Template

// templateKinds maps the template names of bounce(5) to notification
// kinds; verify_template shapes the reports of sendmail -bv and -v.
var templateKinds = map[string]Action{
	"failure_template": Failed,
	"delay_template":   Delayed,
	"success_template": Delivered,
	"verify_template":  Trace,
}

// templateRef finds $name and ${name} references.
var templateRef = regexp.MustCompile(`\$(\{[A-Za-z0-9_]+\}|[A-Za-z0-9_]+)`)

// ParseTemplates reads a bounce_template_file: "name = <<EOF" starts a
// template, a line with only the word after << ends it; inside, header
// lines (Charset, From, Subject, Postmaster-Subject) come first, then an
// empty line and the text. lookup gives the value of a $name in the text
// (main.cf parameters, and time parameters in units, such as
// delay_warning_time_hours); an unknown name, like any other error, is
// reported with file and line.
func ParseTemplates(r io.Reader, file string, lookup func(name string) (string, bool)) (Templates, error) {
	out := Templates{}
	sc := bufio.NewScanner(r)
	line := 0
	errorf := func(format string, args ...any) error { return fileError(file, line, format, args...) }
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		name, rest, ok := strings.Cut(text, "=")
		name, rest = strings.TrimSpace(name), strings.TrimSpace(rest)
		kind, known := templateKinds[name]
		if !ok || !known {
			return nil, errorf("expected failure_template, delay_template, success_template or verify_template = <<EOF, not %q", clipText(text))
		}
		end, ok := strings.CutPrefix(rest, "<<")
		if end = strings.TrimSpace(end); !ok || end == "" {
			return nil, errorf("%s: expected <<EOF after =", name)
		}
		start := line
		var body []string
		closed := false
		for sc.Scan() {
			line++
			if strings.TrimSpace(sc.Text()) == end {
				closed = true
				break
			}
			body = append(body, sc.Text())
		}
		if !closed {
			line = start
			return nil, errorf("%s: no %s line ends the template", name, end)
		}
		t, err := parseTemplate(body, file, start, lookup)
		if err != nil {
			return nil, err
		}
		out[kind] = t
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", file, err)
	}
	return out, nil
}

// parseTemplate reads the headers and text of one template of file whose
// first line follows line start.
func parseTemplate(body []string, file string, start int, lookup func(string) (string, bool)) (*Template, error) {
	t := &Template{}
	i := 0
	for ; i < len(body) && strings.TrimSpace(body[i]) != ""; i++ {
		name, value, ok := strings.Cut(body[i], ":")
		value = strings.TrimSpace(value)
		var dst *string
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "charset":
			dst = &t.Charset
		case "from":
			dst = &t.From
		case "subject":
			dst = &t.Subject
		case "postmaster-subject":
			dst = &t.PostmasterSubject
		}
		if !ok || dst == nil {
			return nil, fileError(file, start+1+i, "expected Charset:, From:, Subject: or Postmaster-Subject:, not %q", clipText(body[i]))
		}
		*dst = value
	}
	vars := map[string]string{}
	var text strings.Builder
	for j := i + 1; j < len(body); j++ {
		for _, m := range templateRef.FindAllStringSubmatch(body[j], -1) {
			name := strings.Trim(m[1], "{}")
			v, ok := lookup(name)
			if !ok {
				return nil, fileError(file, start+1+j, "unknown parameter $%s", name)
			}
			vars[name] = v
		}
		text.WriteString(body[j])
		text.WriteByte('\n')
	}
	expanded, err := config.ExpandVars(text.String(), vars)
	if err != nil {
		return nil, fileError(file, start+1, "%v", err)
	}
	t.Text = strings.TrimRight(expanded, "\n") + "\n"
	if strings.EqualFold(t.Charset, "us-ascii") && !isASCII(t.Text+t.Subject+t.PostmasterSubject) {
		return nil, fileError(file, start, "the template has non-ASCII text but Charset: us-ascii")
	}
	if !utf8.ValidString(t.Text) {
		return nil, fileError(file, start, "the template text is not valid UTF-8")
	}
	return t, nil
}

// fileError is an error at line n of file.
func fileError(file string, n int, format string, args ...any) error {
	return &config.Error{File: file, Line: n, Msg: fmt.Sprintf(format, args...)}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func clipText(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}
