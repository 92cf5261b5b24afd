package screen

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/tern-mta/tern/internal/testutil"
	"github.com/tern-mta/tern/pkg/maillog"
	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/netlist"
	bolt "go.etcd.io/bbolt"
)

// conversation is a client connected to a screen on loopback.
type conversation struct {
	client net.Conn
	server Client
	lines  *bufio.Reader
}

// dial connects a client to a fresh loopback listener and returns both
// ends; the test closes them.
func dial(t *testing.T) conversation {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	_ = client.SetDeadline(time.Now().Add(10 * time.Second))
	return conversation{
		client: client,
		server: Client{Conn: server, Addr: netip.MustParseAddrPort(server.RemoteAddr().String()), Server: netip.MustParseAddrPort(server.LocalAddr().String())},
		lines:  bufio.NewReader(client),
	}
}

// readLine reads one reply line the screen sent.
func (c conversation) readLine(t *testing.T) string {
	t.Helper()
	line, err := c.lines.ReadString('\n')
	if err != nil {
		t.Fatalf("read from the screen: %v (after %q)", err, line)
	}
	return line
}

// newTestScreen returns a screen with set, DNS lists answering from
// listed (name -> address), and its log.
func newTestScreen(set *Settings, listed map[string]string) (*Screen, *testutil.SyncBuffer) {
	log := &testutil.SyncBuffer{}
	lookup := func(ctx context.Context, name string) ([]netip.Addr, string, error) {
		if a, ok := listed[name]; ok {
			return []netip.Addr{netip.MustParseAddr(a)}, "", nil
		}
		return nil, "", nil
	}
	return New(set, lookup, maillog.NewWriter(log, "tern/postscreen")), log
}

func mustTable(t *testing.T, spec string) maps.Map {
	t.Helper()
	m, err := maps.Open(spec, maps.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func mustSite(t *testing.T, spec string) dnsSite {
	t.Helper()
	s, err := parseSite(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

const testWait = 300 * time.Millisecond

// TestAccessList: postscreen_access_list decides first. A permitted
// client skips every test; a denied one is dropped, enforced or only
// logged, as postscreen_denylist_action says.
func TestAccessList(t *testing.T) {
	mynets, err := netlist.New("mynetworks", []string{"127.0.0.0/8"}, maps.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		access    string // a table's value for 127.0.0.1; "" for permit_mynetworks
		action    Action
		wantReply string // what the client reads first
		wantLog   string
		closed    bool
		enforce   string
	}{
		{"mynetworks", "", Ignore, "", "ALLOWLISTED [127.0.0.1]:", false, ""},
		{"table permit", "permit", Ignore, "", "ALLOWLISTED [127.0.0.1]:", false, ""},
		{"deny drop", "reject", Drop, "521 5.3.2 Service currently unavailable\r\n", "DENYLISTED [127.0.0.1]:", true, ""},
		{"deny enforce", "reject", Enforce, "220-banner\r\n", "DENYLISTED [127.0.0.1]:", false, "550 5.3.2 Service currently unavailable"},
		{"deny ignore", "REJECT", Ignore, "220-banner\r\n", "PASS NEW [127.0.0.1]:", false, ""},
		{"dunno goes on", "dunno", Ignore, "220-banner\r\n", "PASS NEW [127.0.0.1]:", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set := &Settings{Banner: "banner", GreetTTL: time.Hour, DenyAction: tt.action, Respectful: true, MyNetworks: mynets}
			if tt.access == "" {
				set.Access = []accessItem{{mynetworks: true}}
			} else {
				set.Access = []accessItem{{table: mustTable(t, "inline:{127.0.0.1="+tt.access+"}")}}
			}
			sc, log := newTestScreen(set, nil)
			c := dial(t)
			v := sc.Check(context.Background(), c.server, testWait)
			if v.Closed != tt.closed || v.Enforce.String() != firstNonEmpty(tt.enforce, "000") {
				t.Errorf("verdict %+v; want closed %v, enforce %q", v, tt.closed, tt.enforce)
			}
			if tt.wantReply != "" {
				if got := c.readLine(t); got != tt.wantReply {
					t.Errorf("client read %q, want %q", got, tt.wantReply)
				}
			}
			if !strings.Contains(log.String(), tt.wantLog) {
				t.Errorf("log lacks %q:\n%s", tt.wantLog, log)
			}
		})
	}
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// TestPregreet: a client that talks before its turn is logged with what
// it sent and dropped, enforced or let through, as
// postscreen_greet_action says; what it sent is the session's first
// input. A silent client passes, and is not tested again while the pass
// counts.
func TestPregreet(t *testing.T) {
	for _, tt := range []struct {
		name    string
		action  Action
		closed  bool
		enforce string
		reply   string
	}{
		{"drop", Drop, true, "", "521 5.5.1 Protocol error\r\n"},
		{"enforce", Enforce, false, "550 5.5.1 Protocol error", ""},
		{"ignore", Ignore, false, "", ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			sc, log := newTestScreen(&Settings{Banner: "mx.example ESMTP", GreetAction: tt.action, GreetTTL: time.Hour}, nil)
			c := dial(t)
			if _, err := c.client.Write([]byte("EHLO spam\r\n")); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			v := sc.Check(context.Background(), c.server, 5*time.Second)
			if tt.action == Drop && time.Since(start) > 2*time.Second {
				t.Errorf("drop waited %v for nothing", time.Since(start))
			}
			if v.Closed != tt.closed || (tt.enforce != "" && v.Enforce.String() != tt.enforce) || (tt.enforce == "" && !v.Enforce.IsZero()) {
				t.Errorf("verdict %+v; want closed %v, enforce %q", v, tt.closed, tt.enforce)
			}
			if got := c.readLine(t); got != "220-mx.example ESMTP\r\n" {
				t.Errorf("teaser %q", got)
			}
			if tt.reply != "" {
				if got := c.readLine(t); got != tt.reply {
					t.Errorf("reply %q, want %q", got, tt.reply)
				}
			} else if string(v.Early) != "EHLO spam\r\n" {
				t.Errorf("early input %q, want the EHLO", v.Early)
			}
			if !strings.Contains(log.String(), `PREGREET 11 after 0.`) || !strings.Contains(log.String(), `: EHLO spam\r\n`) {
				t.Errorf("log lacks the PREGREET line:\n%s", log)
			}
			if strings.Contains(log.String(), "PASS NEW") {
				t.Errorf("a pregreeting client passed:\n%s", log)
			}
		})
	}
	t.Run("silent client passes, then is remembered", func(t *testing.T) {
		sc, log := newTestScreen(&Settings{Banner: "mx.example ESMTP", GreetAction: Drop, GreetTTL: time.Hour}, nil)
		c := dial(t)
		if v := sc.Check(context.Background(), c.server, testWait); v.Closed || !v.Enforce.IsZero() || v.Early != nil {
			t.Fatalf("verdict %+v", v)
		}
		if !strings.Contains(log.String(), "PASS NEW [127.0.0.1]:") {
			t.Errorf("log lacks PASS NEW:\n%s", log)
		}
		checkQuickPass(t, sc, "a remembered client")
		if !strings.Contains(log.String(), "PASS OLD [127.0.0.1]:") {
			t.Errorf("log lacks PASS OLD:\n%s", log)
		}
	})
}

// checkQuickPass connects a client that sc must let through well
// before a 5-second greeting wait.
func checkQuickPass(t *testing.T, sc *Screen, who string) {
	t.Helper()
	c := dial(t)
	start := time.Now()
	if v := sc.Check(context.Background(), c.server, 5*time.Second); v.Closed || !v.Enforce.IsZero() {
		t.Fatalf("%s: verdict %+v", who, v)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("%s waited %v", who, time.Since(start))
	}
}

// TestHangupDuringTests: a client that leaves during the greeting wait
// is logged as Postfix's postscreen logs it and gets no session.
func TestHangupDuringTests(t *testing.T) {
	sc, log := newTestScreen(&Settings{Banner: "b", GreetTTL: time.Hour}, nil)
	c := dial(t)
	_ = c.client.Close()
	if v := sc.Check(context.Background(), c.server, 5*time.Second); !v.Closed {
		t.Errorf("verdict %+v, want closed", v)
	}
	for _, want := range []string{"HANGUP after 0.", " from [127.0.0.1]:", " in tests before SMTP handshake", "DISCONNECT [127.0.0.1]:"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
}

// TestDNSBLScore: the weights of the lists that list the client add up;
// at the threshold the client is dropped or enforced with the list of
// the largest weight named (through postscreen_dnsbl_reply_map), and an
// allowlist weight at or below the allowlist threshold skips the
// greeting test.
func TestDNSBLScore(t *testing.T) {
	listed := map[string]string{
		"1.0.0.127.bl.example":    "127.0.0.2",
		"1.0.0.127.small.example": "127.0.0.4",
		"1.0.0.127.wl.example":    "127.0.9.1",
	}
	for _, tt := range []struct {
		name      string
		sites     []string
		threshold int
		action    Action
		closed    bool
		reply     string // the reply of a drop, or the enforced one
		rank      string
	}{
		{"below threshold passes", []string{"bl.example*2", "small.example=127.0.0.3*1"}, 3, Drop, false, "", ""},
		{"weights add up to drop", []string{"bl.example*2", "small.example=127.0.0.[3..4]*1"}, 3, Drop, true,
			"521 5.7.1 Service unavailable; client [127.0.0.1] blocked using public.example\r\n", "DNSBL rank 3 for [127.0.0.1]:"},
		{"enforce", []string{"small.example", "bl.example*2"}, 1, Enforce, false,
			"550 5.7.1 Service unavailable; client [127.0.0.1] blocked using public.example", "DNSBL rank 3 for [127.0.0.1]:"},
		{"allowlist offsets", []string{"bl.example*2", "wl.example=127.0.[0..255].1*-2"}, 1, Drop, false, "", ""},
		{"ignore", []string{"bl.example"}, 1, Ignore, false, "", "DNSBL rank 1 for [127.0.0.1]:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			set := &Settings{Threshold: tt.threshold, DNSBLAction: tt.action, DNSBLTimeout: 5 * time.Second, DNSBLTTL: time.Hour,
				DNSBLReplyNames: mustTable(t, "inline:{bl.example=public.example}")}
			for _, s := range tt.sites {
				set.Sites = append(set.Sites, mustSite(t, s))
			}
			sc, log := newTestScreen(set, listed)
			c := dial(t)
			start := time.Now()
			v := sc.Check(context.Background(), c.server, 5*time.Second)
			if time.Since(start) > 2*time.Second {
				t.Errorf("waited %v with no greeting test", time.Since(start))
			}
			if v.Closed != tt.closed {
				t.Errorf("closed %v, want %v", v.Closed, tt.closed)
			}
			switch {
			case tt.closed:
				if got := c.readLine(t); got != tt.reply {
					t.Errorf("reply %q, want %q", got, tt.reply)
				}
			case tt.reply != "":
				if v.Enforce.String() != tt.reply {
					t.Errorf("enforced %q, want %q", v.Enforce, tt.reply)
				}
			case !v.Enforce.IsZero():
				t.Errorf("enforced %q", v.Enforce)
			}
			if tt.rank != "" && !strings.Contains(log.String(), tt.rank) {
				t.Errorf("log lacks %q:\n%s", tt.rank, log)
			}
			passed := strings.Contains(log.String(), "PASS NEW")
			if passed != (tt.rank == "") {
				t.Errorf("PASS NEW logged %v, want %v:\n%s", passed, tt.rank == "", log)
			}
		})
	}
	t.Run("allowlist threshold skips the greeting test", func(t *testing.T) {
		set := &Settings{Banner: "b", GreetTTL: time.Hour, Threshold: 1, AllowThreshold: -1, DNSBLTimeout: 5 * time.Second, DNSBLTTL: time.Hour,
			Sites: []dnsSite{mustSite(t, "wl.example*-2")}}
		sc, log := newTestScreen(set, listed)
		checkQuickPass(t, sc, "an allowlisted client")
		again := dial(t)
		sc.Check(context.Background(), again.server, 5*time.Second)
		if !strings.Contains(log.String(), "PASS OLD") {
			t.Errorf("the skipped greeting test did not count as passed:\n%s", log)
		}
	})
}

// TestScreenLimits: past postscreen_pre_queue_limit clients under test,
// or postscreen_client_connection_count_limit from one address, a client
// gets Postfix's 421.
func TestScreenLimits(t *testing.T) {
	for _, tt := range []struct {
		name  string
		set   Settings
		reply string
		log   string
	}{
		{"screening ports busy", Settings{PreQueueLimit: 1}, "421 4.3.2 All screening ports are busy\r\n", "reject: connect from [127.0.0.1]:"},
		{"too many connections", Settings{ConnLimit: 1}, "421 4.7.0 Error: too many connections\r\n", "NOQUEUE: reject: CONNECT from [127.0.0.1]:"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			set := tt.set
			set.Banner, set.GreetTTL = "b", time.Hour
			sc, log := newTestScreen(&set, nil)
			first, second := dial(t), dial(t)
			done := make(chan Verdict, 1)
			// The first client's wait must outlast the second's check.
			go func() { done <- sc.Check(context.Background(), first.server, 3*time.Second) }()
			if got := first.readLine(t); got != "220-b\r\n" {
				t.Fatalf("first client read %q", got)
			}
			if v := sc.Check(context.Background(), second.server, time.Second); !v.Closed {
				t.Errorf("second client: %+v, want closed", v)
			}
			if got := second.readLine(t); got != tt.reply {
				t.Errorf("second client read %q, want %q", got, tt.reply)
			}
			if v := <-done; v.Closed {
				t.Errorf("first client closed")
			}
			if !strings.Contains(log.String(), tt.log) {
				t.Errorf("log lacks %q:\n%s", tt.log, log)
			}
		})
	}
}

// TestStopEndsTests: when smtpd stops, a client under test is let go at
// once rather than after the greeting wait.
func TestStopEndsTests(t *testing.T) {
	sc, _ := newTestScreen(&Settings{Banner: "b", GreetTTL: time.Hour}, nil)
	c := dial(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	if v := sc.Check(ctx, c.server, 10*time.Second); !v.Closed {
		t.Errorf("verdict %+v, want closed", v)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("stop took %v", time.Since(start))
	}
}

// FuzzParseSite: postscreen_dnsbl_sites entries never crash the parser,
// and what parses has a zone.
func FuzzParseSite(f *testing.F) {
	for _, s := range []string{"zen.spamhaus.org*3", "b.barracudacentral.org=127.0.0.[2..11]*2", "list.dnswl.org=127.0.[0..255].[1;2;3]*-2", "x*", "=1.2.3.4", "a.b=1.2.3*1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		site, err := parseSite(s)
		if err == nil && site.zone == "" {
			t.Errorf("%q parsed with no zone", s)
		}
	})
}

func TestCachePath(t *testing.T) {
	for in, want := range map[string]string{
		"btree:/var/lib/tern/postscreen_cache":       "/var/lib/tern/postscreen_cache.db",
		"proxy:btree:/var/lib/tern/postscreen_cache": "/var/lib/tern/postscreen_cache.db",
		"lmdb:/x/cache": "/x/cache.db",
		"  ":            "",
	} {
		if got := CachePath(in); got != want {
			t.Errorf("CachePath(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestCachePersists: a reload restarts smtpd, and with it the screen; a
// client that passed is still let through at once by the next one,
// through postscreen_cache_map's file. Entries expired for longer than
// the retention time are dropped from the file.
func TestCachePersists(t *testing.T) {
	path := t.TempDir() + "/postscreen_cache.db"
	set := &Settings{Banner: "b", GreetTTL: time.Hour}
	first, log := newTestScreen(set, nil)
	if err := first.Persist(path, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	c := dial(t)
	if v := first.Check(context.Background(), c.server, testWait); v.Closed {
		t.Fatalf("verdict %+v", v)
	}
	stale := netip.MustParseAddr("192.0.2.7")
	first.cache.put(stale, passes{greet: time.Now().Add(-48 * time.Hour)}, time.Now())
	first.Close()

	second, log2 := newTestScreen(set, nil)
	if err := second.Persist(path, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	checkQuickPass(t, second, "a client that passed before the restart")
	second.Close()
	if !strings.Contains(log.String(), "PASS NEW") || !strings.Contains(log2.String(), "PASS OLD") {
		t.Errorf("want PASS NEW, then PASS OLD after the restart:\n%s\n%s", log, log2)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	k, _ := encodePass(stale, passes{})
	_ = db.View(func(tx *bolt.Tx) error {
		if tx.Bucket(cacheBucket).Get(k) != nil {
			t.Error("an entry expired for longer than the retention time was kept")
		}
		if n := tx.Bucket(cacheBucket).Stats().KeyN; n != 1 {
			t.Errorf("%d entries in the file, want the one client", n)
		}
		return nil
	})
}

// TestNoCacheMap: with postscreen_cache_map empty, as in Postfix, no
// client is remembered: each connection is tested.
func TestNoCacheMap(t *testing.T) {
	sc, log := newTestScreen(&Settings{Banner: "b", GreetTTL: time.Hour, NoCache: true}, nil)
	for i := 0; i < 2; i++ {
		c := dial(t)
		sc.Check(context.Background(), c.server, testWait)
	}
	if n := strings.Count(log.String(), "PASS NEW"); n != 2 {
		t.Errorf("%d PASS NEW lines, want 2:\n%s", n, log)
	}
}

// FuzzDecodePass: records read from the cache file, which another
// program could have written, never crash the decoder.
func FuzzDecodePass(f *testing.F) {
	k, v := encodePass(netip.MustParseAddr("192.0.2.1"), passes{greet: time.Unix(1e9, 0)})
	f.Add(k, v)
	f.Add([]byte{}, []byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, k, v []byte) {
		if a, _, ok := decodePass(k, v); ok && !a.IsValid() {
			t.Errorf("decoded an invalid address from %x", k)
		}
	})
}

// TestDecodePassFormats: a record of a cache file written before the deep
// tests (16 bytes) still loads, without a deep pass; one written now (24
// bytes) keeps all three.
func TestDecodePassFormats(t *testing.T) {
	a := netip.MustParseAddr("192.0.2.7")
	p := passes{greet: time.Unix(1000, 0), dnsbl: time.Unix(2000, 0), deep: time.Unix(3000, 0)}
	k, v := encodePass(a, p)
	if len(v) != 24 {
		t.Fatalf("record of %d bytes", len(v))
	}
	if got, gp, ok := decodePass(k, v); !ok || got != a || !gp.greet.Equal(p.greet) || !gp.dnsbl.Equal(p.dnsbl) || !gp.deep.Equal(p.deep) {
		t.Errorf("decode = %v %+v %v", got, gp, ok)
	}
	if _, gp, ok := decodePass(k, v[:16]); !ok || !gp.greet.Equal(p.greet) || !gp.deep.IsZero() {
		t.Errorf("old record: %+v %v", gp, ok)
	}
	if _, _, ok := decodePass(k, v[:20]); ok {
		t.Error("a 20-byte record was accepted")
	}
}
