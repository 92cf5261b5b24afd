package client

import (
	"errors"
	"io"
	"mime/quotedprintable"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/tern-mta/tern/pkg/dsn"
)

func downgradeString(t testing.TB, in string) string {
	t.Helper()
	r, err := Downgrade(iotest.HalfReader(strings.NewReader(in)))
	if err != nil {
		t.Fatalf("Downgrade: %v", err)
	}
	out, err := io.ReadAll(iotest.OneByteReader(r))
	if err != nil {
		t.Fatalf("read downgraded: %v", err)
	}
	return string(out)
}

func TestDowngrade(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{
			name: "not MIME: as is",
			in:   "Subject: x\nContent-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9\n",
			want: "Subject: x\nContent-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9\n",
		},
		{
			name: "single part 8bit",
			in:   "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\ncaf\xc3\xa9 = 1 \nend",
			want: "MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable\n\ncaf=C3=A9 =3D 1=20\nend",
		},
		{
			name: "binary counts as 8-bit, folded header",
			in:   "Mime-Version: 1.0\ncontent-transfer-encoding:\n\tBINARY\nX: y\n\n\xff\n",
			want: "Mime-Version: 1.0\nContent-Transfer-Encoding: quoted-printable\nX: y\n\n=FF\n",
		},
		{
			name: "undeclared 8-bit stays as is",
			in:   "MIME-Version: 1.0\nContent-Type: text/plain\n\ncaf\xc3\xa9\n",
			want: "MIME-Version: 1.0\nContent-Type: text/plain\n\ncaf\xc3\xa9\n",
		},
		{
			name: "base64 stays as is",
			in:   "MIME-Version: 1.0\nContent-Transfer-Encoding: base64\n\nY2Fmw6k=\n",
			want: "MIME-Version: 1.0\nContent-Transfer-Encoding: base64\n\nY2Fmw6k=\n",
		},
		{
			name: "long line gets soft breaks",
			in:   "MIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\n\n" + strings.Repeat("a", 80) + "\xe9\n",
			want: "MIME-Version: 1.0\nContent-Transfer-Encoding: quoted-printable\n\n" + strings.Repeat("a", 75) + "=\n" + "aaaaa=E9\n",
		},
		{
			name: "multipart",
			in: "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\nContent-Transfer-Encoding: 8bit\n\n" +
				"pre\xe9amble\n--b1\nContent-Type: text/plain\nContent-Transfer-Encoding: 8bit\n\n\xe9t\xe9\n" +
				"--b1 \nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAAAA\n" +
				"--b1--\nepi\xe9logue\n",
			want: "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"b1\"\nContent-Transfer-Encoding: 7bit\n\n" +
				"pre\xe9amble\n--b1\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\n=E9t=E9\n" +
				"--b1 \nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAAAA\n" +
				"--b1--\nepi\xe9logue\n",
		},
		{
			name: "nested message/rfc822",
			in: "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=o\n\n--o\n" +
				"Content-Type: message/rfc822\nContent-Transfer-Encoding: 8bit\n\n" +
				"Subject: inner\nContent-Transfer-Encoding: 8bit\n\n\xe9\n--o--\n",
			want: "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=o\n\n--o\n" +
				"Content-Type: message/rfc822\nContent-Transfer-Encoding: 7bit\n\n" +
				"Subject: inner\nContent-Transfer-Encoding: quoted-printable\n\n=E9\n--o--\n",
		},
		{
			name: "outer boundary ends inner multipart",
			in: "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=o\n\n--o\n" +
				"Content-Type: multipart/alternative; boundary=i\n\n--i\nContent-Transfer-Encoding: 8bit\n\n\xe9\n" +
				"--o\nContent-Transfer-Encoding: 8bit\n\n\xe8\n--o--\n",
			want: "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=o\n\n--o\n" +
				"Content-Type: multipart/alternative; boundary=i\n\n--i\nContent-Transfer-Encoding: quoted-printable\n\n=E9\n" +
				"--o\nContent-Transfer-Encoding: quoted-printable\n\n=E8\n--o--\n",
		},
		{
			name: "digest parts default to message/rfc822",
			in: "MIME-Version: 1.0\nContent-Type: multipart/digest; boundary=d\n\n--d\n\n" +
				"Subject: m\nContent-Transfer-Encoding: 8bit\n\n\xe9\n--d--\n",
			want: "MIME-Version: 1.0\nContent-Type: multipart/digest; boundary=d\n\n--d\n\n" +
				"Subject: m\nContent-Transfer-Encoding: quoted-printable\n\n=E9\n--d--\n",
		},
		{
			name: "part header ended by a boundary",
			in: "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: 8bit\n" +
				"--b\nContent-Transfer-Encoding: 8bit\n\n\xe9\n--b--\n",
			want: "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: quoted-printable\n" +
				"--b\nContent-Transfer-Encoding: quoted-printable\n\n=E9\n--b--\n",
		},
		{
			name: "CRLF input and header without body",
			in:   "MIME-Version: 1.0\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xe9\r\n",
			want: "MIME-Version: 1.0\r\nContent-Transfer-Encoding: quoted-printable\n\r\n=E9\n",
		},
		{name: "empty", in: "", want: ""},
		{name: "header only", in: "MIME-Version: 1.0\nContent-Transfer-Encoding: 8bit", want: "MIME-Version: 1.0\nContent-Transfer-Encoding: quoted-printable\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := downgradeString(t, tc.in); got != tc.want {
				t.Errorf("Downgrade:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestDowngradeReadError(t *testing.T) {
	boom := errors.New("boom")
	if _, err := Downgrade(iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("Downgrade of a failing reader: %v, want %v", err, boom)
	}
	in := io.MultiReader(strings.NewReader("MIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\n\nabc\n"), iotest.ErrReader(boom))
	r, err := Downgrade(in)
	if err != nil {
		t.Fatalf("Downgrade: %v", err)
	}
	if _, err := io.ReadAll(r); !errors.Is(err, boom) {
		t.Errorf("reading the body: %v, want %v", err, boom)
	}
}

func TestQPLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain\n", "plain\n"},
		{"tab\tin\t\n", "tab\tin=09\n"},
		{"a=b\n", "a=3Db\n"},
		{"\x00\x7f\n", "=00=7F\n"},
		{"no eol ", "no eol=20"},
		{strings.Repeat("x", 76) + "\n", strings.Repeat("x", 76) + "\n"},
		{strings.Repeat("x", 77) + "\n", strings.Repeat("x", 75) + "=\nxx\n"},
		{strings.Repeat("x", 74) + "\xff\n", strings.Repeat("x", 74) + "=\n=FF\n"},
	}
	for _, tc := range tests {
		if got := qpLine(tc.in); got != tc.want {
			t.Errorf("qpLine(%q) = %q, want %q", tc.in, got, tc.want)
		}
		for _, l := range strings.Split(qpLine(tc.in), "\n") {
			if len(l) > qpLineMax {
				t.Errorf("qpLine(%q) has a line of %d", tc.in, len(l))
			}
		}
	}
}

func FuzzDowngrade(f *testing.F) {
	f.Add("MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: 8bit\n\n\xe9\n--b--\n", "x\xe9= \n")
	f.Add("Subject: plain\n\nbody\n", "")
	f.Add("MIME-Version: 1.0\nContent-Type: message/rfc822\nContent-Transfer-Encoding: 8bit\n\nA: b\n\nc\n", "\r\n\r")
	f.Fuzz(func(t *testing.T, msg, body string) {
		out := downgradeString(t, msg)
		if !strings.Contains(strings.ToLower(msg), "mime-version") && out != msg {
			t.Fatalf("non-MIME message changed: %q → %q", msg, out)
		}
		// A single 8-bit part decodes back to what it was, in 7 bits.
		in := "MIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\n\n" + body
		out = downgradeString(t, in)
		head, enc, ok := strings.Cut(out, "\n\n")
		if !ok || !strings.Contains(head, "quoted-printable") {
			t.Fatalf("not converted: %q", out)
		}
		for _, l := range strings.Split(enc, "\n") {
			if len(l) > qpLineMax {
				t.Fatalf("line of %d: %q", len(l), l)
			}
			for i := 0; i < len(l); i++ {
				if l[i] >= 0x80 {
					t.Fatalf("8-bit byte left in %q", l)
				}
			}
		}
		dec, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(enc)))
		if err != nil {
			t.Fatalf("decode %q: %v", enc, err)
		}
		norm := func(s string) string { return strings.ReplaceAll(s, "\r\n", "\n") }
		if norm(string(dec)) != norm(body) {
			t.Fatalf("round trip of %q gave %q via %q", body, dec, enc)
		}
	})
}

// TestDowngradeGlobalBounce: a bounce of SMTPUTF8 mail for a server
// without 8BITMIME comes out 7-bit: its 8-bit parts, the text and the
// message/global original (which RFC 6532 section 3.5 lets be encoded),
// become quoted-printable. (Its addressee is ASCII: a UTF-8 one would
// need SMTPUTF8, which such a server lacks anyway.)
func TestDowngradeGlobalBounce(t *testing.T) {
	rep := dsn.Report{ReportingMTA: "mx.example", QueueID: "Q1", Sender: "joerg@example.com", Kind: dsn.Failed,
		SMTPUTF8: true, EightBit: true,
		Recipients: []dsn.RecipientReport{{FinalRecipient: "müller@bücher.example", Status: "5.1.1", Diagnostic: "550 5.1.1 unknown"}}}
	var b strings.Builder
	if err := dsn.Write(&b, rep, strings.NewReader("Subject: Grüße\n\nKöln\n")); err != nil {
		t.Fatal(err)
	}
	out := downgradeString(t, b.String())
	for i := 0; i < len(out); i++ {
		if out[i] >= 0x80 {
			t.Fatalf("8-bit byte left at %d:\n%s", i, out)
		}
	}
	if n := strings.Count(out, "Content-Transfer-Encoding: quoted-printable"); n != 2 {
		t.Errorf("%d quoted-printable parts, want the text and the original:\n%s", n, out)
	}
	if !strings.Contains(out, "Subject: Gr=C3=BC=C3=9Fe") {
		t.Errorf("the original's subject is not encoded:\n%s", out)
	}
}
