package smtpd

import (
	"maps"
	"net"
	"sync"
	"testing"

	"github.com/d--j/go-milter"
	"github.com/tern-mta/tern/pkg/config"
)

// TestMilterMacroDaemonName: {daemon_name} was always "tern", so
// OpenDKIM's "MTA ORIGINATING" could not tell the submission service's
// mail (-o milter_macro_daemon_name=ORIGINATING) from the rest. It is
// milter_macro_daemon_name now ($myhostname by default, as in Postfix),
// and {v} milter_macro_v.
func TestMilterMacroDaemonName(t *testing.T) {
	for _, tt := range []struct{ extra, want string }{
		{"", "mx.example.tst"},
		{"milter_macro_daemon_name = ORIGINATING", "ORIGINATING"},
	} {
		var srv *Server
		startServerWith(t, tt.extra, func(s *Server) { srv = s })
		s := &session{srv: srv, tx: &transaction{sender: "a@example.org"}, macros: milter.NewMacroBag()}
		s.refreshMacros()
		m := s.macros
		if got := m.Get(milter.MacroDaemonName); got != tt.want {
			t.Errorf("%q: {daemon_name} = %q, want %q", tt.extra, got, tt.want)
		}
		if got := m.Get("v"); got != "tern "+config.Version {
			t.Errorf("{v} = %q", got)
		}
	}
}

// macroRecorder is a milter that notes, at each stage, the value of every
// macro it was sent so far.
type macroRecorder struct {
	milter.NoOpMilter
	mu   *sync.Mutex
	seen map[string]map[string]string // stage -> macro -> value
}

// note records names' values as the milter sees them at stage.
func (r *macroRecorder) note(stage string, m milter.Modifier) {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := map[string]string{}
	for _, name := range []string{"j", "{daemon_name}", "{client_addr}", "{client_name}", "{mail_addr}", "{mail_host}",
		"{rcpt_addr}", "{rcpt_host}", "{daemon_port}", "{auth_type}", "_"} {
		if v, ok := m.GetEx(name); ok {
			got[name] = v
		}
	}
	r.seen[stage] = got
}

func (r *macroRecorder) Connect(_, _ string, _ uint16, _ string, m milter.Modifier) (*milter.Response, error) {
	r.note("connect", m)
	return milter.RespContinue, nil
}

func (r *macroRecorder) MailFrom(_, _ string, m milter.Modifier) (*milter.Response, error) {
	r.note("mail", m)
	return milter.RespContinue, nil
}

func (r *macroRecorder) RcptTo(_, _ string, m milter.Modifier) (*milter.Response, error) {
	r.note("rcpt", m)
	return milter.RespContinue, nil
}

func (r *macroRecorder) EndOfMessage(m milter.Modifier) (*milter.Response, error) {
	r.note("eom", m)
	return milter.RespAccept, nil
}

// TestMilterMacroLists: milter_*_macros and milter_macro_defaults were
// unknown names (the lines rspamd's and OpenDKIM's guides add drew
// warnings), and milters got only the library's fixed lists, without the
// client's address or name. Each stage now sends what its list names, a
// bare or comma-separated name included, with the defaults filling in
// macros the session has no value for.
func TestMilterMacroLists(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rec := &macroRecorder{mu: &sync.Mutex{}, seen: map[string]map[string]string{}}
	ms := milter.NewServer(milter.WithDynamicMilter(func(uint32, milter.OptAction, milter.OptProtocol, milter.DataSize) milter.Milter {
		return rec
	}))
	go func() { _ = ms.Serve(l) }()
	t.Cleanup(func() { ms.Close() })
	ts := startServer(t, "smtpd_milters = inet:"+l.Addr().String()+"\n"+
		"milter_connect_macros = {client_addr} j _\n"+
		"milter_mail_macros = {mail_addr} client_name {mail_host}\n"+
		"milter_rcpt_macros = rcpt_addr,{rcpt_host}\n"+
		"milter_end_of_data_macros = {daemon_port} {auth_type}\n"+
		"milter_macro_defaults = { auth_type = none given }, {daemon_name}=unused\n")
	c := ts.dial(t)
	c.cmd("EHLO client.example.org", "250")
	c.cmd("MAIL FROM:<a@example.org>", "250")
	c.cmd("RCPT TO:<joe@mx.example.tst>", "250")
	c.cmd("DATA", "354")
	c.cmd("Subject: x\r\n\r\nbody\r\n.", "250")
	c.cmd("QUIT", "221")
	_, port, _ := net.SplitHostPort(ts.addr)
	want := map[string]map[string]string{
		"connect": {"{client_addr}": "127.0.0.1", "j": "mx.example.tst", "_": "unknown [127.0.0.1]"},
		"mail": {"{client_addr}": "127.0.0.1", "j": "mx.example.tst", "_": "unknown [127.0.0.1]",
			"{mail_addr}": "a@example.org", "{client_name}": "unknown", "{mail_host}": "example.org"},
		"rcpt": {"{client_addr}": "127.0.0.1", "j": "mx.example.tst", "_": "unknown [127.0.0.1]",
			"{mail_addr}": "a@example.org", "{client_name}": "unknown", "{mail_host}": "example.org",
			"{rcpt_addr}": "joe@mx.example.tst", "{rcpt_host}": "mx.example.tst"},
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for stage, w := range want {
		if got := rec.seen[stage]; !maps.Equal(got, w) {
			t.Errorf("%s stage macros:\n got %v\nwant %v", stage, got, w)
		}
	}
	eom := rec.seen["eom"]
	if eom["{daemon_port}"] != port || eom["{auth_type}"] != "none given" {
		t.Errorf("end of message: {daemon_port} %q (want %s), {auth_type} %q (want the default)", eom["{daemon_port}"], port, eom["{auth_type}"])
	}
	if _, ok := eom["{daemon_name}"]; ok {
		t.Error("{daemon_name} was sent though no list names it")
	}
}
