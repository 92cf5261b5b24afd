package restrict

import (
	"fmt"
	"strings"
	"time"
)

// step evaluates one restriction in list context lc.
func (e *eval) step(s step, lc listCtx) status {
	set := &e.c.set
	switch s.kind {
	case kPermit:
		return e.permit(s.word, lc.class, lc.name)
	case kReject:
		return e.reject(classReject(set.rejectCode, "5.7.1", lc, "Access denied"))
	case kDefer:
		return e.reject(classReject(set.deferCode, "4.3.2", lc, "Try again later"))
	case kDeferIfPermit:
		return e.deferIfPermit(tempfailDeferIfPermit, classReject(450, "4.7.0", lc, "defer_if_permit requested"))
	case kDeferIfReject:
		return e.deferIfReject(classReject(450, "4.7.0", lc, "defer_if_reject requested"))
	case kPermitMynetworks:
		ok, err := e.c.deps.MyNetworks(e.f.ClientAddr.Unmap())
		if err != nil {
			return e.dictRetry("mynetworks", err)
		}
		if ok {
			return e.permit(s.word, classClient, e.namaddr)
		}
	case kPermitSASL:
		if e.f.SASLUser != "" {
			return e.permit(s.word, classClient, e.namaddr)
		}
	case kPermitAuthDest:
		if e.hasRcpt {
			st := e.permitAuthDest(e.f.Recipient)
			if st == permitted {
				return e.permit(s.word, classRecipient, e.f.Recipient)
			}
			return st
		}
	case kRejectUnauthDest, kDeferUnauthDest:
		if e.hasRcpt {
			return e.rejectUnauthDest(s.kind == kDeferUnauthDest)
		}
	case kRejectUnauthPipelining:
		if e.f.Pipelined {
			return e.reject(classReject(503, "5.5.0", lc, "Improper use of SMTP command pipelining"))
		}
	case kRejectPlaintext:
		if !e.f.TLS {
			return e.reject(rej{code: set.plaintextCode, dsn: "4.7.1", text: "Session encryption is required",
				reason: "Session encryption is required"})
		}
	case kRejectMultiRcptBounce:
		limit := 1
		if e.stage == Rcpt {
			limit = 0
		}
		if e.hasFrom && e.f.Sender == "" && e.f.RecipientCount > limit {
			return e.reject(classReject(set.multiRcptCode, "5.5.3", lc, "Multi-recipient bounce"))
		}
	case kPermitInetInterfaces:
		if e.c.deps.InetInterface(e.f.ClientAddr.Unmap()) {
			return e.permit(s.word, classClient, e.namaddr)
		}
	case kSleep:
		return e.sleep(s.pause)
	case kPermitTLSClientCerts, kPermitTLSAllClientCerts:
		st := e.permitClientCert(s.kind == kPermitTLSAllClientCerts)
		if st == permitted {
			return e.permit(s.word, classClient, e.namaddr)
		}
		return st
	case kRejectUnknownClient:
		return e.rejectUnknownClient()
	case kRejectUnknownReverseClient:
		return e.rejectUnknownReverseClient()
	default:
		return e.stepNamed(s, lc)
	}
	return dunno
}

// stepNamed evaluates HELO, address, table and class restrictions.
func (e *eval) stepNamed(s step, lc listCtx) status {
	f := &e.f
	switch s.kind {
	case kRejectNonFQDNHelo, kRejectInvalidHelo, kRejectUnknownHelo:
		if e.hasHelo {
			return e.heloCheck(s.kind)
		}
	case kRejectNonFQDNSender:
		if e.hasFrom && f.Sender != "" {
			return e.rejectNonFQDNAddr(f.Sender, classSender)
		}
	case kRejectNonFQDNRcpt:
		if e.hasRcpt {
			return e.rejectNonFQDNAddr(f.Recipient, classRecipient)
		}
	case kRejectUnknownSenderDomain:
		if e.hasFrom && f.Sender != "" {
			return e.rejectUnknownAddr(f.Sender, classSender)
		}
	case kRejectUnknownRcptDomain:
		if e.hasRcpt {
			return e.rejectUnknownAddr(f.Recipient, classRecipient)
		}
	case kRejectUnverifiedSender:
		if e.hasFrom && f.Sender != "" {
			return e.rejectUnverified(f.Sender, classSender)
		}
	case kRejectUnverifiedRcpt:
		if e.hasRcpt {
			return e.rejectUnverified(f.Recipient, classRecipient)
		}
	case kCheckPolicy:
		return e.checkPolicy(s.policy, lc)
	case kRejectRBLClient, kRejectRHSBLClient, kRejectRHSBLReverseClient, kRejectRHSBLHelo,
		kRejectRHSBLSender, kRejectRHSBLRecipient, kPermitDNSWLClient, kPermitRHSWLClient:
		return e.stepDNSList(s)
	case kRejectSenderLoginMismatch, kRejectAuthSenderLoginMismatch, kRejectKnownSenderLoginMismatch, kRejectUnauthSenderLoginMismatch:
		if e.hasFrom && f.Sender != "" {
			return e.senderLoginMismatch(s.kind)
		}
	case kRejectUnlistedSender:
		if e.hasFrom && f.Sender != "" && !e.fromChecked {
			if e.warnLevel == 0 {
				e.fromChecked = true
			}
			return e.checkAddrMaps(f.Sender, classSender)
		}
	case kRejectUnlistedRcpt:
		if e.hasRcpt && !e.rcptChecked {
			if e.warnLevel == 0 {
				e.rcptChecked = true
			}
			return e.checkAddrMaps(f.Recipient, classRecipient)
		}
	case kCheckClient, kCheckReverseClient, kCheckHelo, kCheckSender, kCheckRcpt, kCheckSASL, kCheckCCert:
		return e.checkTable(s.kind, s.table)
	case kCheckServers:
		return e.checkServers(s.word, s.table)
	case kPermitMXBackup:
		if e.hasRcpt {
			st := e.permitMXBackup()
			if st == permitted {
				return e.permit(s.word, classRecipient, e.f.Recipient)
			}
			return st
		}
	case kImplicitMap:
		if lc.def < 0 {
			return e.serverError("bare table %s in %s restrictions: specify check_*_access before it", s.table, lc.class)
		}
		return e.checkTable(lc.def, s.table)
	case kClass:
		l := e.c.classes[s.class]
		if l == nil {
			return e.serverError("restriction class %q has no definition", s.class)
		}
		return e.runList(l, lc)
	}
	return dunno
}

// checkTable runs one check_*_access restriction.
func (e *eval) checkTable(k kind, table string) status {
	f := &e.f
	switch k {
	case kCheckClient:
		return e.checkNameAddrAccess(table, f.ClientName, listCtx{name: e.namaddr, class: classClient, def: kCheckClient})
	case kCheckReverseClient:
		name := e.reverseName()
		st := e.checkNameAddrAccess(table, name, listCtx{name: name, class: classRevClient, def: kCheckReverseClient})
		if st == permitted {
			return e.serverError("restriction %s returns OK for %s; this is not allowed for security reasons, use DUNNO", e.cur, name)
		}
		return st
	case kCheckHelo:
		if e.hasHelo {
			st, _ := e.checkDomainAccess(table, f.Helo, listCtx{name: f.Helo, class: classHelo, def: kCheckHelo})
			return st
		}
	case kCheckSender:
		if !e.hasFrom {
			return dunno
		}
		lc := listCtx{name: f.Sender, class: classSender, def: kCheckSender}
		if f.Sender == "" {
			st, _ := e.checkAccess(table, e.c.set.nullKey, lc)
			return st
		}
		return e.checkMailAccess(table, f.Sender, lc)
	case kCheckRcpt:
		if e.hasRcpt {
			return e.checkMailAccess(table, f.Recipient, listCtx{name: f.Recipient, class: classRecipient, def: kCheckRcpt})
		}
	case kCheckEtrn:
		if e.stage == Etrn && f.EtrnDomain != "" {
			st, _ := e.checkDomainAccess(table, f.EtrnDomain, listCtx{name: f.EtrnDomain, class: classEtrn, def: kCheckEtrn})
			return st
		}
	case kCheckSASL:
		if f.SASLUser != "" {
			st, _ := e.checkAccess(table, f.SASLUser, listCtx{name: printable(f.SASLUser), class: classSASLUser, def: kCheckSASL})
			return st
		}
	case kCheckCCert:
		if c := f.ClientCert; c != nil {
			lc := listCtx{name: c.Fingerprint, class: classClientCert, def: kCheckCCert}
			if st, found := e.checkAccess(table, c.Fingerprint, lc); found {
				return st
			}
			st, _ := e.checkAccess(table, c.PublicKeyFingerprint, lc)
			return st
		}
	}
	return dunno
}

// permitClientCert is permit_tls_all_clientcerts (all: any trusted
// certificate) or permit_tls_clientcerts (a certificate or public key
// fingerprint in relay_clientcerts, trusted or not, as in Postfix).
func (e *eval) permitClientCert(all bool) status {
	c := e.f.ClientCert
	if c == nil {
		return dunno
	}
	if all {
		if c.Trusted {
			return permitted
		}
		return dunno
	}
	for _, fp := range []string{c.Fingerprint, c.PublicKeyFingerprint} {
		for _, spec := range e.c.set.relayClientCerts {
			_, found, err := e.lookup(spec, fp)
			if err != nil {
				return e.dictRetry("relay_clientcerts", err)
			}
			if found {
				return permitted
			}
		}
	}
	return dunno
}

// reverseName is the unverified PTR name of the client.
func (e *eval) reverseName() string {
	if e.f.ReverseClientName != "" {
		return e.f.ReverseClientName
	}
	if e.f.ClientName == "" {
		return "unknown"
	}
	return e.f.ClientName
}

func (e *eval) rejectUnknownClient() status {
	if e.f.ClientName != "" && e.f.ClientName != "unknown" {
		return dunno
	}
	code := e.c.set.unknownClientCode
	if e.f.ClientNameTempFail {
		code = 450
	}
	reason := fmt.Sprintf("cannot find your hostname, [%s]", e.f.ClientAddr.Unmap())
	return e.reject(rej{code: code, dsn: "4.7.25", text: "Client host rejected: " + reason, reason: reason})
}

func (e *eval) rejectUnknownReverseClient() status {
	if name := e.reverseName(); name != "unknown" {
		return dunno
	}
	temp := e.f.ReverseNameTempFail || (e.f.ReverseClientName == "" && e.f.ClientNameTempFail)
	code := e.c.set.unknownClientCode
	if temp {
		code = 450
	}
	reason := fmt.Sprintf("cannot find your reverse hostname, [%s]", e.f.ClientAddr.Unmap())
	return e.reject(rej{code: code, dsn: "4.7.1", text: "Client host rejected: " + reason, reason: reason})
}

// heloCheck implements reject_non_fqdn_helo_hostname,
// reject_invalid_helo_hostname and reject_unknown_helo_hostname.
func (e *eval) heloCheck(k kind) status {
	helo := e.f.Helo
	lc := listCtx{name: helo, class: classHelo}
	set := &e.c.set
	if strings.HasPrefix(helo, "[") {
		if !validAddrLiteral(helo) {
			return e.reject(classReject(set.badNameCode, "5.5.2", lc, "invalid ip address"))
		}
		return dunno
	}
	name := trimDot(helo)
	switch k {
	case kRejectInvalidHelo:
		if !ValidHostname(name) && !validHostAddr(name) {
			return e.reject(classReject(set.badNameCode, "5.5.2", lc, "Invalid name"))
		}
	case kRejectNonFQDNHelo:
		if !ValidHostname(name) || !strings.Contains(name, ".") {
			return e.reject(classReject(set.nonFQDNCode, "5.5.2", lc, "need fully-qualified hostname"))
		}
	case kRejectUnknownHelo:
		ok, temp, err := e.c.deps.DomainResolves(e.ctx, helo)
		if err != nil || temp {
			return e.deferIfPermit(set.unknownHeloTempfail, classReject(450, "4.7.1", lc, "Host not found"))
		}
		if !ok {
			return e.reject(classReject(set.unknownHostnameCode, "4.7.1", lc, "Host not found"))
		}
	}
	return dunno
}

// rejectNonFQDNAddr implements reject_non_fqdn_sender/recipient.
func (e *eval) rejectNonFQDNAddr(addr, class string) status {
	_, domain, _ := splitAddress(addr)
	if strings.HasPrefix(domain, "[") && strings.HasSuffix(domain, "]") {
		return dunno
	}
	d := trimDot(domain)
	if d == "" || !ValidHostname(d) || !strings.Contains(d, ".") {
		return e.reject(classReject(e.c.set.nonFQDNCode, "4.5.2", listCtx{name: addr, class: class}, "need fully-qualified address"))
	}
	return dunno
}

// rejectUnknownAddr implements reject_unknown_sender/recipient_domain.
func (e *eval) rejectUnknownAddr(addr, class string) status {
	r, err := e.resolve(addr)
	if err != nil {
		return e.dictRetry(addr, err)
	}
	if r.class.final() || r.domain == "" || strings.HasPrefix(r.domain, "[") {
		return dunno
	}
	dsn := "4.1.2"
	if class == classSender {
		dsn = "4.1.8"
	}
	lc := listCtx{name: addr, class: class}
	ok, temp, err := e.c.deps.DomainResolves(e.ctx, r.domain)
	if err != nil || temp {
		return e.deferIfPermit(e.c.set.unknownAddrTempfail, classReject(450, dsn, lc, "Domain not found"))
	}
	if !ok {
		return e.reject(classReject(e.c.set.unknownAddrCode, dsn, lc, "Domain not found"))
	}
	return dunno
}

// rejectUnverified implements reject_unverified_sender/recipient:
// an undeliverable address is rejected with unverified_*_reject_code, one
// whose probe failed temporarily with unverified_*_defer_code, and while
// no answer is known (or the service does not answer)
// unverified_*_tempfail_action applies, as in Postfix.
func (e *eval) rejectUnverified(addr, class string) status {
	u, dsn := e.c.set.unverified[1], "4.1.1"
	if class == classSender {
		u, dsn = e.c.set.unverified[0], "4.1.7"
	}
	lc := listCtx{name: addr, class: class}
	st, text, err := e.c.deps.Verify(e.ctx, addr)
	if err != nil {
		return e.deferIfPermit(u.tempfail, classReject(450, dsn, lc, "unverified address: address verification failed"))
	}
	if u.reason != "" {
		text = u.reason
	}
	switch st {
	case VerifyDeliverable:
		return dunno
	case VerifyUndeliverable:
		return e.reject(classReject(u.rejectCode, dsn, lc, "undeliverable address: "+text))
	case VerifyDeferred:
		return e.reject(classReject(u.deferCode, dsn, lc, "unverified address: "+text))
	}
	return e.deferIfPermit(u.tempfail, classReject(450, dsn, lc, "unverified address: "+text))
}

// permitAuthDest is Postfix's permit_auth_destination: OK when the
// recipient resolves to a final destination (mydestination, virtual
// domains) or to relay_domains, unless it is source-routed.
func (e *eval) permitAuthDest(rcpt string) status {
	r, err := e.resolve(rcpt)
	if err != nil {
		return e.dictRetry(rcpt, err)
	}
	if r.routed && !e.c.set.allowUntrustedRouting {
		return dunno
	}
	if r.class.final() || r.class == classRelay {
		return permitted
	}
	return dunno
}

func (e *eval) rejectUnauthDest(deferOnly bool) status {
	rcpt := e.f.Recipient
	switch e.permitAuthDest(rcpt) {
	case permitted:
		return dunno
	case rejected:
		return rejected
	}
	code, dsn := e.c.set.relayCode, "5.7.1"
	if deferOnly {
		code, dsn = code-100, "4.7.1"
	}
	return e.reject(rej{code: code, dsn: dsn, text: fmt.Sprintf("<%s>: Relay access denied", rcpt), reason: "Relay access denied"})
}

// relocatedCode is the reply code for a relocated recipient: Postfix
// replies 550 whatever the unknown-user codes say.
const relocatedCode = 550

// checkAddrMaps is Postfix's check_rcpt_maps: reject an address of a
// local, virtual or relay domain that its class's tables do not list.
func (e *eval) checkAddrMaps(addr, class string) status {
	r, err := e.resolve(addr)
	if err != nil {
		return e.dictRetry(addr, err)
	}
	set := &e.c.set
	var code int
	var table string
	switch r.class {
	case classLocal:
		lp := strings.ToLower(r.local)
		if lp == "postmaster" || lp == "mailer-daemon" || lp == set.doubleBounce {
			return dunno
		}
		code, table = set.localRcptCode, " in local recipient table"
	case classAlias:
		code, table = set.virtAliasCode, " in virtual alias table"
	case classVirtual:
		code, table = set.virtMailboxCode, " in virtual mailbox table"
	case classRelay:
		code, table = set.relayRcptCode, " in relay recipient table"
	default:
		return dunno
	}
	if class == classRecipient && e.c.deps.Relocated != nil {
		moved, found, err := e.c.deps.Relocated(e.ctx, r.addr)
		if err != nil {
			return e.dictRetry(addr, err)
		}
		if found {
			return e.reject(classReject(relocatedCode, "5.1.6", listCtx{name: addr, class: class}, "User has moved to "+moved))
		}
	}
	known, err := e.c.deps.KnownRecipient(e.ctx, r.addr)
	if err != nil {
		return e.dictRetry(addr, err)
	}
	if known {
		return dunno
	}
	if !set.showUnknownTable {
		table = ""
	}
	dsn := "5.1.1"
	if class == classSender {
		dsn = "5.1.0"
	}
	return e.reject(classReject(code, dsn, listCtx{name: addr, class: class}, "User unknown"+table))
}

// printable replaces control characters, as Postfix does for names it
// puts in replies.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return '_'
		}
		return r
	}, s)
}

// sleep pauses, then lets the list go on; a session that ends meanwhile
// ends the pause.
func (e *eval) sleep(d time.Duration) status {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-e.ctx.Done():
	}
	return dunno
}
