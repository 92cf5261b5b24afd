package client

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// testPeer is the peer name the tests give Open.
const testPeer = "mx.example.com[192.0.2.1]:25"

// step is one exchange of a scripted fake server: read a line that must
// start with expect (none when expect is ""), then act, then send reply
// (its lines separated by "\n"; nothing when "").
type step struct {
	expect string
	do     string // "", "body" (read content up to the dot first), "tls" (handshake after the reply; "tls-fails" when it must fail), "close" (after the reply), "hang" (after the reply, send nothing more and wait for the client to go), "stall" (as hang, but read nothing either)
	reply  string
}

// fakeServer runs a script on the server end of a connection.
type fakeServer struct {
	raw  *recConn
	conn net.Conn
	br   *bufio.Reader
	cert tls.Certificate

	mu     sync.Mutex
	lines  []string // command lines received, in order
	bodies []string // contents received (with CRLF and dot-stuffing)
	errs   []string
	stop   chan struct{} // closed by halt
	once   sync.Once
	done   chan struct{}
}

// recConn records each Read from the underlying connection.
type recConn struct {
	net.Conn
	mu     sync.Mutex
	chunks []string
}

func (c *recConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.mu.Lock()
		c.chunks = append(c.chunks, string(p[:n]))
		c.mu.Unlock()
	}
	return n, err
}

func (c *recConn) reads() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.chunks...)
}

// startFake starts a fake server with the script on a loopback TCP
// connection and returns the client's end.
func startFake(t *testing.T, script []step) (net.Conn, *fakeServer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cli, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := ln.Accept()
	if err != nil {
		cli.Close()
		t.Fatal(err)
	}
	fs := &fakeServer{raw: &recConn{Conn: srv}, done: make(chan struct{}), stop: make(chan struct{}), cert: testCert(t)}
	fs.conn = fs.raw
	fs.br = bufio.NewReaderSize(fs.conn, 4096)
	go fs.run(script)
	t.Cleanup(func() {
		fs.halt()
		cli.Close()
		srv.Close()
		select {
		case <-fs.done:
		case <-time.After(5 * time.Second):
			t.Error("fake server did not stop")
		}
	})
	return cli, fs
}

func (fs *fakeServer) fail(format string, args ...any) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.errs = append(fs.errs, fmt.Sprintf(format, args...))
}

func (fs *fakeServer) run(script []step) {
	defer close(fs.done)
	defer fs.conn.Close()
	for i, st := range script {
		if st.expect != "" {
			line, err := fs.br.ReadString('\n')
			if err != nil {
				fs.fail("step %d: want %q, read error %v", i, st.expect, err)
				return
			}
			line = strings.TrimSuffix(line, "\r\n")
			fs.mu.Lock()
			fs.lines = append(fs.lines, line)
			fs.mu.Unlock()
			if !strings.HasPrefix(line, st.expect) {
				fs.fail("step %d: got %q, want prefix %q", i, line, st.expect)
				return
			}
		}
		switch st.do {
		case "body":
			if !fs.readBody() {
				fs.fail("step %d: content ended without the final dot", i)
				return
			}
		}
		if st.reply != "" {
			msg := strings.ReplaceAll(st.reply, "\n", "\r\n") + "\r\n"
			if _, err := io.WriteString(fs.conn, msg); err != nil {
				fs.fail("step %d: write reply: %v", i, err)
				return
			}
		}
		switch st.do {
		case "tls", "tls-fails":
			tc := tls.Server(fs.conn, &tls.Config{Certificates: []tls.Certificate{fs.cert}})
			if err := tc.Handshake(); err != nil {
				if st.do == "tls" {
					fs.fail("step %d: TLS handshake: %v", i, err)
				}
				return
			}
			fs.conn, fs.br = tc, bufio.NewReader(tc)
		case "close":
			return
		case "hang":
			_, _ = io.Copy(io.Discard, fs.br)
			return
		case "stall":
			<-fs.stop
			return
		}
	}
	// After the script: drain until the client goes, so that its last
	// writes (QUIT) do not fail.
	_, _ = io.Copy(io.Discard, fs.br)
}

// readBody reads DATA content up to and including the final dot line.
func (fs *fakeServer) readBody() bool {
	var b strings.Builder
	for {
		line, err := fs.br.ReadString('\n')
		b.WriteString(line)
		if err != nil {
			return false
		}
		if line == ".\r\n" {
			fs.mu.Lock()
			fs.bodies = append(fs.bodies, b.String())
			fs.mu.Unlock()
			return true
		}
	}
}

// halt ends a "stall" step.
func (fs *fakeServer) halt() { fs.once.Do(func() { close(fs.stop) }) }

// wait waits for the script to end and reports its errors. The client
// must be done with the connection.
func (fs *fakeServer) wait(t *testing.T) {
	t.Helper()
	fs.halt()
	select {
	case <-fs.done:
	case <-time.After(5 * time.Second):
		t.Fatal("fake server did not finish its script")
	}
	for _, e := range fs.errs {
		t.Error("fake server: " + e)
	}
}

func (fs *fakeServer) got() (lines, bodies []string) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return append([]string(nil), fs.lines...), append([]string(nil), fs.bodies...)
}

// greet is the start of most scripts: a greeting and an EHLO reply
// announcing exts.
func greet(exts ...string) []step {
	lines := append([]string{"250-fake.example"}, exts...)
	for i := range lines {
		lines[i] = "250-" + strings.TrimPrefix(lines[i], "250-")
	}
	last := len(lines) - 1
	lines[last] = "250 " + strings.TrimPrefix(lines[last], "250-")
	return []step{{reply: "220 fake.example ESMTP"}, {expect: "EHLO ", reply: strings.Join(lines, "\n")}}
}

// script joins parts of a script.
func script(parts ...[]step) []step {
	var s []step
	for _, p := range parts {
		s = append(s, p...)
	}
	return s
}

// testCtx is a context that bounds one test.
func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// testCert makes a self-signed certificate for mx.example.com.
func testCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "mx.example.com"},
		DNSNames:              []string{"mx.example.com"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:                  true,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
}
