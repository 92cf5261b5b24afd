package local

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tern-mta/tern/pkg/agent"
)

// benchMessage is a 1 KiB message.
func benchMessage() []byte {
	var b bytes.Buffer
	b.WriteString("From: a@example.org\nTo: b@example.com\nSubject: benchmark\n\n")
	for b.Len() < 1024 {
		b.WriteString(strings.Repeat("x", 63) + "\n")
	}
	return b.Bytes()[:1024]
}

func benchJob(b *testing.B, kind, path string) {
	msg := benchMessage()
	job := Job{Kind: kind, Path: path, User: "u", Sender: "a@example.org", OwnerUID: -1,
		LockMethods: []string{"fcntl", "dotlock"}, LockAttempts: 1,
		Prepend: "Return-Path: <a@example.org>\nDelivered-To: b@example.com\n"}
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if r := RunJob(b.Context(), job, bytes.NewReader(msg)); r.Status != agent.OK {
			b.Fatalf("delivery failed: %+v", r)
		}
	}
}

func BenchmarkMboxDelivery(b *testing.B) {
	benchJob(b, KindMbox, filepath.Join(b.TempDir(), "mbox"))
}

func BenchmarkMaildirDelivery(b *testing.B) {
	benchJob(b, KindMaildir, filepath.Join(b.TempDir(), "Maildir")+"/")
}
