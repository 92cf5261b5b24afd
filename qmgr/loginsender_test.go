package qmgr

import (
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/maps"
)

// TestLocalLoginSenderMaps: local_login_sender_maps was an unknown name,
// so every local user could mail as anyone. The tables now say which
// envelope senders each login may use with sendmail, with Postfix's
// patterns.
func TestLocalLoginSenderMaps(t *testing.T) {
	cfg, err := config.Parse("main.cf", strings.NewReader("recipient_delimiter = +\n"+
		`local_login_sender_maps = inline:{ root=*, { joe = joe, joe@example.com }, { list = @lists.example.com, <> }, {uid:4242 = "first last"@example.com} }`+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	ls, err := newLoginSenders(cfg, maps.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		login, sender string
		want          bool
	}{
		{"root", "anyone@anywhere.example", true},
		{"root", "", true},
		{"joe", "joe", true},
		{"joe", "JOE@Example.COM", true},
		{"joe", "joe+bills@example.com", true}, // the extension is ignored
		{"joe", "jane@example.com", false},
		{"joe", "", false},
		{"list", "announce@lists.example.com", true},
		{"list", "announce@example.com", false},
		{"list", "", true},
		{"uid:4242", `"first last"@example.com`, true},
		{"nobody", "nobody", false}, // no entry: nothing allowed
	}
	for _, tt := range tests {
		got, err := ls.allows(tt.login, tt.sender)
		if err != nil || got != tt.want {
			t.Errorf("%s as <%s>: %v, %v; want %v", tt.login, tt.sender, got, err, tt.want)
		}
	}
	if def, _ := newLoginSenders(config.Defaults(), maps.Options{}); def != nil {
		t.Error("the default static:* builds a table: it should allow everything without lookups")
	}
	for _, tt := range []struct {
		user string
		uid  int
		want string
	}{{"joe", 1000, "joe"}, {"4242", 4242, "uid:4242"}, {"", 7, "uid:7"}} {
		if got := loginKey(&envelope.Envelope{SubmitUser: tt.user, SubmitUID: tt.uid}); got != tt.want {
			t.Errorf("loginKey(%q, %d) = %q, want %q", tt.user, tt.uid, got, tt.want)
		}
	}
}
