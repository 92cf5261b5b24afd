package dsn

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tern-mta/tern/pkg/config"
)

const sampleTemplates = `# Templates in the form of Postfix's bounce(5).

failure_template = <<EOF
Charset: us-ascii
From: MAILER-DAEMON (Mail Delivery System)
Subject: Undeliverable: your message
Postmaster-Subject: Postmaster Copy: Undeliverable

This is the mail system at host $myhostname.

Your message could not be delivered; the ${mail_name} program
explains why below.
EOF

delay_template = <<EOT
Charset: utf-8
Subject: Nachricht verzögert

Die Zustellung wird bis $maximal_queue_lifetime_days Tage versucht;
Warnung nach $delay_warning_time_hours Stunden.
EOT

verify_template = <<EOF
Subject: Your report

Here is the report you asked for.
EOF
`

func sampleLookup(name string) (string, bool) {
	v, ok := map[string]string{"myhostname": "mx.example.com", "mail_name": "Postfix",
		"maximal_queue_lifetime_days": "5", "delay_warning_time_hours": "4"}[name]
	return v, ok
}

func TestParseTemplates(t *testing.T) {
	ts, err := ParseTemplates(strings.NewReader(sampleTemplates), "bounce.cf", sampleLookup)
	if err != nil {
		t.Fatal(err)
	}
	f := ts[Failed]
	if f == nil || f.Subject != "Undeliverable: your message" || f.PostmasterSubject != "Postmaster Copy: Undeliverable" ||
		f.From != "MAILER-DAEMON (Mail Delivery System)" || f.Charset != "us-ascii" ||
		f.Text != "This is the mail system at host mx.example.com.\n\nYour message could not be delivered; the Postfix program\nexplains why below.\n" {
		t.Errorf("failure template %+v", f)
	}
	if d := ts[Delayed]; d == nil || !strings.Contains(d.Text, "bis 5 Tage") || !strings.Contains(d.Text, "nach 4 Stunden") {
		t.Errorf("delay template %+v", d)
	}
	if v := ts[Trace]; v == nil || v.Subject != "Your report" || v.Text != "Here is the report you asked for.\n" {
		t.Errorf("verify template %+v", v)
	}
	if len(ts) != 3 {
		t.Errorf("%d templates, want 3", len(ts))
	}
}

func TestParseTemplatesErrors(t *testing.T) {
	for _, tt := range []struct{ src, want string }{
		{"bounce_template = <<EOF\nEOF\n", "bounce.cf:1: expected failure_template"},
		{"failure_template = EOF\n", "bounce.cf:1: failure_template: expected <<EOF"},
		{"\nfailure_template = <<EOF\nSubject: x\n", "bounce.cf:2: failure_template: no EOF line ends the template"},
		{"failure_template = <<EOF\nSubject: x\nX-Color: red\n\ntext\nEOF\n", "bounce.cf:3: expected Charset:"},
		{"failure_template = <<EOF\nSubject: x\n\nhost $nosuchparam\nEOF\n", "bounce.cf:4: unknown parameter $nosuchparam"},
		{"failure_template = <<EOF\nCharset: us-ascii\n\nverzögert\nEOF\n", "bounce.cf:1: the template has non-ASCII text"},
	} {
		_, err := ParseTemplates(strings.NewReader(tt.src), "bounce.cf", sampleLookup)
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.src, err, tt.want)
		}
	}
}

// TestWriteWithTemplate: bounce_template_file was warned about as having
// no effect; a template gives the notification its From, Subject (the
// Postmaster-Subject for the postmaster's copy) and explanation, followed
// by tern's recipient paragraphs.
func TestWriteWithTemplate(t *testing.T) {
	ts, err := ParseTemplates(strings.NewReader(sampleTemplates), "bounce.cf", sampleLookup)
	if err != nil {
		t.Fatal(err)
	}
	rep := Report{ReportingMTA: "mx.example.com", QueueID: "ABC", Now: time.Unix(1700000000, 0), Sender: "joe@example.org",
		Kind: Failed, Template: ts[Failed],
		Recipients: []RecipientReport{{FinalRecipient: "bob@example.net", Status: "5.1.1", Diagnostic: "unknown user: \"bob\""}}}
	var b bytes.Buffer
	if err := Write(&b, rep, nil); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"From: MAILER-DAEMON@mx.example.com (Mail Delivery System)\n", "Subject: Undeliverable: your message\n",
		"charset=us-ascii\n\nThis is the mail system at host mx.example.com.\n\nYour message could not be delivered; the Postfix program\nexplains why below.\n\n<bob@example.net>: unknown user: \"bob\"\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the notification lacks %q:\n%s", want, out)
		}
	}
	rep.Copy = true
	b.Reset()
	if err := Write(&b, rep, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "Subject: Postmaster Copy: Undeliverable\n") {
		t.Errorf("the postmaster's copy has no Postmaster-Subject:\n%s", b.String())
	}
	rep.Copy, rep.Kind, rep.Template = false, Delayed, ts[Delayed]
	b.Reset()
	if err := Write(&b, rep, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "charset=utf-8") || !strings.Contains(b.String(), "From: MAILER-DAEMON@mx.example.com (Mail Delivery System)\n") ||
		!strings.Contains(b.String(), "Subject: =?utf-8?q?Nachricht_verz=C3=B6gert?=\n") {
		t.Errorf("delay notice with a template without From:\n%s", b.String())
	}
}

// FuzzParseTemplates: any file parses without panic; an error names the
// file and a line of it.
func FuzzParseTemplates(f *testing.F) {
	f.Add(sampleTemplates)
	f.Add("failure_template = <<X\nSubject: a\n\n$myhostname ${mail_name}\nX\n")
	f.Add("delay_template = <<EOF\n")
	f.Fuzz(func(t *testing.T, src string) {
		_, err := ParseTemplates(strings.NewReader(src), "bounce.cf", sampleLookup)
		if err == nil {
			return
		}
		var ce *config.Error
		if !errors.As(err, &ce) {
			return // a read error
		}
		if ce.File != "bounce.cf" || ce.Line < 1 || ce.Line > strings.Count(src, "\n")+1 {
			t.Fatalf("error %v at a line outside the file", err)
		}
	})
}
