// Package mxtest runs a small in-process DNS server on the loopback
// interface for tests: a table of records answered over UDP and TCP on the
// same port, with switches that make a name fail (SERVFAIL, REFUSED), stay
// silent (a client time-out) or answer truncated over UDP. Tests of the
// SMTP client and of the whole suite point their resolver at Addr() to give
// tern fake MX records.
package mxtest

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Behavior says how the server treats queries for one name.
type Behavior int

// Behaviors for SetBehavior.
const (
	Answer        Behavior = iota // answer from the record table (the default)
	ServFail                      // answer with rcode SERVFAIL
	Refused                       // answer with rcode REFUSED
	Timeout                       // never answer, so that the client times out
	Truncate                      // over UDP: an empty answer with the TC bit; over TCP: the full answer
	TruncateNoTCP                 // over UDP: an empty answer with the TC bit; over TCP: no answer
)

// maxChain bounds the CNAME chain the server follows inside its own table.
const maxChain = 8

// startWait bounds how long NewServer waits for the listeners to start.
const startWait = 5 * time.Second

// Query is one question the server received.
type Query struct {
	Name string // lower case, with the trailing dot
	Type uint16 // dns.TypeMX, dns.TypeA, ...
	Net  string // "udp" or "tcp"
}

// Server is a DNS server on 127.0.0.1 that answers from a table of records.
// It is safe for concurrent use; a test may change the table while a client
// is querying it.
type Server struct {
	t        testing.TB
	addr     string
	udp, tcp *dns.Server

	mu       sync.Mutex
	records  map[string][]dns.RR // owner name (canonical) -> records
	behavior map[string]Behavior // owner name (canonical) -> behaviour
	// typeBehavior overrides behavior for one query type of a name.
	typeBehavior map[typedName]Behavior
	insecure     map[string]bool // owner names answered without the AD bit
	queries      []Query
}

// NewServer starts a server with the records of zone, given in the master
// file format of RFC 1035 section 5 (one record a line, absolute or
// relative to the root, ";" comments, $TTL allowed), for example
//
//	example.org.      MX 10 mx1.example.org.
//	mx1.example.org.  A  192.0.2.1
//
// The server listens for UDP and TCP on the same loopback port and is shut
// down by t.Cleanup. A zone that does not parse fails the test.
func NewServer(t testing.TB, zone string) *Server {
	t.Helper()
	s := &Server{
		t:            t,
		records:      make(map[string][]dns.RR),
		behavior:     make(map[string]Behavior),
		typeBehavior: make(map[typedName]Behavior),
		insecure:     make(map[string]bool),
	}
	s.Add(zone)
	pc, ln := listenPair(t)
	s.addr = pc.LocalAddr().String()
	handler := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: handler}
	s.tcp = &dns.Server{Listener: ln, Handler: handler}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		start(t, srv)
	}
	return s
}

// start runs srv in a goroutine, waits until it listens, and registers its
// shutdown with t.Cleanup.
func start(t testing.TB, srv *dns.Server) {
	t.Helper()
	started := make(chan struct{})
	done := make(chan error, 1)
	srv.NotifyStartedFunc = func() { close(started) }
	go func() { done <- srv.ActivateAndServe() }()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("mxtest: DNS server did not start: %v", err)
	case <-time.After(startWait):
		t.Fatalf("mxtest: DNS server did not start within %v", startWait)
	}
	t.Cleanup(func() {
		if err := srv.Shutdown(); err != nil {
			t.Errorf("mxtest: shut down DNS server: %v", err)
		}
		select {
		case <-done:
		case <-time.After(startWait):
			t.Errorf("mxtest: DNS server did not stop within %v", startWait)
		}
	})
}

// listenPair opens a UDP socket and a TCP listener on the same loopback
// port. The TCP port may be taken by someone else, so a few ports are tried.
func listenPair(t testing.TB) (net.PacketConn, net.Listener) {
	t.Helper()
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("mxtest: listen udp: %v", err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		lastErr = err
		pc.Close()
	}
	t.Fatalf("mxtest: no loopback port free for both UDP and TCP: %v", lastErr)
	return nil, nil
}

// NewSilent opens a UDP socket on 127.0.0.1 that never answers and returns
// its "ip:port": a name server that does not respond. It is closed by
// t.Cleanup.
func NewSilent(t testing.TB) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mxtest: listen udp: %v", err)
	}
	t.Cleanup(func() { pc.Close() })
	return pc.LocalAddr().String()
}

// Addr returns the "ip:port" the server answers on, for UDP and TCP.
func (s *Server) Addr() string { return s.addr }

// Add adds the records of zone (same format as NewServer) to the table.
// A record that does not parse fails the test.
func (s *Server) Add(zone string) {
	s.t.Helper()
	rrs, err := ParseZone(zone)
	if err != nil {
		s.t.Fatalf("mxtest: %v", err)
	}
	s.AddRR(rrs...)
}

// AddRR adds records to the table.
func (s *Server) AddRR(rrs ...dns.RR) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rr := range rrs {
		name := dns.CanonicalName(rr.Header().Name)
		s.records[name] = append(s.records[name], dns.Copy(rr))
	}
}

// Set replaces the records of type rrtype owned by name with the records of
// zone (which should all be of that name and type; an empty zone just
// removes them). The name keeps existing if it owns other records.
func (s *Server) Set(name string, rrtype uint16, zone string) {
	s.t.Helper()
	rrs, err := ParseZone(zone)
	if err != nil {
		s.t.Fatalf("mxtest: %v", err)
	}
	key := dns.CanonicalName(name)
	s.mu.Lock()
	var kept []dns.RR
	for _, rr := range s.records[key] {
		if rr.Header().Rrtype != rrtype {
			kept = append(kept, rr)
		}
	}
	if len(kept) == 0 {
		delete(s.records, key)
	} else {
		s.records[key] = kept
	}
	s.mu.Unlock()
	s.AddRR(rrs...)
}

// Remove deletes every record owned by name, so that it answers NXDOMAIN.
func (s *Server) Remove(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.records, dns.CanonicalName(name))
}

// SetBehavior sets how queries for name (any type) are answered.
func (s *Server) SetBehavior(name string, b Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := dns.CanonicalName(name)
	if b == Answer {
		delete(s.behavior, key)
		return
	}
	s.behavior[key] = b
}

// typedName is a query name (canonical) and type.
type typedName struct {
	name  string
	rtype uint16
}

// SetTypeBehavior sets how queries of type rrtype for name are answered,
// over what SetBehavior set for the name.
func (s *Server) SetTypeBehavior(name string, rrtype uint16, b Behavior) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.typeBehavior[typedName{dns.CanonicalName(name), rrtype}] = b
}

// SetInsecure makes answers for name (any type) come without the AD bit,
// as a validating resolver answers for an unsigned zone. By default the
// server acts as a validating resolver for which every name is signed:
// answers carry the AD bit when the query has the DO or AD bit
// (RFC 6840 section 5.7).
func (s *Server) SetInsecure(name string, insecure bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := dns.CanonicalName(name)
	if insecure {
		s.insecure[key] = true
		return
	}
	delete(s.insecure, key)
}

// Queries returns the questions received so far, oldest first.
func (s *Server) Queries() []Query {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Query(nil), s.queries...)
}

// ParseZone parses records in master file format (see NewServer).
func ParseZone(zone string) ([]dns.RR, error) {
	zp := dns.NewZoneParser(strings.NewReader(zone), ".", "")
	zp.SetDefaultTTL(300)
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		return nil, fmt.Errorf("parse zone: %w", err)
	}
	return rrs, nil
}

// serve answers one request.
func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	network := "tcp"
	if _, ok := w.LocalAddr().(*net.UDPAddr); ok {
		network = "udp"
	}
	resp := new(dns.Msg)
	if len(req.Question) != 1 {
		w.WriteMsg(resp.SetRcodeFormatError(req))
		return
	}
	q := req.Question[0]
	name := dns.CanonicalName(q.Name)

	s.mu.Lock()
	s.queries = append(s.queries, Query{Name: name, Type: q.Qtype, Net: network})
	b := s.behavior[name]
	if tb, ok := s.typeBehavior[typedName{name, q.Qtype}]; ok {
		b = tb
	}
	insecure := s.insecure[name]
	answer, rcode := s.resolve(name, q.Qtype)
	s.mu.Unlock()

	switch {
	case b == Timeout || (b == TruncateNoTCP && network == "tcp"):
		return
	case b == ServFail:
		w.WriteMsg(resp.SetRcode(req, dns.RcodeServerFailure))
		return
	case b == Refused:
		w.WriteMsg(resp.SetRcode(req, dns.RcodeRefused))
		return
	case (b == Truncate || b == TruncateNoTCP) && network == "udp":
		resp.SetReply(req)
		resp.Truncated = true
		w.WriteMsg(resp)
		return
	}
	resp.SetRcode(req, rcode)
	resp.Authoritative = true
	resp.RecursionAvailable = true
	opt := req.IsEdns0()
	resp.AuthenticatedData = !insecure && (req.AuthenticatedData || opt != nil && opt.Do())
	resp.Answer = answer
	size := dns.MinMsgSize
	if opt != nil {
		resp.SetEdns0(opt.UDPSize(), opt.Do())
		size = max(int(opt.UDPSize()), dns.MinMsgSize)
	}
	if network == "udp" {
		resp.Truncate(size)
	}
	w.WriteMsg(resp)
}

// resolve looks name up in the table the way a recursive server would,
// following CNAMEs within the table. The caller holds s.mu. The records
// returned are copies.
func (s *Server) resolve(name string, qtype uint16) ([]dns.RR, int) {
	var answer []dns.RR
	for range maxChain {
		rrs, ok := s.records[name]
		if !ok {
			return answer, dns.RcodeNameError
		}
		var cname *dns.CNAME
		matched := false
		for _, rr := range rrs {
			h := rr.Header()
			if h.Rrtype == qtype || qtype == dns.TypeANY {
				answer = append(answer, dns.Copy(rr))
				matched = true
			}
			if c, ok := rr.(*dns.CNAME); ok {
				cname = c
			}
		}
		if matched || cname == nil {
			return answer, dns.RcodeSuccess
		}
		answer = append(answer, dns.Copy(cname))
		name = dns.CanonicalName(cname.Target)
	}
	return answer, dns.RcodeServerFailure
}
