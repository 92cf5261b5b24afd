package restrict

import (
	"fmt"
	"strconv"
	"strings"
)

// actionKind is the meaning of an access(5) table result.
type actionKind int

const (
	actDunno         actionKind = iota // DUNNO: as if not found, stop searching
	actOK                              // OK, RELAY or all digits
	actReject                          // REJECT [text]
	actDefer                           // DEFER [text]
	actCode                            // 4NN/5NN text
	actDeferIfPermit                   // DEFER_IF_PERMIT [text]
	actDeferIfReject                   // DEFER_IF_REJECT [text]
	actWarn                            // WARN [text]
	actInfo                            // INFO [text]
	actPrepend                         // PREPEND header: value
	actHold                            // HOLD [text]
	actDiscard                         // DISCARD [text]
	actFilter                          // FILTER transport:destination
	actRedirect                        // REDIRECT user@domain
	actEmpty                           // empty result (Postfix: OK, with a warning)
	actUnsupported                     // BCC, HANGUP (not implemented)
	actTable                           // names a lookup table: not allowed
	actRestrictions                    // restriction names, evaluated recursively
)

// accessAction is a parsed access table result.
type accessAction struct {
	kind actionKind
	word string // the first word as written
	code int    // for actCode
	dsn  string // enhanced status code given in the text, or ""
	text string // optional text after the word (and DSN)
}

// unsupportedActions are access(5) actions that need smtpd or cleanup
// support that tern's restriction engine does not have.
var unsupportedActions = map[string]bool{
	"BCC": true, "HANGUP": true,
}

// parseAccessResult parses the right-hand side of an access(5) entry the
// way Postfix's check_table_result does. Action words are matched
// case-insensitively.
func parseAccessResult(value string) accessAction {
	value = strings.TrimSpace(value)
	if value == "" {
		return accessAction{kind: actEmpty}
	}
	var word, text string
	if i := strings.IndexAny(value, " \t"); i >= 0 {
		word, text = value[:i], strings.TrimLeft(value[i:], " \t")
	} else {
		word, text = value, ""
	}
	a := accessAction{word: word, text: text}
	switch up := strings.ToUpper(word); {
	case up == "DUNNO":
		a.kind = actDunno
	case up == "REJECT":
		a.kind = actReject
	case up == "DEFER":
		a.kind = actDefer
	case up == "INFO":
		a.kind = actInfo
	case up == "WARN":
		a.kind = actWarn
	case up == "PREPEND":
		a.kind = actPrepend
	case up == "HOLD":
		a.kind = actHold
	case up == "DISCARD":
		a.kind = actDiscard
	case up == "FILTER":
		a.kind = actFilter
	case up == "REDIRECT":
		a.kind = actRedirect
	case up == "DEFER_IF_PERMIT":
		a.kind = actDeferIfPermit
	case up == "DEFER_IF_REJECT":
		a.kind = actDeferIfReject
	case unsupportedActions[up]:
		a.kind = actUnsupported
	case allDigits(value):
		a.kind = actOK
	case len(word) == 3 && text != "" && (word[0] == '4' || word[0] == '5') && isDigit(word[1]) && isDigit(word[2]):
		a.kind = actCode
		a.code, _ = strconv.Atoi(word)
	case up == "OK" || up == "RELAY":
		a.kind = actOK
	case strings.Contains(value, ":"):
		a.kind = actTable
	default:
		a.kind, a.text = actRestrictions, value
	}
	switch a.kind {
	case actReject, actDefer, actCode, actDeferIfPermit, actDeferIfReject:
		a.dsn, a.text = splitDSN(a.text)
	}
	return a
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// validDSN reports an RFC 3463 status code: class 2, 4 or 5, then
// subject and detail of one to three digits.
func validDSN(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || strings.IndexByte("245", parts[0][0]) < 0 {
		return false
	}
	for _, p := range parts[1:] {
		if p == "" || len(p) > 3 || !allDigits(p) {
			return false
		}
	}
	return true
}

// splitDSN takes a leading enhanced status code off text.
func splitDSN(text string) (dsn, rest string) {
	first, tail, _ := strings.Cut(text, " ")
	if validDSN(first) {
		return first, strings.TrimLeft(tail, " \t")
	}
	return "", text
}

// dsnFix maps an address status code to the kind of thing rejected, as
// Postfix's smtpd_dsn_fix: recipient codes become sender codes when a
// sender is rejected and vice versa, and any X.1.Y code becomes X.0.0 for
// non-address information.
func dsnFix(dsn, class string) string {
	if len(dsn) < 5 || dsn[1:4] != ".1." {
		return dsn
	}
	detail := dsn[4:]
	var fixed string
	switch class {
	case classSender:
		fixed = map[string]string{"2": "1.8", "3": "1.7", "7": "1.7", "8": "1.8"}[detail]
		if fixed == "" {
			fixed = "1.0"
		}
	case classRecipient:
		fixed = map[string]string{"1": "1.1", "2": "1.2", "3": "1.3", "4": "1.4", "5": "1.5", "6": "1.6", "7": "1.3", "8": "1.2"}[detail]
		if fixed == "" {
			fixed = "1.0"
		}
	default:
		fixed = "0.0"
	}
	return dsn[:2] + fixed
}

// whatsup is the log reason of a HOLD or DISCARD action: "<name>: class
// text", with def when the table gave no text.
func whatsup(lc listCtx, text, def string) string {
	if text == "" {
		text = def
	}
	return "<" + lc.name + ">: " + lc.class + " " + text
}

// tableResult turns a table result into a decision (check_table_result).
func (e *eval) tableResult(table, value string, lc listCtx) status {
	a := parseAccessResult(value)
	set := &e.c.set
	withText := func(code int, defDSN, defText string) rej {
		dsn := defDSN
		if a.dsn != "" {
			dsn = a.dsn
		}
		text := a.text
		if text == "" {
			text = defText
		}
		return classReject(code, dsnFix(dsn, lc.class), lc, text)
	}
	switch a.kind {
	case actDunno:
		return dunno
	case actOK:
		return e.permit(e.cur, lc.class, lc.name)
	case actEmpty:
		e.logf("warning: access table %s has an entry with an empty value", table)
		return e.permit(e.cur, lc.class, lc.name)
	case actReject:
		return e.reject(withText(set.mapRejectCode, "5.7.1", "Access denied"))
	case actDefer:
		return e.reject(withText(set.mapDeferCode, "4.7.1", "Access denied"))
	case actCode:
		return e.reject(withText(a.code, string(a.word[0])+".7.1", "Access denied"))
	case actDeferIfPermit:
		return e.deferIfPermit(tempfailDeferIfPermit, withText(set.mapDeferCode, "4.7.1", "Service unavailable"))
	case actDeferIfReject:
		return e.deferIfReject(withText(set.mapDeferCode, "4.7.1", "Service unavailable"))
	case actWarn, actInfo:
		e.logf("%s: %s: <%s>: %s %s", strings.ToLower(a.word), e.stage, lc.name, lc.class, a.text)
		return dunno
	case actPrepend:
		if !isHeaderLine(a.text) {
			return e.serverError("access table %s entry %q requires header: text", table, value)
		}
		e.addPrepend(a.text)
		return dunno
	case actHold:
		// The message goes to the hold queue unless a later restriction
		// rejects it; the lists go on.
		if e.hold == "" {
			e.hold = whatsup(lc, a.text, "triggers HOLD action")
		}
		return dunno
	case actDiscard:
		// The message is accepted and dropped: this list passes.
		if e.discard == "" {
			e.discard = whatsup(lc, a.text, "triggers DISCARD action")
		}
		return e.permit(e.cur, lc.class, lc.name)
	case actFilter:
		// The message goes to a content filter; the lists go on.
		if !strings.Contains(a.text, ":") {
			e.logf("warning: access table %s entry %q requires transport:destination", table, value)
			return dunno
		}
		e.filter, e.filterLog = a.text, whatsup(lc, "triggers FILTER "+a.text, "")
		return dunno
	case actRedirect:
		// The message goes to this address instead of its recipients.
		if !strings.Contains(a.text, "@") || strings.ContainsAny(a.text, " \t<>,") {
			e.logf("warning: access table %s entry %q requires user@domain target", table, value)
			return dunno
		}
		e.redirect, e.redirectLog = a.text, whatsup(lc, "triggers REDIRECT "+a.text, "")
		return dunno
	case actUnsupported:
		return e.serverError("access table %s: action %s is not supported by tern", table, strings.ToUpper(a.word))
	case actTable:
		return e.serverError("access table %s has entry with lookup table: %s; define a restriction class and specify its name instead", table, value)
	}
	if e.recursion > maxRecursion {
		return e.serverError("access table %s entry %s causes unreasonable recursion", table, value)
	}
	steps, err := e.c.parseRuntime(a.text)
	if err != nil {
		return e.serverError("access table %s: %v", table, err)
	}
	return e.runList(&list{param: table, steps: steps}, lc)
}

// lookup searches one table; key is folded to lower case.
func (e *eval) lookup(table, key string) (string, bool, error) {
	m, ok := e.c.tables[table]
	if !ok {
		return "", false, fmt.Errorf("table %s was not opened", table)
	}
	return m.Lookup(strings.ToLower(key))
}

// checkAccess looks up one key; found reports whether the table had it.
func (e *eval) checkAccess(table, key string, lc listCtx) (st status, found bool) {
	v, ok, err := e.lookup(table, key)
	if err != nil {
		return e.tableError(table, key, err, lc), true
	}
	if !ok {
		return dunno, false
	}
	return e.tableResult(table, v, lc), true
}

// tableError is Postfix's reply when a table cannot be searched: a 451
// 4.3.5 "Server configuration error" in the stage's reply format.
func (e *eval) tableError(table, key string, err error, lc listCtx) status {
	e.logf("warning: %s: table lookup of %q failed: %v", table, key, err)
	r := classReject(451, "4.3.5", lc, textServerError)
	r.hard = true
	return e.reject(r)
}

// checkDomainAccess looks up a host or domain name, then its parent
// domains ("b.c", "c" when smtpd_access_maps is in
// parent_domain_matches_subdomains, else ".b.c", ".c").
func (e *eval) checkDomainAccess(table, domain string, lc listCtx) (status, bool) {
	numeric := validHostAddr(domain) || strings.HasPrefix(domain, "[")
	for name := domain; name != ""; {
		if st, found := e.checkAccess(table, name, lc); found {
			return st, true
		}
		if numeric {
			break
		}
		i := strings.IndexByte(name[1:], '.')
		if i < 0 {
			break
		}
		name = name[1+i:]
		if e.c.set.parentMatches {
			name = name[1:]
		}
	}
	return dunno, false
}

// checkAddrAccess looks up a client IP address, then its shorter
// prefixes: 1.2.3.4, 1.2.3, 1.2, 1 (and the same at ':' for IPv6).
func (e *eval) checkAddrAccess(table, addr string, lc listCtx) (status, bool) {
	delim := "."
	if strings.Contains(addr, ":") {
		delim = ":"
	}
	for key := addr; key != ""; {
		if st, found := e.checkAccess(table, key, lc); found {
			return st, true
		}
		i := strings.LastIndex(key, delim)
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return dunno, false
}

// checkNameAddrAccess is check_client_access: the host name and its
// parent domains, then the address and its prefixes.
func (e *eval) checkNameAddrAccess(table, name string, lc listCtx) status {
	if name == "" {
		name = "unknown"
	}
	if st, found := e.checkDomainAccess(table, name, lc); found {
		return st
	}
	st, _ := e.checkAddrAccess(table, e.f.ClientAddr.Unmap().String(), lc)
	return st
}

// checkMailAccess is check_sender_access / check_recipient_access for a
// non-null address, searched in its resolved form: user+ext@domain,
// user@domain, domain and parent domains, user+ext@, user@. An OK for a
// source-routed recipient is not trusted.
func (e *eval) checkMailAccess(table, addr string, lc listCtx) status {
	r, err := e.resolve(addr)
	if err != nil {
		return e.dictRetry(addr, err)
	}
	st := e.mailAccess(table, r, lc)
	if st == permitted && r.routed && !e.c.set.allowUntrustedRouting && lc.class == classRecipient {
		e.permitWord = ""
		return dunno
	}
	return st
}

func (e *eval) mailAccess(table string, r resolved, lc listCtx) status {
	bare, _ := e.c.set.extensions.SplitExtension(r.local)
	keys := []string{r.local + "@" + r.domain}
	if bare != r.local {
		keys = append(keys, bare+"@"+r.domain)
	}
	for _, k := range keys {
		if st, found := e.checkAccess(table, k, lc); found {
			return st
		}
	}
	if r.domain != "" {
		if st, found := e.checkDomainAccess(table, r.domain, lc); found {
			return st
		}
	}
	keys = []string{r.local + "@"}
	if bare != r.local {
		keys = append(keys, bare+"@")
	}
	for _, k := range keys {
		if st, found := e.checkAccess(table, k, lc); found {
			return st
		}
	}
	return dunno
}
