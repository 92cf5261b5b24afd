package tests

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tern-mta/tern/smtp/mx/mxtest"
)

// opensslDigest is the SHA-256 of a certificate's DER form (spki false)
// or of its public key's (spki true), in hex, as openssl computes it: the
// association data of TLSA records "x 0 1" and "x 1 1".
func opensslDigest(t *testing.T, certFile string, spki bool) string {
	t.Helper()
	script := `openssl x509 -in "$1" -outform DER | openssl dgst -sha256 -r`
	if spki {
		script = `openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | openssl dgst -sha256 -r`
	}
	out, err := exec.Command("sh", "-c", script, "sh", certFile).Output()
	if err != nil {
		t.Fatalf("openssl digest of %s: %v", certFile, err)
	}
	f := strings.Fields(string(out))
	if len(f) == 0 || len(f[0]) != 64 {
		t.Fatalf("openssl dgst printed %q", out)
	}
	return f[0]
}

// newTLSReceiver starts a tern that takes mail for domains and presents
// the certificate of the test CA for mail.example.tst (with the CA in its
// chain) on a loopback port, which it returns.
func newTLSReceiver(t *testing.T, domains []string) (*instance, string, testCA) {
	t.Helper()
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t, dir)
	chain := filepath.Join(dir, "chain.pem")
	leafPEM, err := os.ReadFile(ca.certFile)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, err := os.ReadFile(ca.caFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(chain, append(leafPEM, caPEM...), 0o644); err != nil {
		t.Fatal(err)
	}
	receiver := newInstance(t, options{
		master: testMasterCF + "127.0.0.1:0 inet n - n - - smtpd\n",
		main: []string{"myhostname = mx.receiver.tst", "mydestination = $myhostname, " + strings.Join(domains, ", "),
			"smtpd_error_sleep_time = 0", "smtpd_tls_security_level = may",
			"smtpd_tls_cert_file = " + chain, "smtpd_tls_key_file = " + ca.keyFile},
	})
	receiver.start()
	_, port, err := net.SplitHostPort(receiver.smtpAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	return receiver, port, ca
}

// sendAndWait sends a message from sender to rcpt at each of domains
// ("body for DOMAIN") and waits for those of delivered in the
// receiver's mailbox.
func sendAndWait(t *testing.T, sender, receiver *instance, rcpt string, domains []string, delivered ...string) {
	t.Helper()
	for _, d := range domains {
		if code, out := sender.sendmail("Subject: "+d+"\n\nbody for "+d+"\n", "-f", rcpt+"@sender.tst", rcpt+"@"+d); code != 0 {
			t.Fatalf("sendmail to %s: %d %s", d, code, out)
		}
	}
	for _, d := range delivered {
		receiver.waitMbox(rcpt, "body for "+d)
	}
}

// outcomes waits for the log line of each recipient domain's delivery
// attempt and checks its status and reason.
func outcomes(t *testing.T, sender *instance, rcpt string, want map[string][2]string) {
	t.Helper()
	for d, w := range want {
		re := regexp.MustCompile(`to=<` + regexp.QuoteMeta(rcpt+"@"+d) + `>, .*status=(\w+) \(([^\n]*)\)`)
		waitFor(t, 20*time.Second, "the outcome for "+d, func() bool { return re.MatchString(sender.log()) })
		m := re.FindStringSubmatch(sender.log())
		if m[1] != w[0] || !strings.Contains(m[2], w[1]) {
			t.Errorf("%s: status=%s (%s), want %s with %q", d, m[1], m[2], w[0], w[1])
		}
	}
}

// tlsSender starts a sending instance whose smtp agent finds its MX
// hosts in dns and connects to them on port, with main.cf lines extra.
func tlsSender(t *testing.T, dns *mxtest.Server, port string, extra ...string) *instance {
	t.Helper()
	sender := newInstance(t, options{
		master: testMasterCF + "smtp unix - - n - - smtp\n",
		main: append([]string{
			"myhostname = sender.tst", "mydestination = $myhostname",
			"tern_dns_servers = " + dns.Addr(), "inet_interfaces = " + senderInterface,
			"smtp_tcp_port = " + port, "inet_protocols = ipv4",
		}, extra...),
	})
	sender.start()
	return sender
}

// TestDANE: smtp_tls_security_level = dane with smtp_dns_support_level =
// dnssec was refused at start. The in-process DNS server acts as a
// validating resolver (the AD bit on its answers, except for names made
// insecure). The receiving tern presents mail.example.tst's certificate
// with its CA; TLSA data is computed by openssl. Shown: a DANE-EE match
// and a DANE-TA match (with the next-hop name) are delivered as Verified;
// a TLSA record of another key, and a DANE-TA match whose certificate
// names neither the MX host nor the domain, are deferred ("not
// trusted"); an unsigned MX falls back to opportunistic TLS; dane-only
// from smtp_tls_policy_maps defers a host without TLSA records; a SERVFAIL
// for the TLSA records defers; the fingerprint level delivers with a
// matching fingerprint; an MX host that is a validated CNAME uses the
// TLSA records at the end of the chain (it took the alias's before).
func TestDANE(t *testing.T) {
	domains := []string{"ee.tst", "mail.example.tst", "wrongkey.tst", "badname.tst", "unsigned.tst", "notlsa.tst", "bogus.tst", "fp.tst", "cname.tst"}
	receiver, port, ca := newTLSReceiver(t, domains)
	leafSPKI := opensslDigest(t, ca.certFile, true)
	caCert := opensslDigest(t, ca.caFile, false)
	otherKey := strings.Repeat("ab", 32)
	tlsa := func(host, data string) string { return "_" + port + "._tcp." + host + ". TLSA " + data + "\n" }
	dns := mxtest.NewServer(t, `
ee.tst.             MX 10 mail.example.tst.
mail.example.tst.   A  127.0.0.1
mail.example.tst.   MX 10 mx.ta.tst.
mx.ta.tst.          A  127.0.0.1
badname.tst.        MX 10 mx.ta.tst.
wrongkey.tst.       MX 10 mx.wrongkey.tst.
mx.wrongkey.tst.    A  127.0.0.1
unsigned.tst.       MX 10 mx.wrongkey.tst.
notlsa.tst.         MX 10 mx.notlsa.tst.
mx.notlsa.tst.      A  127.0.0.1
bogus.tst.          MX 10 mx.bogus.tst.
mx.bogus.tst.       A  127.0.0.1
fp.tst.             MX 10 mx.notlsa.tst.
cname.tst.          MX 10 alias.cname.tst.
alias.cname.tst.    CNAME mail.example.tst.
`+tlsa("alias.cname.tst", "3 1 1 "+otherKey)+tlsa("mail.example.tst", "3 1 1 "+leafSPKI)+tlsa("mx.ta.tst", "2 0 1 "+caCert)+
		tlsa("mx.wrongkey.tst", "3 1 1 "+otherKey)+tlsa("mx.bogus.tst", "3 1 1 "+leafSPKI))
	dns.SetInsecure("unsigned.tst", true)
	dns.SetBehavior("_"+port+"._tcp.mx.bogus.tst", mxtest.ServFail)
	fingerprint := opensslFingerprint(t, ca.certFile)
	sender := tlsSender(t, dns, port,
		"smtp_connect_timeout = 5s",
		"smtp_dns_support_level = dnssec",
		"smtp_tls_security_level = dane",
		"smtp_tls_loglevel = 1",
		"smtp_tls_policy_maps = inline:{ notlsa.tst=dane-only, {fp.tst = fingerprint match=00:11|"+fingerprint+"} }")
	rcpt := localUser(t)
	sendAndWait(t, sender, receiver, rcpt, domains, "ee.tst", "mail.example.tst", "unsigned.tst", "fp.tst", "cname.tst")
	outcomes(t, sender, rcpt, map[string][2]string{
		// The MX host is a validated CNAME: its TLSA records are looked
		// up at the end of the chain first (RFC 7672 section 2.2.2),
		// where they match; the alias's own record would not.
		"cname.tst":        {"sent", "250 2.0.0"},
		"ee.tst":           {"sent", "250 2.0.0"},
		"mail.example.tst": {"sent", "250 2.0.0"},
		"unsigned.tst":     {"sent", "250 2.0.0"},
		"fp.tst":           {"sent", "250 2.0.0"},
		"wrongkey.tst":     {"deferred", "server certificate not trusted: no TLSA record matches"},
		"badname.tst":      {"deferred", "server certificate not trusted"},
		"notlsa.tst":       {"deferred", "no usable DANE TLSA records"},
		"bogus.tst":        {"deferred", "TLSA lookup error for mx.bogus.tst:" + port},
	})
	log := sender.log()
	for _, line := range []string{
		"Verified TLS connection established to mail.example.tst[127.0.0.1]:" + port,
		"Verified TLS connection established to mx.ta.tst[127.0.0.1]:" + port,
		"Untrusted TLS connection established to mx.wrongkey.tst[127.0.0.1]:" + port, // unsigned.tst: may
		"Verified TLS connection established to mx.notlsa.tst[127.0.0.1]:" + port,    // fp.tst
	} {
		if !strings.Contains(log, line) {
			t.Errorf("the log lacks %q:\n%s", line, log)
		}
	}
	if strings.Contains(receiver.mbox(rcpt), "body for wrongkey.tst") || strings.Contains(receiver.mbox(rcpt), "body for badname.tst") {
		t.Errorf("a message went to a server that failed DANE:\n%s", receiver.mbox(rcpt))
	}
}

// TestVerifyAndSecureLevels: the secure level checked the MX host's name
// as verify does, and smtp_tls_policy_maps match= attributes were
// ignored. Against a real server whose certificate (from a CA in
// smtp_tls_CAfile) names mail.example.tst: verify passes for that MX host
// and fails for another name; secure fails where only the MX host's name
// matches (a forged MX could name any host), passes for a domain above
// the certificate's name (dot-nexthop) and with match= naming the host.
// A policy attribute tern does not use is warned about.
func TestVerifyAndSecureLevels(t *testing.T) {
	domains := []string{"verifyok.tst", "verifybad.tst", "secure.tst", "example.tst", "matched.tst"}
	receiver, port, ca := newTLSReceiver(t, domains)
	dns := mxtest.NewServer(t, `
verifyok.tst.      MX 10 mail.example.tst.
secure.tst.        MX 10 mail.example.tst.
example.tst.       MX 10 mail.example.tst.
matched.tst.       MX 10 mail.example.tst.
mail.example.tst.  A  127.0.0.1
verifybad.tst.     MX 10 mx.other.tst.
mx.other.tst.      A  127.0.0.1
`)
	sender := tlsSender(t, dns, port,
		"smtp_tls_CAfile = "+ca.caFile,
		"smtp_tls_loglevel = 1",
		"smtp_tls_policy_maps = inline:{ {verifyok.tst = verify protocols=>=TLSv1.2}, verifybad.tst=verify, secure.tst=secure, example.tst=secure, "+
			"{matched.tst = secure match=mail.example.tst:nexthop} }")
	rcpt := localUser(t)
	sendAndWait(t, sender, receiver, rcpt, domains, "verifyok.tst", "example.tst", "matched.tst")
	outcomes(t, sender, rcpt, map[string][2]string{
		"verifyok.tst":  {"sent", "250 2.0.0"},
		"example.tst":   {"sent", "250 2.0.0"},
		"matched.tst":   {"sent", "250 2.0.0"},
		"verifybad.tst": {"deferred", "server certificate not verified: its names (mail.example.tst) match none of mx.other.tst"},
		"secure.tst":    {"deferred", "match none of secure.tst, .secure.tst"},
	})
	for _, line := range []string{"Verified TLS connection established to mail.example.tst[127.0.0.1]:" + port,
		"warning: smtp_tls_policy_maps: verifyok.tst:" + port + ": protocols=>=TLSv1.2 not supported by tern: ignored"} {
		if !strings.Contains(sender.log(), line) {
			t.Errorf("the log lacks %q:\n%s", line, sender.log())
		}
	}
}
