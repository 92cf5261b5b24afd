package message

import (
	"testing"

	"github.com/tern-mta/tern/pkg/maps"
)

func TestOpenCheckTables(t *testing.T) {
	params := [4]string{"h", "m", "n", "b"}
	values := map[string]string{"h": "inline:{ a=IGNORE }", "m": "inline:{ a=IGNORE }", "b": "inline:{ b=IGNORE }"}
	c, err := OpenCheckTables(func(p string) string { return values[p] }, params, 100, maps.Options{})
	if err != nil || c == nil {
		t.Fatalf("OpenCheckTables = %v, %v", c, err)
	}
	defer c.Close()
	h, hn := c.HeaderTable(PrimaryHeader)
	m, mn := c.HeaderTable(MIMEHeader)
	n, _ := c.HeaderTable(NestedHeader)
	b, bn := c.BodyTable()
	if h == nil || h != m || n != nil || b == nil || hn != "h" || mn != "m" || bn != "b" {
		t.Errorf("tables: header %v %s, mime %v %s, nested %v, body %v %s", h, hn, m, mn, n, b, bn)
	}
	if !c.WantBody() || c.BodyLimit() != 100 {
		t.Errorf("WantBody %v, BodyLimit %d", c.WantBody(), c.BodyLimit())
	}
	if none, err := OpenCheckTables(func(string) string { return "" }, params, 0, maps.Options{}); none != nil || err != nil {
		t.Errorf("no tables: %v, %v", none, err)
	}
	if _, err := OpenCheckTables(func(p string) string { return map[string]string{"b": "nosuchtype:x"}[p] }, params, 0, maps.Options{}); err == nil {
		t.Error("an unknown table type: no error")
	}
}
