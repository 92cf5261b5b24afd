package smtp

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tern-mta/tern/internal/testutil"
	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/maillog"
	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/peerlist"
	"github.com/tern-mta/tern/smtp/client"
	"github.com/tern-mta/tern/smtp/mx"
	"github.com/tern-mta/tern/smtp/mx/mxtest"
)

// fakeMX is a scripted SMTP server: greeting, then lock-step replies;
// rcpt maps a recipient to its RCPT reply (default 250).
type fakeMX struct {
	greeting string
	dsn      bool // announce DSN
	utf8     bool // announce SMTPUTF8
	rcpt     map[string]string
	mu       sync.Mutex
	conns    int
	messages int
	rsets    int
	mails    []string // MAIL commands received
}

func (f *fakeMX) serve(t *testing.T, l net.Listener) {
	t.Helper()
	testutil.Serve(t, l, f.session)
}

func (f *fakeMX) session(c net.Conn) {
	defer c.Close()
	f.mu.Lock()
	f.conns++
	f.mu.Unlock()
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	br := bufio.NewReader(c)
	fmt.Fprintf(c, "%s\r\n", f.greeting)
	if !strings.HasPrefix(f.greeting, "220") {
		return
	}
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"):
			fmt.Fprint(c, "250-fake\r\n")
			if f.dsn {
				fmt.Fprint(c, "250-DSN\r\n")
			}
			if f.utf8 {
				fmt.Fprint(c, "250-SMTPUTF8\r\n")
			}
			fmt.Fprint(c, "250 ENHANCEDSTATUSCODES\r\n")
		case strings.HasPrefix(cmd, "MAIL"):
			f.mu.Lock()
			f.mails = append(f.mails, strings.TrimSpace(line))
			f.mu.Unlock()
			fmt.Fprint(c, "250 2.0.0 Ok\r\n")
		case strings.HasPrefix(cmd, "RSET"):
			f.mu.Lock()
			f.rsets++
			f.mu.Unlock()
			fmt.Fprint(c, "250 2.0.0 Ok\r\n")
		case strings.HasPrefix(cmd, "RCPT"):
			addr := strings.ToLower(strings.Trim(strings.TrimPrefix(cmd, "RCPT TO:"), "<> "))
			r, ok := f.rcpt[addr]
			if !ok {
				r = "250 2.1.5 Ok"
			}
			fmt.Fprintf(c, "%s\r\n", r)
		case cmd == "DATA":
			fmt.Fprint(c, "354 go ahead\r\n")
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
			}
			f.mu.Lock()
			f.messages++
			f.mu.Unlock()
			fmt.Fprint(c, "250 2.0.0 Ok: queued as FAKE1\r\n")
		case cmd == "QUIT":
			fmt.Fprint(c, "221 2.0.0 Bye\r\n")
			return
		default:
			fmt.Fprint(c, "502 5.5.2 what\r\n")
		}
	}
}

// listenPair listens on 127.0.0.1:0 and the same port on 127.0.0.2.
func listenPair(t *testing.T) (net.Listener, net.Listener, int) {
	t.Helper()
	for i := 0; i < 10; i++ {
		a, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := a.Addr().(*net.TCPAddr).Port
		b, err := net.Listen("tcp", fmt.Sprintf("127.0.0.2:%d", port))
		if err == nil {
			return a, b, port
		}
		a.Close()
	}
	t.Fatal("no port free on both 127.0.0.1 and 127.0.0.2")
	return nil, nil, 0
}

func testAgent(t *testing.T, dnsAddr string, port int) *Agent {
	t.Helper()
	r, err := mx.NewResolver("/nonexistent", []string{dnsAddr}, true, false)
	if err != nil {
		t.Fatal(err)
	}
	a := &Agent{
		set: settings{helo: "client.example", port: port, connectTimeout: 5 * time.Second,
			tlsLevel: "may", cacheTime: 30 * time.Second, lineLimit: -1, timeouts: client.Timeouts{}, skip5xxGreeting: true},
		// A cache time long enough that reuse does not depend on speed.
		resolver: r, cache: newSessionCache(30 * time.Second), dial: (&net.Dialer{}).DialContext,
	}
	t.Cleanup(a.Close)
	return a
}

func request(nexthop string, rcpts ...string) *agent.Request {
	req := &agent.Request{Env: &envelope.Envelope{ID: "Q1", Sender: "s@example.org"}, Nexthop: nexthop,
		Body: agentBody("Subject: x\n\nhello\n")}
	for _, r := range rcpts {
		req.Recipients = append(req.Recipients, envelope.Recipient{Address: r, Original: r})
	}
	return req
}

type memBody struct{ *bytes.Reader }

func agentBody(s string) agent.Body { return memBody{bytes.NewReader([]byte(s))} }

func TestDeliverPerRecipientResultsAndGreetingFallback(t *testing.T) {
	a1, a2, port := listenPair(t)
	busy := &fakeMX{greeting: "421 4.3.2 busy, try later"}
	good := &fakeMX{greeting: "220 fake ESMTP", rcpt: map[string]string{
		"gone@dest.tst": "550 5.1.1 <gone@dest.tst>: User unknown",
		"full@dest.tst": "452 4.2.2 <full@dest.tst>: Mailbox full",
	}}
	busy.serve(t, a2) // 127.0.0.2: the preferred MX, greets with 421
	good.serve(t, a1)
	dns := mxtest.NewServer(t, "dest.tst. MX 10 mx1.dest.tst.\ndest.tst. MX 20 mx2.dest.tst.\nmx1.dest.tst. A 127.0.0.2\nmx2.dest.tst. A 127.0.0.1\n")
	a := testAgent(t, dns.Addr(), port)
	res := a.Deliver(context.Background(), request("dest.tst", "ok@dest.tst", "gone@dest.tst", "full@dest.tst"))
	want := []struct {
		status agent.Status
		dsn    string
		text   string
	}{
		{agent.OK, "2.0.0", "250 2.0.0 Ok: queued as FAKE1"},
		{agent.Bounce, "5.1.1", "host mx2.dest.tst[127.0.0.1] said: 550 5.1.1"},
		{agent.Defer, "4.2.2", "Mailbox full"},
	}
	for i, w := range want {
		if res[i].Status != w.status || res[i].DSN != w.dsn || !strings.Contains(res[i].Text, w.text) {
			t.Errorf("recipient %d: %+v, want %v %s ...%s...", i, res[i], w.status, w.dsn, w.text)
		}
	}
	if !strings.HasPrefix(res[0].Relay, "mx2.dest.tst[127.0.0.1]:") {
		t.Errorf("relay %q", res[0].Relay)
	}
	// A second message to the same next hop reuses the connection.
	res = a.Deliver(context.Background(), request("dest.tst", "again@dest.tst"))
	if res[0].Status != agent.OK {
		t.Fatalf("second delivery: %+v", res[0])
	}
	good.mu.Lock()
	defer good.mu.Unlock()
	if good.conns != 1 || good.messages != 2 {
		t.Errorf("%d connections for %d messages, want 1 for 2", good.conns, good.messages)
	}
}

// TestDeliverDSNPassedOnlyWhenAnnounced pins the bug where a next hop
// that announced DSN still got a "relayed" notice from tern: the success
// says whether the DSN request went along.
func TestDeliverDSNPassedOnlyWhenAnnounced(t *testing.T) {
	for _, announce := range []bool{false, true} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		mxs := &fakeMX{greeting: "220 fake ESMTP", dsn: announce, rcpt: map[string]string{"gone@dest.tst": "550 5.1.1 gone"}}
		mxs.serve(t, l)
		port := l.Addr().(*net.TCPAddr).Port
		dns := mxtest.NewServer(t, "dest.tst. MX 10 mx.dest.tst.\nmx.dest.tst. A 127.0.0.1\n")
		a := testAgent(t, dns.Addr(), port)
		res := a.Deliver(context.Background(), request("dest.tst", "ok@dest.tst", "gone@dest.tst"))
		if res[0].Status != agent.OK || res[0].DSNPassed != announce || res[0].Relayed == announce {
			t.Errorf("DSN announced %v: success %+v, want DSNPassed %v and Relayed %v", announce, res[0], announce, !announce)
		}
		if res[1].DSNPassed {
			t.Errorf("DSN announced %v: a refused recipient is marked DSNPassed", announce)
		}
	}
}

// TestDeliverPassesSMTPUTF8Request: the SMTPUTF8 request of the
// envelope was dropped, so a message with a UTF-8 header went without
// SMTPUTF8 to servers that offer it and to servers that do not. As in
// Postfix, it is passed on where offered; where not, a message whose
// header has UTF-8 bounces with 5.6.7 and an ASCII one goes as it is.
func TestDeliverPassesSMTPUTF8Request(t *testing.T) {
	tests := []struct {
		name       string
		offered    bool
		utf8Header bool
		status     agent.Status
		dsn        string
		mail       string
	}{
		{"offered", true, true, agent.OK, "", "MAIL FROM:<s@example.org> SMTPUTF8"},
		{"not offered, UTF-8 header", false, true, agent.Bounce, "5.6.7", ""},
		{"not offered, ASCII header", false, false, agent.OK, "", "MAIL FROM:<s@example.org>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			mxs := &fakeMX{greeting: "220 fake ESMTP", utf8: tt.offered}
			mxs.serve(t, l)
			dns := mxtest.NewServer(t, "dest.tst. MX 10 mx.dest.tst.\nmx.dest.tst. A 127.0.0.1\n")
			a := testAgent(t, dns.Addr(), l.Addr().(*net.TCPAddr).Port)
			req := request("dest.tst", "ok@dest.tst")
			req.Env.SMTPUTF8, req.Env.UTF8Header = true, tt.utf8Header
			res := a.Deliver(context.Background(), req)
			if res[0].Status != tt.status || tt.dsn != "" && res[0].DSN != tt.dsn {
				t.Fatalf("result %+v, want status %v dsn %q", res[0], tt.status, tt.dsn)
			}
			// The client's own reason is not put in the server's mouth
			// ("host ... said: ... (in reply to  command)").
			if tt.status == agent.Bounce && (res[0].Text != "SMTPUTF8 is required, but was not offered by host mx.dest.tst[127.0.0.1]" || res[0].Diagnostic != "") {
				t.Errorf("bounce text %q, diagnostic %q", res[0].Text, res[0].Diagnostic)
			}
			mxs.mu.Lock()
			defer mxs.mu.Unlock()
			var got string
			if len(mxs.mails) > 0 {
				got = mxs.mails[0]
			}
			if got != tt.mail {
				t.Errorf("MAIL command %q, want %q", got, tt.mail)
			}
		})
	}
}

func TestDeliverAllServersFail(t *testing.T) {
	a1, a2, port := listenPair(t)
	(&fakeMX{greeting: "554 5.7.1 go away"}).serve(t, a1)
	a2.Close() // nothing listens on 127.0.0.2: connection refused
	dns := mxtest.NewServer(t, "dest.tst. MX 10 mx1.dest.tst.\ndest.tst. MX 20 mx2.dest.tst.\nmx1.dest.tst. A 127.0.0.2\nmx2.dest.tst. A 127.0.0.1\nnull.tst. MX 0 .\n")
	dns.SetBehavior("down.tst", mxtest.ServFail)
	a := testAgent(t, dns.Addr(), port)
	tests := []struct {
		hop    string
		status agent.Status
		dsn    string
	}{
		// One server refused the connection: not every server answered
		// 5xx, so the mail is deferred, as Postfix does.
		{"dest.tst", agent.Defer, "4.7.1"},
		// A 5xx greeting defers (smtp_skip_5xx_greeting = yes).
		{"[127.0.0.1]", agent.Defer, "4.7.1"},
		{"null.tst", agent.Bounce, "5.1.10"},
		{"down.tst", agent.Defer, "4.4.3"},
		{"nosuch.tst", agent.Bounce, "5.4.4"},
		{"[127.0.0.2]", agent.Defer, "4.4.1"},
	}
	for _, tt := range tests {
		res := a.Deliver(context.Background(), request(tt.hop, "u@dest.tst"))
		if res[0].Status != tt.status || res[0].DSN != tt.dsn {
			t.Errorf("%s: %+v, want %v %s", tt.hop, res[0], tt.status, tt.dsn)
		}
	}
}

// TestFiveXXGreetingDefersByDefault: a 554 greeting from the only server
// bounced the mail, where Postfix's client, with smtp_skip_5xx_greeting
// = yes by default, defers it (the server may be refusing for a while).
// With smtp_skip_5xx_greeting = no the mail bounces at once, other MX
// hosts untried.
func TestFiveXXGreetingDefersByDefault(t *testing.T) {
	a1, a2, port := listenPair(t)
	mx1 := &fakeMX{greeting: "554 5.7.1 go away"}
	mx1.serve(t, a1)
	(&fakeMX{greeting: "220 fake ESMTP", rcpt: map[string]string{"u@dest.tst": "250 2.1.5 ok"}}).serve(t, a2)
	dns := mxtest.NewServer(t, "dest.tst. MX 10 mx1.dest.tst.\ndest.tst. MX 20 mx2.dest.tst.\nmx1.dest.tst. A 127.0.0.1\nmx2.dest.tst. A 127.0.0.2\n")
	tests := []struct {
		skip   bool
		hop    string
		status agent.Status
		dsn    string
	}{
		{true, "[127.0.0.1]", agent.Defer, "4.7.1"},
		{true, "dest.tst", agent.OK, "2.0.0"}, // the next MX takes it
		{false, "[127.0.0.1]", agent.Bounce, "5.7.1"},
		{false, "dest.tst", agent.Bounce, "5.7.1"}, // mx2 not tried
	}
	for _, tt := range tests {
		a := testAgent(t, dns.Addr(), port) // no session cached from a case before
		a.set.skip5xxGreeting = tt.skip
		res := a.Deliver(context.Background(), request(tt.hop, "u@dest.tst"))
		if res[0].Status != tt.status || res[0].DSN != tt.dsn {
			t.Errorf("skip %v, %s: %+v, want %v %s", tt.skip, tt.hop, res[0], tt.status, tt.dsn)
		}
	}
}

// TestDeliverSessionLimit: after smtp_mx_session_limit servers that
// answered but would not take the mail, the agent stops trying; servers
// that refused the connection do not count.
func TestDeliverSessionLimit(t *testing.T) {
	var ls []net.Listener
	var port int
	for attempt := 0; attempt < 10 && len(ls) < 3; attempt++ {
		ls = nil
		first, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port = first.Addr().(*net.TCPAddr).Port
		ls = append(ls, first)
		for _, ip := range []string{"127.0.0.2", "127.0.0.3"} {
			l, err := net.Listen("tcp", fmt.Sprintf("%s:%d", ip, port))
			if err != nil {
				break
			}
			ls = append(ls, l)
		}
		if len(ls) < 3 {
			for _, l := range ls {
				l.Close()
			}
		}
	}
	if len(ls) < 3 {
		t.Fatal("no port free on three loopback addresses")
	}
	busy := make([]*fakeMX, 3)
	for i, l := range ls {
		busy[i] = &fakeMX{greeting: "421 4.3.2 busy"}
		busy[i].serve(t, l)
	}
	dns := mxtest.NewServer(t, "dest.tst. MX 10 a.dest.tst.\ndest.tst. MX 20 b.dest.tst.\ndest.tst. MX 30 c.dest.tst.\n"+
		"a.dest.tst. A 127.0.0.1\nb.dest.tst. A 127.0.0.2\nc.dest.tst. A 127.0.0.3\n")
	a := testAgent(t, dns.Addr(), port)
	a.set.sessionLimit = 2
	res := a.Deliver(context.Background(), request("dest.tst", "u@dest.tst"))
	if res[0].Status != agent.Defer {
		t.Fatalf("result %+v, want a deferral", res[0])
	}
	tried := 0
	for _, f := range busy {
		f.mu.Lock()
		tried += f.conns
		f.mu.Unlock()
	}
	if tried != 2 {
		t.Errorf("%d servers tried, want smtp_mx_session_limit = 2", tried)
	}
}

// TestCachedSessionSendsNoRsetBetweenMessages pins a bug: every message
// delivered over a cached connection was followed by RSET, which costs a
// round trip and which Postfix's smtpd counts as a junk command, so that
// a connection to it carrying over 100 messages met error sleeps and a
// disconnect. Only an aborted transaction is reset.
func TestCachedSessionSendsNoRsetBetweenMessages(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mxs := &fakeMX{greeting: "220 fake ESMTP", rcpt: map[string]string{"gone@dest.tst": "550 5.1.1 gone"}}
	mxs.serve(t, l)
	dns := mxtest.NewServer(t, "dest.tst. MX 10 mx.dest.tst.\nmx.dest.tst. A 127.0.0.1\n")
	a := testAgent(t, dns.Addr(), l.Addr().(*net.TCPAddr).Port)
	steps := []struct {
		rcpt      string
		want      agent.Status
		wantRsets int // after this step
	}{
		{"a@dest.tst", agent.OK, 0},
		{"b@dest.tst", agent.OK, 0},
		{"c@dest.tst", agent.OK, 0},
		{"gone@dest.tst", agent.Bounce, 1}, // no valid recipient: the transaction is reset
		{"d@dest.tst", agent.OK, 1},
	}
	for i, st := range steps {
		res := a.Deliver(context.Background(), request("dest.tst", st.rcpt))
		mxs.mu.Lock()
		rsets, conns := mxs.rsets, mxs.conns
		mxs.mu.Unlock()
		if res[0].Status != st.want || rsets != st.wantRsets || conns != 1 {
			t.Errorf("message %d to %s: %v, %d RSET, %d connections; want %v, %d RSET, 1 connection",
				i+1, st.rcpt, res[0].Status, rsets, conns, st.want, st.wantRsets)
		}
	}
}

// TestDebugPeerListTrace: debug_peer_list was a known name that nothing
// read. The conversation with a listed server is now logged command by
// command and reply line by reply line, as Postfix's verbose smtp logs
// it, without the message content.
func TestDebugPeerListTrace(t *testing.T) {
	a1, _, port := listenPair(t)
	(&fakeMX{greeting: "220 fake ESMTP", rcpt: map[string]string{"u@dest.tst": "250 2.1.5 ok"}}).serve(t, a1)
	dns := mxtest.NewServer(t, "")
	a := testAgent(t, dns.Addr(), port)
	var log testutil.SyncBuffer
	a.log = maillog.NewWriter(&log, "tern/smtp")
	var err error
	if a.set.debugPeers, err = peerlist.New("debug_peer_list", []string{"127.0.0.0/8"}, false, maps.Options{}); err != nil {
		t.Fatal(err)
	}
	res := a.Deliver(context.Background(), request("[127.0.0.1]", "u@dest.tst"))
	if res[0].Status != agent.OK {
		t.Fatalf("delivery: %+v", res[0])
	}
	got := log.String()
	peer := fmt.Sprintf("127.0.0.1[127.0.0.1]:%d", port)
	for _, want := range []string{"< " + peer + ": 220 fake ESMTP", "> " + peer + ": EHLO client.example",
		"> " + peer + ": MAIL FROM:<s@example.org>", "> " + peer + ": RCPT TO:<u@dest.tst>", "> " + peer + ": ."} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in the log:\n%s", want, got)
		}
	}
	if strings.Contains(got, "hello") {
		t.Errorf("the message content was logged:\n%s", got)
	}
}

// TestConnectionReuseLimits: smtp_connection_reuse_count_limit and
// smtp_connection_reuse_time_limit were unknown names; a connection was
// reused as long as mail kept coming. Past either limit it is closed and
// the next message opens a new one.
func TestConnectionReuseLimits(t *testing.T) {
	for _, tt := range []struct {
		name      string
		count     int
		age       time.Duration
		wantConns int // for 5 messages
	}{
		{"no limit", 0, 0, 1},
		{"two messages each", 2, 0, 3},
		{"time limit", 0, time.Nanosecond, 5},
	} {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		mxs := &fakeMX{greeting: "220 fake ESMTP"}
		mxs.serve(t, l)
		dns := mxtest.NewServer(t, "dest.tst. MX 10 mx.dest.tst.\nmx.dest.tst. A 127.0.0.1\n")
		a := testAgent(t, dns.Addr(), l.Addr().(*net.TCPAddr).Port)
		a.cache.reuseCount, a.cache.reuseTime = tt.count, tt.age
		for i := range 5 {
			if res := a.Deliver(context.Background(), request("dest.tst", fmt.Sprintf("u%d@dest.tst", i))); res[0].Status != agent.OK {
				t.Fatalf("%s: message %d: %+v", tt.name, i, res[0])
			}
		}
		mxs.mu.Lock()
		conns := mxs.conns
		mxs.mu.Unlock()
		if conns != tt.wantConns {
			t.Errorf("%s: %d connections for 5 messages, want %d", tt.name, conns, tt.wantConns)
		}
	}
}

// TestMailLoopsBackToMyself: an MX host that is this machine (an address
// of inet_interfaces or proxy_interfaces) was delivered to like any
// other, so a domain whose MX points here, but which this host does not
// take, sent the mail round in a loop until the hop count bounced it. As
// in Postfix, that host and those less preferred are dropped, and when
// none more preferred is left the mail bounces at once (5.4.6).
func TestMailLoopsBackToMyself(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	other := &fakeMX{greeting: "220 fake ESMTP"}
	other.serve(t, l)
	dns := mxtest.NewServer(t, "self.tst. MX 10 me.tst.\n"+
		"backup.tst. MX 10 other.tst.\nbackup.tst. MX 20 me.tst.\n"+
		"primary.tst. MX 10 me.tst.\nprimary.tst. MX 20 other.tst.\n"+
		"me.tst. A 192.0.2.25\nother.tst. A 127.0.0.1\n")
	a := testAgent(t, dns.Addr(), l.Addr().(*net.TCPAddr).Port)
	a.set.ownAddrs = map[netip.Addr]bool{netip.MustParseAddr("192.0.2.25"): true}
	for _, tt := range []struct {
		domain string
		status agent.Status
		dsn    string
	}{
		{"self.tst", agent.Bounce, "5.4.6"},
		{"backup.tst", agent.OK, "2.0.0"}, // this host is the backup: the primary takes it
		{"primary.tst", agent.Bounce, "5.4.6"},
	} {
		res := a.Deliver(context.Background(), request(tt.domain, "u@"+tt.domain))
		if res[0].Status != tt.status || res[0].DSN != tt.dsn {
			t.Errorf("%s: %+v, want %v %s", tt.domain, res[0], tt.status, tt.dsn)
		}
		if tt.status == agent.Bounce && !strings.Contains(res[0].Text, "mail for "+tt.domain+" loops back to myself") {
			t.Errorf("%s: %q", tt.domain, res[0].Text)
		}
	}
	// A bracketed next hop is not looked up and not checked, as for a
	// content filter on this host's own address.
	a.set.ownAddrs[netip.MustParseAddr("127.0.0.1")] = true
	if res := a.Deliver(context.Background(), request("[127.0.0.1]", "u@x.tst")); res[0].Status != agent.OK {
		t.Errorf("[127.0.0.1]: %+v", res[0])
	}
}

// TestBestMXTransport: best_mx_transport was warned about as not
// supported. When this host is the best MX of a destination, the mail now
// goes to that transport (local, say, on a host that is an MX for names
// it delivers itself) instead of bouncing as a loop.
func TestBestMXTransport(t *testing.T) {
	dns := mxtest.NewServer(t, "self.tst. MX 10 me.tst.\nme.tst. A 192.0.2.25\n")
	a := testAgent(t, dns.Addr(), 25)
	a.set.ownAddrs = map[netip.Addr]bool{netip.MustParseAddr("192.0.2.25"): true}
	a.set.bestMXTransport = "local"
	var calls []string
	a.delegate = func(transport, nexthop string, req *agent.Request) []agent.Result {
		calls = append(calls, transport+":"+nexthop)
		out := make([]agent.Result, len(req.Recipients))
		for i := range out {
			out[i] = agent.Result{Status: agent.OK, DSN: "2.0.0", Text: "delivered to mailbox", Logged: true}
		}
		return out
	}
	res := a.Deliver(context.Background(), request("self.tst", "u@self.tst", "v@self.tst"))
	if len(calls) != 1 || calls[0] != "local:" || len(res) != 2 || res[0].Status != agent.OK || !res[1].Logged {
		t.Errorf("calls %v, results %+v", calls, res)
	}
}

// TestDeferIfNoMXAddressFound: smtp_defer_if_no_mx_address_found was an
// unknown name. Mail for a domain none of whose MX hosts has an address
// bounces (5.4.4) by default; with it, it is deferred (4.4.4) with the
// same reason, as in Postfix.
func TestDeferIfNoMXAddressFound(t *testing.T) {
	dns := mxtest.NewServer(t, "gone.tst. MX 10 mx.gone.tst.\n")
	const reason = "Host or domain name not found. Name service error for name=mx.gone.tst type=A: Host not found"
	for _, deferIt := range []bool{false, true} {
		a := testAgent(t, dns.Addr(), 25)
		a.resolver.DeferNoMXAddress = deferIt
		res := a.Deliver(context.Background(), request("gone.tst", "u@gone.tst"))
		want, dsn := agent.Bounce, "5.4.4"
		if deferIt {
			want, dsn = agent.Defer, "4.4.4"
		}
		if res[0].Status != want || res[0].DSN != dsn || res[0].Text != reason {
			t.Errorf("defer %v: %+v, want %v %s %q", deferIt, res[0], want, dsn, reason)
		}
	}
}
