package smtpd

import (
	"context"
	"sync"
	"time"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/maillog"
)

// Stress-adaptive behaviour (Postfix's STRESS_README). Postfix's master
// starts new smtpd processes with "-o stress=yes" once a service has run
// out of processes, and goes on doing so until it has stayed below its
// process limit for 1000 seconds; the parameters whose defaults read
// ${stress?{...}:{...}} then take their stress values (a 10-second
// smtpd_timeout, one error allowed, deadlines per request). tern's smtpd
// is one process whose sessions take the master.cf process limit, so it
// makes the choice itself, per session: a session that starts while the
// service is stressed runs with the stress values.

// stressHold is how long stress lasts after the service last ran out of
// session slots, and how often the warning about it is logged at most, as
// in Postfix's master.
const stressHold = 1000 * time.Second

// sessionLimits are the smtpd settings that follow the stress parameter.
type sessionLimits struct {
	timeout            time.Duration // smtpd_timeout
	starttlsTimeout    time.Duration // smtpd_starttls_timeout
	hardErrorLimit     int           // smtpd_hard_error_limit
	junkLimit          int           // smtpd_junk_command_limit
	perRequestDeadline bool          // smtpd_per_request_deadline
	minDataRate        int64         // smtpd_min_data_rate, bytes per second
	verifyPolls        int           // address_verify_poll_count
	greetWait          time.Duration // postscreen_greet_wait
	stressed           bool          // stress = yes
}

// loadLimits reads the stress-dependent settings from cfg (whose
// validation refused a smtpd_min_data_rate below 1).
func loadLimits(cfg *config.Config) sessionLimits {
	l := sessionLimits{
		timeout:            cfg.Duration("smtpd_timeout"),
		starttlsTimeout:    cfg.Duration("smtpd_starttls_timeout"),
		hardErrorLimit:     cfg.Int("smtpd_hard_error_limit"),
		junkLimit:          cfg.Int("smtpd_junk_command_limit"),
		perRequestDeadline: cfg.Bool("smtpd_per_request_deadline"),
		minDataRate:        cfg.Int64("smtpd_min_data_rate"),
		verifyPolls:        max(cfg.Int("address_verify_poll_count"), 1),
		greetWait:          cfg.Duration("postscreen_greet_wait"),
		stressed:           cfg.Bool("stress"),
	}
	if l.hardErrorLimit <= 0 {
		l.hardErrorLimit = 20
	}
	return l
}

// stressMonitor chooses the limits of each new session.
type stressMonitor struct {
	normal, stress sessionLimits
	// auto is false when main.cf or master.cf sets stress: the admin's
	// value then holds for every session.
	auto    bool
	service string // for the warning: the master.cf service name
	log     *maillog.Logger
	now     func() time.Time

	mu     sync.Mutex
	until  time.Time // stressed until then
	warned time.Time // when the warning was last logged
}

// newStressMonitor reads the normal limits from cfg and, unless cfg sets
// stress itself, the stress limits from cfg with stress = yes.
func newStressMonitor(cfg *config.Config, log *maillog.Logger) (*stressMonitor, error) {
	m := &stressMonitor{log: log, now: time.Now, normal: loadLimits(cfg)}
	m.stress = m.normal
	if _, set := cfg.Raw("stress"); set {
		return m, nil
	}
	stressed := cfg.Clone()
	if err := stressed.Set("stress", "yes"); err != nil {
		return nil, err
	}
	m.stress, m.auto = loadLimits(stressed), true
	return m, nil
}

// limits returns the limits for a session that starts now.
func (m *stressMonitor) limits() *sessionLimits {
	if !m.auto {
		return &m.normal
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.now().Before(m.until) {
		return &m.stress
	}
	return &m.normal
}

// full notes that a session took the last of limit slots on the listener
// at addr: the service is stressed for stressHold, and the admin is told,
// as Postfix's master tells.
func (m *stressMonitor) full(limit int, addr string) {
	m.mu.Lock()
	now := m.now()
	m.until = now.Add(stressHold)
	warn := m.warned.IsZero() || now.Sub(m.warned) > stressHold
	if warn {
		m.warned = now
	}
	m.mu.Unlock()
	if !warn {
		return
	}
	m.log.Warnf("service %q (%s) has reached its process limit \"%d\": new clients may experience noticeable delays", m.service, addr, limit)
	m.log.Warnf("to avoid this condition, increase the process count in master.cf or reduce the service time per client")
	if m.auto {
		m.log.Warnf("see http://www.postfix.org/STRESS_README.html for examples of stress-adapting configuration settings")
	}
}

// stressKey is the context key of a session's limits.
type stressKey struct{}

// sessionContext returns ctx carrying l, for the checks that follow the
// stress limits (address verification's poll count).
func sessionContext(ctx context.Context, l *sessionLimits) context.Context {
	return context.WithValue(ctx, stressKey{}, l)
}

// limitsOf returns the limits a session context carries, or nil.
func limitsOf(ctx context.Context) *sessionLimits {
	l, _ := ctx.Value(stressKey{}).(*sessionLimits)
	return l
}
