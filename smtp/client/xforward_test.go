package client

import (
	"strings"
	"testing"
)

func TestXforwardCommandsSplit(t *testing.T) {
	long := strings.Repeat("a", 250)
	cmds := XforwardCommands("NAME ADDR PROTO HELO IDENT SOURCE",
		map[string]string{"NAME": long + ".example", "ADDR": "192.0.2.1", "PROTO": "ESMTP", "HELO": long + ".helo", "IDENT": "ABC", "SOURCE": "REMOTE"})
	if len(cmds) != 2 {
		t.Fatalf("%d commands, want 2: %q", len(cmds), cmds)
	}
	for _, c := range cmds {
		if len(c) > xforwardLineMax || !strings.HasPrefix(c, "XFORWARD ") {
			t.Errorf("command of %d octets: %.40q", len(c), c)
		}
	}
	if !strings.Contains(cmds[1], "HELO="+long+".helo IDENT=ABC SOURCE=REMOTE") {
		t.Errorf("second command %q", cmds[1])
	}
	if got := XforwardCommands("name addr", map[string]string{"ADDR": "a=b+c"}); len(got) != 1 || got[0] != "XFORWARD ADDR=a+3Db+2Bc" {
		t.Errorf("xtext and case-blind keyword: %q", got)
	}
	if got := XforwardCommands("NAME", map[string]string{"ADDR": "192.0.2.1"}); got != nil {
		t.Errorf("unannounced attribute sent: %q", got)
	}
}
