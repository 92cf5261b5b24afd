package mx

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Query defaults and bounds.
const (
	defaultTimeout  = 5 * time.Second // per query, as glibc's RES_TIMEOUT
	defaultAttempts = 2               // rounds over the servers, as glibc's RES_DFLRETRY
	ednsSize        = 4096            // EDNS0 UDP payload size we advertise (RFC 6891)
	maxCNAMEChain   = 8               // CNAMEs followed within one answer
	maxRequery      = 3               // further queries for the end of a CNAME chain
)

// errNoServers is the cause when the resolver has no name server.
var errNoServers = errors.New("no name servers configured")

// answer is the outcome of one name lookup that the name service answered.
type answer struct {
	rrs      []dns.RR // records of the type asked for, at the end of any CNAME chain
	nxdomain bool     // the name (or the end of its CNAME chain) does not exist
	// canonical is the end of the CNAME chain that led to rrs (with its
	// trailing dot), the name asked for when there was none.
	canonical string
	// secure says every answer of the lookup had the AD bit of a
	// validating resolver (only when the Resolver asks with DNSSEC).
	secure bool
}

// lookup asks for records of qtype for name (canonical, with the trailing
// dot), following CNAMEs: first within the answer, then by asking for the
// end of the chain again, a bounded number of times. An empty answer
// without nxdomain means the name exists without such records (NODATA).
// Errors are of class ErrTemporary.
func (r *Resolver) lookup(ctx context.Context, name string, qtype uint16) (answer, *Error) {
	display := strings.TrimSuffix(name, ".")
	tname := dns.TypeToString[qtype]
	cur := name
	secure := r.DNSSEC
	for range maxRequery + 1 {
		msg, err := r.exchange(ctx, cur, qtype)
		if err != nil {
			return answer{}, nameServiceError(ErrTemporary, display, tname, textTryAgain, err)
		}
		secure = secure && msg.AuthenticatedData
		end, rrs, ok := chase(msg.Answer, cur, qtype)
		switch {
		case !ok:
			return answer{}, nameServiceError(ErrTemporary, display, tname, textTryAgain,
				fmt.Errorf("CNAME chain of %s loops or is longer than %d", display, maxCNAMEChain))
		case len(rrs) > 0:
			return answer{rrs: rrs, secure: secure, canonical: end}, nil
		case msg.Rcode == dns.RcodeNameError:
			return answer{nxdomain: true, secure: secure}, nil
		case end == cur:
			return answer{secure: secure}, nil
		}
		cur = end
	}
	return answer{}, nameServiceError(ErrTemporary, display, tname, textTryAgain,
		fmt.Errorf("CNAME chain of %s still unresolved after %d queries", display, maxRequery+1))
}

// chase follows the CNAME chain that starts at name within the answer
// section rrs and returns the end of the chain with its records of type
// qtype. ok is false for a chain that loops or is too long.
func chase(rrs []dns.RR, name string, qtype uint16) (end string, found []dns.RR, ok bool) {
	cur := name
	for range maxCNAMEChain + 1 {
		next := ""
		for _, rr := range rrs {
			h := rr.Header()
			if h.Class != dns.ClassINET || !strings.EqualFold(h.Name, cur) {
				continue
			}
			if h.Rrtype == qtype {
				found = append(found, rr)
			} else if c, isCNAME := rr.(*dns.CNAME); isCNAME {
				next = dns.CanonicalName(c.Target)
			}
		}
		if len(found) > 0 || next == "" {
			return cur, found, true
		}
		cur = next
	}
	return cur, nil, false
}

// exchange sends the question to the servers in order, Attempts rounds,
// until one gives an answer that settles it (NOERROR or NXDOMAIN). Other
// rcodes (SERVFAIL, REFUSED, ...) and network errors move on to the next
// server; the last of them is returned when no server settles it.
func (r *Resolver) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	if len(r.Servers) == 0 {
		return nil, errNoServers
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	attempts := r.Attempts
	if attempts <= 0 {
		attempts = defaultAttempts
	}
	var last error
	for range attempts {
		for _, srv := range r.Servers {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			resp, err := ask(ctx, srv, name, qtype, timeout, r.DNSSEC)
			if err != nil {
				last = err
				continue
			}
			if resp.Rcode == dns.RcodeSuccess || resp.Rcode == dns.RcodeNameError {
				return resp, nil
			}
			last = fmt.Errorf("name server %s answered %s", srv, rcodeName(resp.Rcode))
		}
	}
	return nil, last
}

// ask sends one query to one server over UDP with EDNS0, and again over
// TCP when the UDP answer is truncated. With dnssec the query sets the DO
// and AD bits, so that a validating resolver says in its AD bit whether
// the answer is authentic (RFC 6840 section 5.7).
func ask(ctx context.Context, srv, name string, qtype uint16, timeout time.Duration, dnssec bool) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(ednsSize, dnssec)
	m.AuthenticatedData = dnssec
	resp, err := exchangeOn(ctx, "udp", srv, m, timeout)
	if resp != nil && resp.Truncated {
		resp, err = exchangeOn(ctx, "tcp", srv, m, timeout)
		if err != nil {
			return nil, fmt.Errorf("name server %s: truncated UDP answer and TCP retry failed: %w", srv, err)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("name server %s: %w", srv, err)
	}
	if !resp.Response || len(resp.Question) != 1 ||
		!strings.EqualFold(resp.Question[0].Name, name) || resp.Question[0].Qtype != qtype {
		return nil, fmt.Errorf("name server %s: answer does not match the question", srv)
	}
	return resp, nil
}

// exchangeOn performs one exchange over network ("udp" or "tcp"). The
// connection is closed as soon as ctx is done. A UDP answer with the TC bit
// is returned even when the rest of it does not parse, so that the caller
// can retry over TCP.
func exchangeOn(ctx context.Context, network, srv string, m *dns.Msg, timeout time.Duration) (*dns.Msg, error) {
	c := &dns.Client{Net: network, Timeout: timeout, UDPSize: ednsSize}
	conn, err := c.DialContext(ctx, srv)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	resp, _, err := c.ExchangeWithConnContext(ctx, m, conn)
	if cerr := ctx.Err(); cerr != nil {
		return nil, cerr
	}
	if err != nil {
		if network == "udp" && resp != nil && resp.Truncated {
			return resp, nil
		}
		return nil, err
	}
	return resp, nil
}

// rcodeName names an rcode for error messages.
func rcodeName(rcode int) string {
	if s, ok := dns.RcodeToString[rcode]; ok {
		return s
	}
	return fmt.Sprintf("rcode %d", rcode)
}
