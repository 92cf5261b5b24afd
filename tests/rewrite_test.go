package tests

import (
	"regexp"
	"strings"
	"testing"
)

// TestCanonicalMasqueradeAndVirtualAliasesWithSendmail runs a message from
// sendmail through cleanup's rewriting: the sender is canonicalised and
// masqueraded in the envelope and in From:, and a virtual alias fans the
// recipient out.
func TestCanonicalMasqueradeAndVirtualAliasesWithSendmail(t *testing.T) {
	u := localUser(t)
	in := newInstance(t, options{main: []string{
		"sender_canonical_maps = inline:{ {oldname@example.tst=" + u + "@host.example.tst} }",
		"masquerade_domains = example.tst",
		"virtual_alias_maps = inline:{ {team@example.tst=" + u + "@example.tst, postmaster@example.tst} }",
	}})
	in.start()
	msg := "From: Old Name <oldname@example.tst>\nTo: team@example.tst\nSubject: rewritten\n\nrewrite body\n"
	if code, out := in.sendmail(msg, "-f", "oldname@example.tst", "team@example.tst"); code != 0 {
		t.Fatalf("sendmail: %d %s", code, out)
	}
	in.waitMbox(u, "rewrite body")
	box := in.mbox(u)
	if !strings.Contains(box, "From: Old Name <"+u+"@example.tst>") {
		t.Errorf("From: was not canonicalised and masqueraded:\n%s", box)
	}
	if !strings.Contains(box, "Return-Path: <"+u+"@example.tst>") {
		t.Errorf("the envelope sender was not rewritten:\n%s", box)
	}
	if !strings.Contains(box, "To: team@example.tst") {
		t.Errorf("a header recipient without a mapping changed:\n%s", box)
	}
	// The mailbox is written before the agent's result is logged.
	sent := regexp.MustCompile(`to=<` + u + `@example\.tst>, orig_to=<team@example\.tst>, .*status=sent`)
	waitFor(t, deliveryTimeout, "the delivery log line with orig_to", func() bool { return sent.MatchString(in.log()) })
	if log := in.log(); !strings.Contains(log, "from=<"+u+"@example.tst>") {
		t.Errorf("qmgr did not log the rewritten sender:\n%s", log)
	}
}

// TestVirtualAliasDomainOverSMTP accepts mail for a virtual alias domain
// over SMTP and delivers it to the local user the alias names; a lookup
// table that fails makes smtpd answer 451 rather than accept or refuse.
func TestVirtualAliasDomainOverSMTP(t *testing.T) {
	u := localUser(t)
	in, _ := smtpdInstance(t,
		"virtual_alias_domains = virt.example",
		"virtual_alias_maps = inline:{ {info@virt.example="+u+"@example.tst} }",
		"relay_domains = broken.example",
		"relay_recipient_maps = fail:broken",
	)
	addr := in.smtpAddr("127.0.0.1:0")
	if out, err := swaks(t, "--server", addr, "--from", "s@remote.example", "--to", "info@virt.example",
		"--body", "virtual alias body"); err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	in.waitMbox(u, "virtual alias body")
	out, err := swaks(t, "--server", addr, "--from", "s@remote.example", "--to", "x@broken.example")
	if err == nil || !strings.Contains(out, "451 4.3.0 <x@broken.example>: Temporary lookup failure") {
		t.Errorf("a failing relay_recipient_maps did not give 451:\n%s", out)
	}
}

// TestRecipientCanonicalOverSMTP maps a recipient arriving over SMTP to a
// local user with recipient_canonical_maps; the address is known at RCPT
// because the table lists it, although no such user exists.
func TestRecipientCanonicalOverSMTP(t *testing.T) {
	u := localUser(t)
	in, _ := smtpdInstance(t, "recipient_canonical_maps = inline:{ {first.last@example.tst="+u+"@example.tst} }")
	addr := in.smtpAddr("127.0.0.1:0")
	if out, err := swaks(t, "--server", addr, "--from", "s@remote.example", "--to", "First.Last@example.tst",
		"--header", "To: First Last <first.last@example.tst>", "--body", "canonical over smtp"); err != nil {
		t.Fatalf("swaks: %v\n%s", err, out)
	}
	in.waitMbox(u, "canonical over smtp")
	// Headers of a remote client are not rewritten (Postfix's
	// local_header_rewrite_clients); 127.0.0.1 is one of this host's
	// interfaces, so here they are.
	if box := in.mbox(u); !strings.Contains(box, "To: First Last <"+u+"@example.tst>") {
		t.Errorf("the To: header of a client on our own interface was not rewritten:\n%s", box)
	}
	sent := regexp.MustCompile(`to=<` + u + `@example\.tst>, orig_to=<First\.Last@example\.tst>, .*status=sent`)
	waitFor(t, deliveryTimeout, "the delivery with orig_to", func() bool { return sent.MatchString(in.log()) })
}

// TestRemoteClientHeadersLeftAlone: as in Postfix, a client outside
// local_header_rewrite_clients (here 127.0.0.2, not in inet_interfaces)
// gets neither header rewriting nor the missing Message-Id and Date, while
// one on this host's interface (127.0.0.1) gets both.
func TestRemoteClientHeadersLeftAlone(t *testing.T) {
	u := localUser(t)
	in, _ := smtpdInstance(t, "canonical_maps = inline:{ {old@example.tst="+u+"@example.tst} }")
	addr := in.smtpAddr("127.0.0.1:0")
	send := func(from, marker string) {
		t.Helper()
		out, err := swaks(t, "--server", addr, "--local-interface", from, "--from", "s@remote.example",
			"--to", u+"@example.tst", "--data", "From: Old <old@example.tst>\r\nSubject: "+marker+"\r\n\r\n"+marker+"\r\n")
		if err != nil {
			t.Fatalf("swaks from %s: %v\n%s", from, err, out)
		}
	}
	send("127.0.0.2", "remote-marker")
	send("127.0.0.1", "local-marker")
	in.waitMbox(u, "remote-marker")
	in.waitMbox(u, "local-marker")
	for _, m := range mboxMessages(in.mbox(u)) {
		remote := strings.Contains(m, "remote-marker")
		if got := strings.Contains(m, "\nMessage-Id: "); got == remote {
			t.Errorf("remote=%v: Message-Id added=%v:\n%s", remote, got, m)
		}
		if got := strings.Contains(m, "From: Old <"+u+"@example.tst>"); got == remote {
			t.Errorf("remote=%v: From rewritten=%v:\n%s", remote, got, m)
		}
	}
}
