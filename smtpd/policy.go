package smtpd

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/smtpd/restrict"
)

// policyReplyLimit bounds a policy server's reply, in lines and bytes per
// line: a server gone wrong can't make smtpd read forever.
const (
	policyReplyLines   = 100
	policyReplyLineLen = 4096
)

// policyClient asks policy servers (check_policy_service, Postfix's
// SMTPD_POLICY_README protocol) and keeps their connections for later
// queries, within smtpd_policy_service_max_idle, _max_ttl and
// _request_limit.
type policyClient struct {
	queueDir     string // for unix:private/name servers
	timeout      time.Duration
	maxIdle      time.Duration
	maxTTL       time.Duration
	retryDelay   time.Duration
	tries        int
	requestLimit int

	pool *policyPool
}

// policyPool holds the kept connections, by server.
type policyPool struct {
	mu   sync.Mutex
	idle map[string][]*policyConn
}

// policyConn is one connection to a policy server.
type policyConn struct {
	conn     net.Conn
	br       *bufio.Reader
	born     time.Time
	lastUsed time.Time
	queries  int
}

// newPolicyClient reads the smtpd_policy_service_* parameters.
func newPolicyClient(cfg *config.Config) *policyClient {
	return &policyClient{
		queueDir:     cfg.Get("queue_directory"),
		timeout:      cfg.Duration("smtpd_policy_service_timeout"),
		maxIdle:      cfg.Duration("smtpd_policy_service_max_idle"),
		maxTTL:       cfg.Duration("smtpd_policy_service_max_ttl"),
		retryDelay:   cfg.Duration("smtpd_policy_service_retry_delay"),
		tries:        max(int(cfg.Int64("smtpd_policy_service_try_limit")), 1),
		requestLimit: int(cfg.Int64("smtpd_policy_service_request_limit")),
		pool:         &policyPool{idle: map[string][]*policyConn{}},
	}
}

// Query sends attrs to the policy server and returns the action it
// answers, trying up to smtpd_policy_service_try_limit times. The braced
// form of check_policy_service may set its own limits in svc.
func (p *policyClient) Query(ctx context.Context, svc restrict.PolicyService, attrs [][2]string) (string, error) {
	q := p.limitsFor(svc)
	var err error
	for try := 0; try < q.tries; try++ {
		if try > 0 {
			select {
			case <-ctx.Done():
				return "", fmt.Errorf("%w (after: %v)", ctx.Err(), err)
			case <-time.After(q.retryDelay):
			}
		}
		var action string
		if action, err = q.queryOnce(ctx, svc.Addr, attrs); err == nil {
			return action, nil
		}
	}
	return "", err
}

// limitsFor returns a client with svc's own settings where it has them;
// it shares p's kept connections.
func (p *policyClient) limitsFor(svc restrict.PolicyService) *policyClient {
	if svc.Timeout == 0 && svc.MaxIdle == 0 && svc.MaxTTL == 0 && svc.RetryDelay == 0 && svc.TryLimit == 0 && svc.RequestLimit == 0 {
		return p
	}
	q := &policyClient{queueDir: p.queueDir, timeout: p.timeout, maxIdle: p.maxIdle, maxTTL: p.maxTTL,
		retryDelay: p.retryDelay, tries: p.tries, requestLimit: p.requestLimit, pool: p.pool}
	for _, d := range []struct{ dst, v *time.Duration }{{&q.timeout, &svc.Timeout}, {&q.maxIdle, &svc.MaxIdle},
		{&q.maxTTL, &svc.MaxTTL}, {&q.retryDelay, &svc.RetryDelay}} {
		if *d.v > 0 {
			*d.dst = *d.v
		}
	}
	if svc.TryLimit > 0 {
		q.tries = svc.TryLimit
	}
	if svc.RequestLimit > 0 {
		q.requestLimit = svc.RequestLimit
	}
	return q
}

// queryOnce runs one request and reply on a kept or new connection. A
// kept connection that fails (the server closed it meanwhile) is replaced
// by a new one at once, without counting a try.
func (p *policyClient) queryOnce(ctx context.Context, service string, attrs [][2]string) (string, error) {
	pc, err := p.get(ctx, service)
	if err != nil {
		return "", err
	}
	action, err := p.exchange(ctx, service, pc, attrs)
	if err != nil && pc.queries > 0 {
		if pc, err = p.dial(ctx, service); err != nil {
			return "", err
		}
		action, err = p.exchange(ctx, service, pc, attrs)
	}
	return action, err
}

// exchange sends one request on pc and reads the reply; pc is kept for
// later queries or closed.
func (p *policyClient) exchange(ctx context.Context, service string, pc *policyConn, attrs [][2]string) (string, error) {
	deadline := time.Now().Add(p.timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = pc.conn.SetDeadline(deadline)
	var req strings.Builder
	for _, a := range attrs {
		req.WriteString(a[0] + "=" + a[1] + "\n")
	}
	req.WriteString("\n")
	if _, err := pc.conn.Write([]byte(req.String())); err != nil {
		pc.conn.Close()
		return "", fmt.Errorf("write to %s: %w", service, err)
	}
	action, err := readPolicyReply(pc.br)
	if err != nil {
		pc.conn.Close()
		return "", fmt.Errorf("read from %s: %w", service, err)
	}
	pc.queries++
	p.put(service, pc)
	return action, nil
}

// readPolicyReply reads "name=value" lines up to an empty line and
// returns the value of "action".
func readPolicyReply(br *bufio.Reader) (string, error) {
	action, found := "", false
	for n := 0; n < policyReplyLines; n++ {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || len(line) > policyReplyLineLen {
			return "", errors.New("reply line too long")
		}
		if err != nil {
			return "", err
		}
		text := strings.TrimSuffix(strings.TrimSuffix(string(line), "\n"), "\r")
		if strings.ContainsFunc(text, func(r rune) bool { return r < ' ' && r != '\t' || r == 0x7f }) {
			// The action may become the text of an SMTP reply.
			return "", errors.New("control character in reply")
		}
		if text == "" {
			if !found {
				return "", errors.New("reply without action")
			}
			return action, nil
		}
		if name, value, ok := strings.Cut(text, "="); ok && name == "action" {
			action, found = value, true
		}
	}
	return "", fmt.Errorf("reply longer than %d lines", policyReplyLines)
}

// get returns a kept connection to service that is still within its
// limits, or a new one.
func (p *policyClient) get(ctx context.Context, service string) (*policyConn, error) {
	now := time.Now()
	p.pool.mu.Lock()
	for conns := p.pool.idle[service]; len(conns) > 0; conns = p.pool.idle[service] {
		pc := conns[len(conns)-1]
		p.pool.idle[service] = conns[:len(conns)-1]
		if now.Sub(pc.lastUsed) < p.maxIdle && now.Sub(pc.born) < p.maxTTL {
			p.pool.mu.Unlock()
			return pc, nil
		}
		pc.conn.Close()
	}
	p.pool.mu.Unlock()
	return p.dial(ctx, service)
}

// dial makes a new connection to service.
func (p *policyClient) dial(ctx context.Context, service string) (*policyConn, error) {
	network, addr := p.address(service)
	d := net.Dialer{Timeout: p.timeout}
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", service, err)
	}
	return &policyConn{conn: conn, br: bufio.NewReaderSize(conn, policyReplyLineLen), born: time.Now()}, nil
}

// put keeps a connection for the next query, unless it reached
// smtpd_policy_service_request_limit or max_ttl.
func (p *policyClient) put(service string, pc *policyConn) {
	pc.lastUsed = time.Now()
	if (p.requestLimit > 0 && pc.queries >= p.requestLimit) || pc.lastUsed.Sub(pc.born) >= p.maxTTL {
		pc.conn.Close()
		return
	}
	_ = pc.conn.SetDeadline(time.Time{})
	p.pool.mu.Lock()
	p.pool.idle[service] = append(p.pool.idle[service], pc)
	p.pool.mu.Unlock()
}

// address turns inet:host:port or unix:path into a network and address;
// a relative unix path is in queue_directory, as with Postfix's
// unix:private/policy.
func (p *policyClient) address(service string) (network, addr string) {
	typ, rest, _ := strings.Cut(service, ":")
	if typ == "unix" {
		if !filepath.IsAbs(rest) {
			rest = filepath.Join(p.queueDir, rest)
		}
		return "unix", rest
	}
	return "tcp", rest
}

// close closes the kept connections.
func (p *policyClient) close() {
	p.pool.mu.Lock()
	defer p.pool.mu.Unlock()
	for _, conns := range p.pool.idle {
		for _, pc := range conns {
			pc.conn.Close()
		}
	}
	p.pool.idle = map[string][]*policyConn{}
}
