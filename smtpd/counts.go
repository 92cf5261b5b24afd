package smtpd

import (
	"fmt"
	"strings"
)

// commandOrder is the order of Postfix's "disconnect from" statistics.
var commandOrder = []string{"helo", "ehlo", "xclient", "xforward", "starttls", "auth", "mail", "rcpt", "data", "bdat", "rset", "noop", "vrfy", "etrn", "help", "quit", "unknown"}

// commandCounts counts each command and its successes for the
// "disconnect from ... ehlo=1 mail=1 rcpt=0/1 commands=2/3" log line.
type commandCounts struct {
	ok, all map[string]int
}

func (c *commandCounts) add(verb string, ok bool) {
	if c.all == nil {
		c.ok, c.all = map[string]int{}, map[string]int{}
	}
	c.all[verb]++
	if ok {
		c.ok[verb]++
	}
}

// String formats the counts as Postfix does: "n" when all succeeded,
// "ok/all" otherwise.
func (c commandCounts) String() string {
	var parts []string
	var ok, all int
	for _, v := range commandOrder {
		if c.all[v] == 0 {
			continue
		}
		parts = append(parts, v+"="+ratio(c.ok[v], c.all[v]))
		ok += c.ok[v]
		all += c.all[v]
	}
	parts = append(parts, "commands="+ratio(ok, all))
	return strings.Join(parts, " ")
}

func ratio(ok, all int) string {
	if ok == all {
		return fmt.Sprint(all)
	}
	return fmt.Sprintf("%d/%d", ok, all)
}
