package restrict

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestPrependAction(t *testing.T) {
	dir := t.TempDir()
	table := filepath.Join(dir, "access")
	if err := os.WriteFile(table, []byte(
		"s@foreign.net PREPEND X-Sender-Tag: foreign\n"+
			"203.0.113.5 PREPEND X-Client-Tag: listed\n"+
			"bad@foreign.net PREPEND no colon here\n"+
			"spam@foreign.net PREPEND X-Spam: yes\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := "smtpd_client_restrictions = check_client_access texthash:" + table + "\n" +
		"smtpd_sender_restrictions = check_sender_access texthash:" + table + ", check_client_access texthash:" + table + "\n" +
		"smtpd_recipient_restrictions = check_recipient_access inline:{ victim@example.com=REJECT }, permit\n"
	tests := []struct {
		sender, rcpt string
		reply        string
		prepend      []string
	}{
		// In list order, each line once although the client table is
		// consulted twice.
		{"s@foreign.net", "user@example.com", "", []string{"X-Client-Tag: listed", "X-Sender-Tag: foreign"}},
		{"other@foreign.net", "user@example.com", "", []string{"X-Client-Tag: listed"}},
		// A rejected recipient carries no headers.
		{"spam@foreign.net", "victim@example.com", "554 5.7.1 <victim@example.com>: Recipient address rejected: Access denied", nil},
		// PREPEND without "name: value" is a configuration error.
		{"bad@foreign.net", "user@example.com", "451 4.3.5 Server configuration error", nil},
	}
	for _, tt := range tests {
		c := newChecker(t, conf, newWorld())
		f := foreignFacts()
		f.Sender, f.Recipient = tt.sender, tt.rcpt
		r := c.Check(context.Background(), Rcpt, f)
		if got := replyOf(r); got != tt.reply || !slices.Equal(r.Prepend, tt.prepend) {
			t.Errorf("sender %s: reply %q prepend %q; want %q %q", tt.sender, got, r.Prepend, tt.reply, tt.prepend)
		}
	}
}

func TestIsHeaderLine(t *testing.T) {
	for s, want := range map[string]bool{
		"X-Tag: yes": true, "X-Tag:": true, "X-Tag:yes": true,
		": value": false, "X Tag: yes": false, "no colon": false, "X-Tag: a\nb": false, "Ä: x": false,
	} {
		if got := isHeaderLine(s); got != want {
			t.Errorf("isHeaderLine(%q) = %v, want %v", s, got, want)
		}
	}
}
