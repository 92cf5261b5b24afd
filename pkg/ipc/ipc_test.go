package ipc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
	"time"
)

func TestRecordRoundTrip(t *testing.T) {
	tests := []Record{
		nil,
		{{"request", "submit"}},
		{{"rcpt", "a@example.com"}, {"rcpt", "b@example.com"}, {"empty", ""}},
		{{"binary", "a\x00b\nc"}, {"", "no name"}},
		{{"long", strings.Repeat("x", 70000)}},
	}
	for _, r := range tests {
		got, err := DecodeRecord(r.Encode(nil))
		if err != nil {
			t.Fatalf("decode %v: %v", r, err)
		}
		if len(got) != len(r) {
			t.Fatalf("got %d attributes, want %d", len(got), len(r))
		}
		for i := range r {
			if got[i] != r[i] {
				t.Errorf("attribute %d: got %q, want %q", i, got[i], r[i])
			}
		}
	}
}

func TestRecordAccessors(t *testing.T) {
	r := Record{}.Add("rcpt", "a").Add("x", "1").Add("rcpt", "b")
	if r.Get("rcpt") != "a" || r.Get("missing") != "" {
		t.Errorf("Get: %q %q", r.Get("rcpt"), r.Get("missing"))
	}
	if all := r.All("rcpt"); len(all) != 2 || all[1] != "b" {
		t.Errorf("All: %v", all)
	}
	if !r.Has("x") || r.Has("y") {
		t.Errorf("Has")
	}
}

func TestDecodeRecordRejectsTruncation(t *testing.T) {
	full := Record{{"name", "value"}}.Encode(nil)
	for n := 1; n < len(full); n++ {
		if _, err := DecodeRecord(full[:n]); err == nil {
			t.Errorf("truncated to %d bytes: no error", n)
		}
	}
}

func TestReadFrameLimits(t *testing.T) {
	var buf bytes.Buffer
	buf.Write([]byte{FrameData, 0xff, 0xff, 0xff, 0xff})
	if _, _, err := ReadFrame(&buf); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("oversized frame: %v", err)
	}
	if _, _, err := ReadFrame(bytes.NewReader([]byte{FrameData, 0, 0, 0, 5, 'a'})); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("short payload: %v", err)
	}
}

// pipePair returns both ends of a unix socket connection.
func pipePair(t *testing.T) (*Conn, *Conn) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	client, err := Dial(path, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	server := NewConn(<-accepted, 5*time.Second)
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestBodyStreaming(t *testing.T) {
	client, server := pipePair(t)
	body := bytes.Repeat([]byte("0123456789abcdef\n"), 20000) // > several chunks
	go func() {
		client.WriteFrame(FrameRequest, Record{{"request", "x"}}.Encode(nil))
		w := client.BodyWriter()
		w.Write(body[:10])
		w.Write(body[10:])
		w.Close()
	}()
	req, err := server.Receive(FrameRequest)
	if err != nil || req.Get("request") != "x" {
		t.Fatalf("request: %v %v", req, err)
	}
	got, err := io.ReadAll(server.BodyReader())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, body) {
		t.Errorf("body: got %d bytes, want %d", len(got), len(body))
	}
}

func TestBodyTruncatedIsAnError(t *testing.T) {
	client, server := pipePair(t)
	go func() {
		client.WriteFrame(FrameData, []byte("partial"))
		client.Flush()
		client.Close()
	}()
	_, err := io.ReadAll(server.BodyReader())
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated body: err = %v, want ErrUnexpectedEOF", err)
	}
}

func TestPeerCredIsOurs(t *testing.T) {
	client, server := pipePair(t)
	_ = client
	cred, err := PeerCred(server.NetConn())
	if err != nil {
		t.Fatal(err)
	}
	if int(cred.UID) != os.Getuid() || cred.PID <= 0 {
		t.Errorf("cred %+v", cred)
	}
}

func TestServeStopsOnCancel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s")
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() {
		done <- Serve(ctx, l, time.Second, func(ctx context.Context, c *Conn) {
			r, err := c.Receive(FrameRequest)
			if err == nil {
				c.Send(FrameReply, Record{{"echo", r.Get("v")}})
			}
		})
	}()
	c, err := Dial(path, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	reply, err := c.Call(Record{{"v", "42"}})
	if err != nil || reply.Get("echo") != "42" {
		t.Fatalf("call: %v %v", reply, err)
	}
	c.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add(Record{{"request", "submit"}, {"rcpt", "a@b"}}.Encode(nil))
	f.Add([]byte{0x80})
	f.Add([]byte{1, 'a', 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, p []byte) {
		r, err := DecodeRecord(p)
		if err != nil {
			return
		}
		again, err := DecodeRecord(r.Encode(nil))
		if err != nil || len(again) != len(r) {
			t.Fatalf("re-decode: %v", err)
		}
	})
}

func FuzzReadFrame(f *testing.F) {
	var buf bytes.Buffer
	WriteFrame(&buf, FrameRequest, Record{{"a", "b"}}.Encode(nil))
	f.Add(buf.Bytes())
	f.Add([]byte{FrameEnd, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, p []byte) {
		r := bytes.NewReader(p)
		for i := 0; i < 100; i++ {
			if _, _, err := ReadFrame(r); err != nil {
				return
			}
		}
	})
}

// referenceBody decodes a body frame by frame with ReadFrame, as the body
// reader did before it read payloads in place. The streaming reader must
// give the same body where it succeeds, and fail where it fails, having
// passed on at most the part of a cut frame that arrived.
func referenceBody(p []byte) ([]byte, error) {
	r := bytes.NewReader(p)
	var out []byte
	for {
		t, payload, err := ReadFrame(r)
		if err != nil {
			return out, err
		}
		switch t {
		case FrameData:
			out = append(out, payload...)
		case FrameEnd:
			return out, nil
		default:
			return out, ErrUnexpectedFrame
		}
	}
}

func frames(fs ...[]byte) []byte {
	var b bytes.Buffer
	for _, f := range fs {
		WriteFrame(&b, f[0], f[1:])
	}
	return b.Bytes()
}

func TestBodyReaderFrames(t *testing.T) {
	data := func(s string) []byte { return append([]byte{FrameData}, s...) }
	end := []byte{FrameEnd}
	tests := []struct {
		name string
		in   []byte
		want string
		err  error
	}{
		{"empty body", frames(end), "", nil},
		{"two frames", frames(data("hello "), data("world"), end), "hello world", nil},
		{"empty data frame", frames(data(""), data("x"), end), "x", nil},
		{"no end frame", frames(data("partial")), "partial", io.ErrUnexpectedEOF},
		{"cut in a payload", frames(data("partial"), end)[:8], "par", io.ErrUnexpectedEOF},
		{"cut in a header", append(frames(data("ab")), FrameData, 0), "ab", io.ErrUnexpectedEOF},
		{"request frame inside", frames(data("a"), append([]byte{FrameRequest}, "x"...), end), "a", ErrUnexpectedFrame},
		{"too large", []byte{FrameData, 0xff, 0, 0, 0}, "", ErrFrameTooLarge},
		{"data after the end", append(frames(data("a"), end), frames(data("b"))...), "a", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := io.ReadAll(NewBodyReader(iotest.OneByteReader(bytes.NewReader(tt.in))))
			if string(got) != tt.want || !errors.Is(err, tt.err) {
				t.Errorf("got %q, %v; want %q, %v", got, err, tt.want, tt.err)
			}
		})
	}
}

func FuzzBodyReader(f *testing.F) {
	f.Add(frames([]byte{FrameData, 'a', 'b'}, []byte{FrameEnd}))
	f.Add(frames([]byte{FrameData, 'a'}))
	f.Add([]byte{FrameData, 0, 0, 0, 9, 'x'})
	f.Fuzz(func(t *testing.T, p []byte) {
		got, err := io.ReadAll(NewBodyReader(bytes.NewReader(p)))
		want, werr := referenceBody(p)
		if (err == nil) != (werr == nil) || err == nil && !bytes.Equal(got, want) || !bytes.HasPrefix(got, want) {
			t.Errorf("body %q, %v; reference %q, %v", got, err, want, werr)
		}
	})
}

func TestConnIdle(t *testing.T) {
	tests := []struct {
		name string
		peer func(peer *Conn)
		want bool
	}{
		{"open, nothing sent", func(*Conn) {}, true},
		{"peer closed", func(p *Conn) { p.Close() }, false},
		{"bytes waiting", func(p *Conn) { p.Send(FrameReply, Record{{"status", "ok"}}) }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := pipePair(t)
			tt.peer(server)
			// The peer's close or bytes reach the socket at once on the
			// same machine; poll briefly so the test does not race it.
			deadline := time.Now().Add(2 * time.Second)
			got := client.Idle()
			for got != tt.want && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
				got = client.Idle()
			}
			if got != tt.want {
				t.Errorf("Idle() = %v, want %v", got, tt.want)
			}
		})
	}
	// A reply already read into the buffer is not idle either.
	client, server := pipePair(t)
	server.Send(FrameReply, Record{{"a", "b"}})
	server.Send(FrameReply, Record{{"c", "d"}})
	if _, err := client.Receive(FrameReply); err != nil {
		t.Fatal(err)
	}
	if client.Idle() {
		t.Errorf("Idle() with a frame in the read buffer = true, want false")
	}
}
