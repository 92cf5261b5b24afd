package qmgr

import (
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"

	"github.com/tern-mta/tern/pkg/ipc"
	"github.com/tern-mta/tern/pkg/maps"
)

// userACL is a Postfix user access list, as authorized_submit_users
// takes it: user names, type:table lookups (static:anyone and static:all
// match everyone), each possibly negated with "!"; the first match
// decides, and a user no element matches is refused.
type userACL struct {
	items []aclItem
}

type aclItem struct {
	neg   bool
	name  string   // a user name, or
	table maps.Map // a table in which the name is looked up
}

// parseUserACL reads the list of param; nil (everyone) for an empty list
// and for Postfix's default static:anyone.
func parseUserACL(param, v string) (*userACL, error) {
	words := splitACL(v)
	if len(words) == 0 || len(words) == 1 && (words[0] == "static:anyone" || words[0] == "static:all") {
		return nil, nil
	}
	acl := &userACL{}
	for _, w := range words {
		it := aclItem{}
		if rest, ok := strings.CutPrefix(w, "!"); ok {
			it.neg, w = true, rest
		}
		if strings.Contains(w, ":") {
			m, err := maps.Open(w, maps.Options{})
			if err != nil {
				return nil, fmt.Errorf("%s: %w", param, err)
			}
			it.table = m
		} else {
			it.name = w
		}
		acl.items = append(acl.items, it)
	}
	return acl, nil
}

// allows reports whether user may act; a nil list allows everyone. A
// table failure refuses, with the error.
func (a *userACL) allows(user string) (bool, error) {
	if a == nil {
		return true, nil
	}
	for _, it := range a.items {
		match := it.name == user
		if it.table != nil {
			_, found, err := it.table.Lookup(user)
			if err != nil {
				return false, err
			}
			match = found
		}
		if match {
			return !it.neg, nil
		}
	}
	return false, nil
}

// splitACL splits a list at commas and white space, except inside
// braces (inline:{ a=b, c=d }).
func splitACL(v string) []string {
	var out []string
	depth, start := 0, -1
	for i, r := range v + " " {
		sep := depth == 0 && (r == ',' || r == ' ' || r == '\t' || r == '\n')
		switch {
		case r == '{':
			depth++
		case r == '}' && depth > 0:
			depth--
		}
		if sep {
			if start >= 0 {
				out = append(out, v[start:i])
				start = -1
			}
		} else if start < 0 {
			start = i
		}
	}
	return out
}

// queueUserRefusal applies acl (authorized_flush_users or
// authorized_mailq_users, named by param) to the local user at the other
// end of c, who asks to do what ("flush the mail queue"). It returns nil
// when the user may, else the error reply to send: as in Postfix, root
// and the mail system owner (the user qmgr runs as) always may.
func (m *Manager) queueUserRefusal(c *ipc.Conn, acl *userACL, param, what string) ipc.Record {
	if acl == nil {
		return nil
	}
	cred, err := ipc.PeerCred(c.NetConn())
	if err != nil {
		m.log.Warnf("%s: the requesting user is unknown: %v", param, err)
		return queueUserError(exNoPerm, "the requesting user is unknown: not allowed to "+what)
	}
	if cred.UID == 0 || int(cred.UID) == os.Geteuid() {
		return nil
	}
	name := userName(int(cred.UID))
	ok, err := acl.allows(name)
	if err != nil {
		m.log.Warnf("%s: %v", param, err)
		return queueUserError(exTempFail, param+": table lookup failure")
	}
	if ok {
		return nil
	}
	text := fmt.Sprintf("User %s(%d) is not allowed to %s", name, cred.UID, what)
	m.log.Warnf("%s", text)
	return queueUserError(exNoPerm, text)
}

// queueUserError is the error reply of a refused queue request, with the
// sendmail exit status the client exits with.
func queueUserError(code int, text string) ipc.Record {
	return ipc.Record{{Name: attrStatus, Value: "error"}, {Name: "code", Value: strconv.Itoa(code)}, {Name: attrText, Value: text}}
}

// userName is the login name of uid, or the number when it has none.
func userName(uid int) string {
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		return u.Username
	}
	return strconv.Itoa(uid)
}
