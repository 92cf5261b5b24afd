package qmgr

import (
	"maps"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/ipc"
)

// verifyQuery asks qmgr about addr as smtpd does.
func (h *testMTA) verifyQuery(addr string) (status, text string) {
	h.t.Helper()
	reply, c := h.call("cleanup", ipc.Record{{Name: "request", Value: "verify"}, {Name: "address", Value: addr}}, nil)
	c.Close()
	return reply.Get("status"), reply.Get("text")
}

// TestVerifyProbes: address verification answers "unknown" until its
// probe returns, then from its cache: the agent got a probe (flagged, no
// content, the double-bounce sender) for the routed address, nothing was
// queued, and a cached answer costs no new probe; the error transport
// needs no agent.
func TestVerifyProbes(t *testing.T) {
	fa := &fakeAgent{answer: func(_ int, r agentReq) []agent.Result {
		if r.rcpts[0].Address == "joe@example.com" {
			return []agent.Result{{Status: agent.OK, DSN: "2.0.0", Text: "delivers to mailbox"}}
		}
		return []agent.Result{agent.Bouncef("5.1.1", "unknown user: %q", r.rcpts[0].Address)}
	}}
	h := newMTA(t, "transport_maps = inline:{ {blocked.example = error:5.7.1 no mail here} }\n", fa)
	poll := func(addr string) (string, string) {
		deadline := time.Now().Add(waitTimeout)
		for {
			st, text := h.verifyQuery(addr)
			if st != "unknown" || time.Now().After(deadline) {
				return st, text
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if st, text := h.verifyQuery("joe@example.com"); st != "unknown" || text != "Address verification in progress" {
		t.Errorf("first query: %s (%s), want unknown", st, text)
	}
	if st, text := poll("joe@example.com"); st != "deliverable" || text != "delivers to mailbox" {
		t.Errorf("joe: %s (%s)", st, text)
	}
	if st, text := poll("nobody@example.com"); st != "undeliverable" || text != `unknown user: "nobody@example.com"` {
		t.Errorf("nobody: %s (%s)", st, text)
	}
	if st, text := poll("x@blocked.example"); st != "undeliverable" || text != "no mail here" {
		t.Errorf("error transport: %s (%s)", st, text)
	}
	reqs := h.agent.requests()
	if len(reqs) != 2 {
		t.Fatalf("%d probes, want 2", len(reqs))
	}
	if r := reqs[0]; !r.env.Probe || r.body != "" || r.env.Sender != "double-bounce@example.com" || r.transport != "local" {
		t.Errorf("probe request %+v", r)
	}
	h.verifyQuery("joe@example.com")
	if n := len(h.agent.requests()); n != 2 {
		t.Errorf("a cached answer sent another probe (%d)", n)
	}
	if !h.queueEmpty() {
		t.Errorf("probes left mail in the queue")
	}
}

// TestVerifySweep: expired answers leave the cache at the clean-up
// interval, so that it does not keep every address ever asked about;
// answers being probed and fresh ones stay.
func TestVerifySweep(t *testing.T) {
	now := time.Now()
	v := &verifier{cache: map[string]*verifyEntry{
		"old@x":     {status: verifyUndeliverable, updated: now.Add(-4 * 24 * time.Hour)},
		"fresh@x":   {status: verifyUndeliverable, updated: now.Add(-time.Hour)},
		"good@x":    {status: verifyDeliverable, updated: now.Add(-10 * 24 * time.Hour)},
		"probing@x": {probing: true},
	}, set: verifySettings{negativeExpire: 3 * 24 * time.Hour, positiveExpire: 31 * 24 * time.Hour, cleanupInterval: 12 * time.Hour}}
	v.sweep(now)
	for k, want := range map[string]bool{"old@x": false, "fresh@x": true, "good@x": true, "probing@x": true} {
		if _, ok := v.cache[k]; ok != want {
			t.Errorf("%s kept %v, want %v", k, ok, want)
		}
	}
	v.cache["old2@x"] = &verifyEntry{status: verifyUndeliverable, updated: now.Add(-4 * 24 * time.Hour)}
	v.sweep(now.Add(time.Hour)) // before the next clean-up
	if _, ok := v.cache["old2@x"]; !ok {
		t.Error("swept again before the interval")
	}
}

// TestVerifyRouting: address_verify_transport_maps (and the other
// address_verify_* routing parameters) were warned about as having no
// effect. They route probes only: here probes for example.com go to the
// error transport, while mail still goes to local.
func TestVerifyRouting(t *testing.T) {
	h := newMTA(t, "address_verify_transport_maps = inline:{ {example.com = error:5.1.1 probed elsewhere} }\n", nil)
	deadline := time.Now().Add(waitTimeout)
	st, text := h.verifyQuery("joe@example.com")
	for st == "unknown" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		st, text = h.verifyQuery("joe@example.com")
	}
	if st != "undeliverable" || text != "probed elsewhere" {
		t.Errorf("probe: %s (%s)", st, text)
	}
	if n := len(h.agent.requests()); n != 0 {
		t.Errorf("the probe reached the local agent (%d requests)", n)
	}
	h.submit(rcpts("joe@example.com"), "Subject: mail\n\nx\n")
	if r := h.waitRequests(1)[0]; r.transport != "local" {
		t.Errorf("mail went to %q, want local", r.transport)
	}
}

// TestProbeSender: address_verify_sender_ttl was accepted and ignored.
// With it the probe sender's local part gets a part that changes once per
// period, as in Postfix; the null sender and a zero ttl are unchanged.
func TestProbeSender(t *testing.T) {
	day := 24 * time.Hour
	t0 := time.Unix(1_800_000_000, 0)
	a := probeSender("double-bounce@example.com", day, t0)
	if !strings.HasPrefix(a, "double-bounce") || !strings.HasSuffix(a, "@example.com") || a == "double-bounce@example.com" {
		t.Errorf("probe sender %q", a)
	}
	if b := probeSender("double-bounce@example.com", day, t0.Add(time.Minute)); b != a && t0.Unix()%86400 < 86340 {
		t.Errorf("changed within a period: %q then %q", a, b)
	}
	if c := probeSender("double-bounce@example.com", day, t0.Add(day)); c == a {
		t.Errorf("unchanged after a period: %q", c)
	}
	if got := probeSender("", day, t0); got != "" {
		t.Errorf("null sender became %q", got)
	}
	if got := probeSender("double-bounce@example.com", 0, t0); got != "double-bounce@example.com" {
		t.Errorf("no ttl: %q", got)
	}
}

// TestVerifyCacheOutlivesRestart: address_verify_map was warned about as
// unused and the cache lived in qmgr's memory, so that after every reload
// (which restarts qmgr) each address was "in progress" again and mail to
// it deferred once. Its results now outlive a restart in the file it
// names; an empty setting keeps them in memory only, as in Postfix.
func TestVerifyCacheOutlivesRestart(t *testing.T) {
	answer := func(_ int, r agentReq) []agent.Result {
		if r.rcpts[0].Address == "joe@example.com" {
			return []agent.Result{{Status: agent.OK, DSN: "2.0.0", Text: "delivers to mailbox"}}
		}
		return []agent.Result{agent.Bouncef("5.1.1", "unknown user")}
	}
	for _, tt := range []struct {
		name, conf string
		kept       bool
		warning    string
	}{
		{"default file", "", true, ""},
		{"proxy file", "address_verify_map = proxy:btree:$data_directory/verify\n", true, ""},
		{"memory", "address_verify_map =\n", false, ""},
		{"not a file", "address_verify_map = memcache:/etc/postfix/memcache.cf\n", false,
			"address_verify_map = memcache:/etc/postfix/memcache.cf: tern keeps the cache in a btree:, hash: or lmdb: file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h := newMTA(t, tt.conf, &fakeAgent{answer: answer})
			for _, addr := range []string{"joe@example.com", "nobody@example.com"} {
				h.verifyQuery(addr)
				waitFor(t, "an answer for "+addr, func() bool { st, _ := h.verifyQuery(addr); return st != verifyUnknown })
			}
			h.stop()
			h.start()
			st, text := h.verifyQuery("joe@example.com")
			st2, _ := h.verifyQuery("nobody@example.com")
			if tt.kept && (st != verifyDeliverable || text != "delivers to mailbox" || st2 != verifyUndeliverable) {
				t.Errorf("after a restart: joe %s (%s), nobody %s; want the answers from before", st, text, st2)
			}
			if !tt.kept && (st != verifyUnknown || st2 != verifyUnknown) {
				t.Errorf("after a restart: joe %s, nobody %s; want unknown (memory only)", st, st2)
			}
			if n := len(h.agent.requests()); tt.kept && n != 2 {
				t.Errorf("%d probes, want the 2 from before the restart", n)
			}
			if tt.warning != "" && !strings.Contains(h.log.String(), tt.warning) {
				t.Errorf("log lacks %q:\n%s", tt.warning, h.log.String())
			}
			if tt.warning == "" && strings.Contains(h.log.String(), "address_verify_map") {
				t.Errorf("unexpected warning:\n%s", h.log.String())
			}
		})
	}
}

// TestVerifyCacheFileDropsExpired: a result past its expiry is neither
// loaded nor kept in the file; nor is one the sweep dropped.
func TestVerifyCacheFileDropsExpired(t *testing.T) {
	path := filepath.Join(t.TempDir(), "verify_cache.db")
	now := time.Now()
	set := verifySettings{negativeExpire: 3 * 24 * time.Hour, positiveExpire: 31 * 24 * time.Hour, cleanupInterval: time.Hour}
	open := func() *verifier {
		v := &verifier{cache: map[string]*verifyEntry{}, set: set}
		if err := v.persist(path, t.Errorf); err != nil {
			t.Fatal(err)
		}
		return v
	}
	v := open()
	v.mu.Lock()
	v.save("good@x", verifyEntry{status: verifyDeliverable, text: "ok", updated: now.Add(-10 * 24 * time.Hour)})
	v.save("old@x", verifyEntry{status: verifyUndeliverable, text: "no", updated: now.Add(-4 * 24 * time.Hour)})
	v.save("fresh@x", verifyEntry{status: verifyDeferred, text: "later", updated: now.Add(-time.Hour)})
	v.save("gone@x", verifyEntry{status: verifyUndeliverable, text: "no", updated: now.Add(-time.Hour)})
	v.save("gone@x", verifyEntry{})
	v.mu.Unlock()
	v.close()

	v = open()
	got := map[string]string{}
	for k, e := range v.cache {
		got[k] = e.status + " " + e.text
	}
	want := map[string]string{"good@x": "deliverable ok", "fresh@x": "deferred later"}
	if !maps.Equal(got, want) {
		t.Errorf("loaded %v, want %v", got, want)
	}
	if e := v.cache["good@x"]; e.updated.Unix() != now.Add(-10*24*time.Hour).Unix() {
		t.Errorf("good@x updated %v", e.updated)
	}
	v.cache["fresh@x"].updated = now.Add(-4 * 24 * time.Hour)
	v.mu.Lock()
	v.sweep(now)
	v.mu.Unlock()
	v.close()

	v = open()
	if len(v.cache) != 1 || v.cache["good@x"] == nil {
		t.Errorf("after the sweep the file holds %v, want good@x only", v.cache)
	}
	v.close()
}

func TestVerifyCachePath(t *testing.T) {
	for spec, want := range map[string]string{
		"":                              "",
		"  ":                            "",
		"btree:/var/lib/tern/verify":    "/var/lib/tern/verify.db",
		"hash:/var/lib/tern/verify":     "/var/lib/tern/verify.db",
		"lmdb:/var/lib/tern/verify":     "/var/lib/tern/verify.db",
		"proxy:btree:/var/lib/t/verify": "/var/lib/t/verify.db",
		"btree:relative":                "error",
		"memcache:/etc/postfix/mc.cf":   "error",
		"/var/lib/tern/verify":          "error",
	} {
		got, err := verifyCachePath(spec)
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("verifyCachePath(%q) = %q (%v), want %q", spec, got, err, want)
		}
	}
}

// FuzzDecodeVerifyEntry: any bytes in the cache file decode without a
// panic, and a record that decodes encodes back to the same bytes.
func FuzzDecodeVerifyEntry(f *testing.F) {
	f.Add(encodeVerifyEntry(verifyEntry{status: verifyDeliverable, text: "delivers to mailbox", updated: time.Unix(1_800_000_000, 0)}))
	f.Add(encodeVerifyEntry(verifyEntry{status: verifyUndeliverable, text: "host x said: 550 5.1.1 no\nsuch user", updated: time.Unix(1, 0)}))
	f.Add([]byte("12345678unknown\nx"))
	f.Add([]byte("short"))
	f.Fuzz(func(t *testing.T, val []byte) {
		e, ok := decodeVerifyEntry(val)
		if !ok {
			return
		}
		if got := encodeVerifyEntry(e); string(got) != string(val) {
			t.Errorf("decoded %q, encoded back as %q", val, got)
		}
	})
}
