package message

import (
	"fmt"
	"strings"

	"github.com/tern-mta/tern/pkg/maps"
)

// CheckTables are the four tables of Postfix's content checks: header,
// MIME header, nested header and body, as cleanup's header_checks,
// mime_header_checks, nested_header_checks and body_checks or the smtp
// agent's smtp_ forms name them. A missing table checks nothing.
type CheckTables struct {
	tables    [4]maps.Map
	params    [4]string
	bodyLimit int
	opened    []maps.Map
}

// Indexes of CheckTables' tables and parameters.
const (
	checkHeader = iota
	checkMIME
	checkNested
	checkBody
)

// OpenCheckTables opens the tables that the parameters params (header,
// MIME header, nested header, body, in that order) name, get giving
// their values; bodyLimit is body_checks_size_limit. A value that an
// earlier parameter has too shares its table (mime_header_checks =
// $header_checks). It returns nil when no parameter names a table.
func OpenCheckTables(get func(string) string, params [4]string, bodyLimit int, opt maps.Options) (*CheckTables, error) {
	c := &CheckTables{params: params, bodyLimit: bodyLimit}
	byValue := map[string]maps.Map{}
	for i, param := range params {
		value := strings.TrimSpace(get(param))
		if value == "" {
			continue
		}
		if m, ok := byValue[value]; ok {
			c.tables[i] = m
			continue
		}
		ms, _, err := maps.OpenSpecList(value, opt)
		if err != nil {
			c.Close()
			return nil, fmt.Errorf("%s: %w", param, err)
		}
		c.opened = append(c.opened, ms...)
		c.tables[i] = maps.Chain(param, ms)
		byValue[value] = c.tables[i]
	}
	if len(c.opened) == 0 {
		return nil, nil
	}
	return c, nil
}

// HeaderTable returns the table for a header field of class, and its
// parameter's name.
func (c *CheckTables) HeaderTable(class HeaderClass) (maps.Map, string) {
	i := checkHeader
	switch class {
	case MIMEHeader:
		i = checkMIME
	case NestedHeader:
		i = checkNested
	}
	return c.tables[i], c.params[i]
}

// BodyTable returns the body table and its parameter's name.
func (c *CheckTables) BodyTable() (maps.Map, string) {
	return c.tables[checkBody], c.params[checkBody]
}

// WantBody reports whether the body is to be inspected: body lines, or
// the headers of its parts.
func (c *CheckTables) WantBody() bool {
	return c.tables[checkMIME] != nil || c.tables[checkNested] != nil || c.tables[checkBody] != nil
}

// BodyLimit is body_checks_size_limit.
func (c *CheckTables) BodyLimit() int { return c.bodyLimit }

// Close closes the tables; it may be called on nil.
func (c *CheckTables) Close() {
	if c != nil {
		maps.CloseAll(c.opened)
	}
}

// TableInspector is the Inspector of a CheckTables: each header field and
// body line is looked up by Check, which gets the table (nil when the
// parameter names none), the parameter's name, "header" or "body", and
// the text, and says what to do with it.
type TableInspector struct {
	Tables *CheckTables
	Check  func(table maps.Map, param, what, text string) Edit
}

// Header implements Inspector.
func (t TableInspector) Header(class HeaderClass, text string) Edit {
	table, param := t.Tables.HeaderTable(class)
	return t.Check(table, param, "header", text)
}

// Body implements Inspector.
func (t TableInspector) Body(line string) Edit {
	table, param := t.Tables.BodyTable()
	return t.Check(table, param, "body", line)
}

// WantBody implements Inspector.
func (t TableInspector) WantBody() bool { return t.Tables.WantBody() }

// BodyLimit implements Inspector.
func (t TableInspector) BodyLimit() int { return t.Tables.BodyLimit() }
