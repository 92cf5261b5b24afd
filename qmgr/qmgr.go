// Package qmgr is tern's queue manager: the one process that owns the queue
// database. It serves Postfix's cleanup, pickup, showq and qmgr services
// (master.cf entries with those commands all run in this one process),
// schedules deliveries to the transport agents, retries deferred mail with
// back-off and returns failed mail to its sender.
package qmgr

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/daemon"
	"github.com/tern-mta/tern/pkg/dsn"
	"github.com/tern-mta/tern/pkg/ipc"
	"github.com/tern-mta/tern/pkg/maillog"
	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/message"
	"github.com/tern-mta/tern/pkg/milters"
	"github.com/tern-mta/tern/pkg/queue"
)

// ipcTimeout bounds each read and write on a client connection.
const ipcTimeout = 5 * time.Minute

// Manager is a running queue manager.
type Manager struct {
	// limits caches per-transport limits read from cfg.
	limitsMu sync.Mutex
	limits   map[string]int
	cfg      *config.Config
	log      *maillog.Logger
	q        *queue.Queue
	queueDir string
	settings settings
	// verify answers address verification requests (verify.go).
	verify   *verifier
	router   *router
	rewriter *addressRewriter
	checks   *contentChecks // nil without header_checks and friends
	// localMilters are non_smtpd_milters, for mail from sendmail, and
	// milterChecks milter_header_checks (nil: none).
	localMilters []*milters.Conf
	milterChecks *milters.HeaderChecks
	sched        *scheduler
	// cleanupBuffers lends cleanup its I/O buffers from one message to
	// the next.
	cleanupBuffers message.Buffers
	wg             sync.WaitGroup
}

// settings are the main.cf values the manager uses, read once at start.
type settings struct {
	myHostname, myOrigin string
	// keepOriginal is enable_original_recipient.
	keepOriginal bool
	// verpFilter is verp_delimiter_filter; verpBounces is
	// !disable_verp_bounces: a VERP message's recipients bounce one by
	// one, each to its VERP sender.
	verpFilter             string
	verpBounces            bool
	mailName               string
	minBackoff, maxBackoff time.Duration
	queueRunDelay          time.Duration
	maxLifetime            time.Duration
	bounceLifetime         time.Duration
	delayWarning           time.Duration
	confirmDelayCleared    bool // confirm_delay_cleared
	hopcountLimit          int
	headerSizeLimit        int
	dropHeaders            map[string]bool // message_drop_headers, lower case
	messageSizeLimit       int64
	bounceSizeLimit        int64 // bounce_size_limit
	doubleBounceSender     string
	bounceNoticeRecipient  string
	delayNoticeRecipient   string
	notifyBounce           bool // notify_classes has bounce: postmaster copies of bounces
	notifyDelay            bool // notify_classes has delay: postmaster copies of delay warnings
	doubleBounceRecipient  string
	emptyAddressRecipient  string
	processLimit           int
	localConcurrency       int
	defaultConcurrency     int
	initialConcurrency     int
	localRecipientLimit    int
	defaultRecipientLimit  int
	pickupWakeup           time.Duration
	agentTimeout           time.Duration
	contentFilter          string   // content_filter, for mail from sendmail
	receiveOverrides       []string // receive_override_options, for mail from sendmail
	activeLimit            int      // qmgr_message_active_limit
	obsoleteFrom           bool     // header_from_format = obsolete
	replaceStrayCR         bool     // cleanup_replace_stray_cr_lf
	undisclosed            string   // undisclosed_recipients_header
	mime                   message.MIMEChecks
	submitACL              *userACL // authorized_submit_users; nil: everyone
	// filterNotices is "notify" in internal_mail_filter_classes: smtpd's
	// postmaster notices go through header/body checks and
	// non_smtpd_milters like mail from sendmail.
	filterNotices bool
	// filterBounces is "bounce" there: delivery status notifications go
	// through them too (notify.go).
	filterBounces bool
	loginSenders  *loginSenders // local_login_sender_maps; nil: any sender
	flushACL      *userACL      // authorized_flush_users; nil: everyone
	mailqACL      *userACL      // authorized_mailq_users; nil: everyone
	// rejectChars and stripChars are message_reject_characters and
	// message_strip_characters; nil: none.
	rejectChars, stripChars *charSet
	// templates are bounce_template_file's; nil: tern's own texts.
	templates dsn.Templates
	// deferTransports is defer_transports: transports whose mail waits
	// until a flush (sendmail -q, postqueue -f and the partial forms).
	deferTransports map[string]bool
	// utf8Autodetect is smtputf8_autodetect_classes: the sources
	// ("sendmail", "smtpd", "forward", "notify", "all") whose mail asks for
	// SMTPUTF8 when its envelope or header has UTF-8.
	utf8Autodetect map[string]bool
	// smtputf8 is smtputf8_enable: with no, no message asks for
	// SMTPUTF8 (requests and autodetection are ignored), as in Postfix.
	smtputf8 bool
}

// mimeChecks reads the MIME limits and strict checks. A nesting problem
// is reported when a strict check or a header check is in use.
func mimeChecks(cfg *config.Config) message.MIMEChecks {
	all8 := cfg.Bool("strict_8bitmime")
	c := message.MIMEChecks{
		NestingLimit:   cfg.Int("mime_nesting_limit"),
		BoundaryLimit:  cfg.Int("mime_boundary_length_limit"),
		Header8Bit:     all8 || cfg.Bool("strict_7bit_headers"),
		Body8Bit:       all8 || cfg.Bool("strict_8bitmime_body"),
		EncodingDomain: cfg.Bool("strict_mime_encoding_domain"),
	}
	c.ReportNesting = c.Strict() || cfg.Get("header_checks") != "" || cfg.Get("mime_header_checks") != "" || cfg.Get("nested_header_checks") != ""
	return c
}

func loadSettings(cfg *config.Config) settings {
	s := settings{
		myHostname:            cfg.Get("myhostname"),
		myOrigin:              cfg.Get("myorigin"),
		keepOriginal:          cfg.Bool("enable_original_recipient"),
		verpFilter:            cfg.Get("verp_delimiter_filter"),
		verpBounces:           !cfg.Bool("disable_verp_bounces"),
		mailName:              cfg.Get("mail_name"),
		minBackoff:            cfg.Duration("minimal_backoff_time"),
		maxBackoff:            cfg.Duration("maximal_backoff_time"),
		queueRunDelay:         cfg.Duration("queue_run_delay"),
		maxLifetime:           cfg.Duration("maximal_queue_lifetime"),
		bounceLifetime:        cfg.Duration("bounce_queue_lifetime"),
		delayWarning:          cfg.Duration("delay_warning_time"),
		confirmDelayCleared:   cfg.Bool("confirm_delay_cleared"),
		hopcountLimit:         cfg.Int("hopcount_limit"),
		headerSizeLimit:       cfg.Int("header_size_limit"),
		dropHeaders:           lowerSet(cfg.List("message_drop_headers")),
		messageSizeLimit:      cfg.Int64("message_size_limit"),
		bounceSizeLimit:       cfg.Int64("bounce_size_limit"),
		doubleBounceSender:    cfg.Get("double_bounce_sender"),
		bounceNoticeRecipient: cfg.Get("bounce_notice_recipient"),
		delayNoticeRecipient:  cfg.Get("delay_notice_recipient"),
		doubleBounceRecipient: cfg.Get("2bounce_notice_recipient"),
		emptyAddressRecipient: cfg.Get("empty_address_recipient"),
		processLimit:          cfg.Int("default_process_limit"),
		localConcurrency:      cfg.Int("local_destination_concurrency_limit"),
		defaultConcurrency:    cfg.Int("default_destination_concurrency_limit"),
		initialConcurrency:    cfg.Int("initial_destination_concurrency"),
		localRecipientLimit:   cfg.Int("local_destination_recipient_limit"),
		defaultRecipientLimit: cfg.Int("default_destination_recipient_limit"),
		pickupWakeup:          60 * time.Second,
		agentTimeout:          cfg.Duration("command_time_limit") + time.Minute,
		contentFilter:         strings.TrimSpace(cfg.Get("content_filter")),
		filterNotices:         wordSet(cfg.List("internal_mail_filter_classes"))["notify"],
		filterBounces:         wordSet(cfg.List("internal_mail_filter_classes"))["bounce"],
		notifyBounce:          slices.Contains(cfg.List("notify_classes"), "bounce"),
		notifyDelay:           slices.Contains(cfg.List("notify_classes"), "delay"),
		receiveOverrides:      cfg.List("receive_override_options"),
		deferTransports:       map[string]bool{},
		activeLimit:           cfg.Int("qmgr_message_active_limit"),
		obsoleteFrom:          strings.EqualFold(strings.TrimSpace(cfg.Get("header_from_format")), "obsolete"),
		replaceStrayCR:        cfg.Bool("cleanup_replace_stray_cr_lf"),
		undisclosed:           strings.TrimSpace(cfg.Get("undisclosed_recipients_header")),
		mime:                  mimeChecks(cfg),
		utf8Autodetect:        wordSet(cfg.List("smtputf8_autodetect_classes")),
		smtputf8:              cfg.Bool("smtputf8_enable"),
	}
	for _, t := range cfg.List("defer_transports") {
		s.deferTransports[t] = true
	}
	if s.maxLifetime == 0 {
		// Postfix: a zero lifetime means a single delivery attempt.
		s.maxLifetime = time.Nanosecond
	}
	if s.processLimit <= 0 {
		s.processLimit = 100
	}
	return s
}

// Main is the entry of `tern daemon qmgr`.
func Main(args []string) int {
	d, err := daemon.Init("qmgr")
	if err != nil {
		fmt.Fprintf(os.Stderr, "tern/qmgr: fatal: %v\n", err)
		return 1
	}
	m, err := New(d.Config, d.Log)
	if err != nil {
		d.Log.Fatalf("%v", err)
		return 1
	}
	ctx, stop := daemon.SignalContext()
	defer stop()
	if err := m.Run(ctx, d.Listeners); err != nil {
		d.Log.Fatalf("%v", err)
		return 1
	}
	return 0
}

// New opens the queue and prepares a manager; Run starts it.
func New(cfg *config.Config, log *maillog.Logger) (*Manager, error) {
	dir := cfg.Get("queue_directory")
	delay := cfg.Duration("tern_queue_commit_delay")
	if delay <= 0 {
		delay = -1 // no window: batches form while the previous commit runs
	}
	q, err := queue.Open(dir, queue.Options{
		CommitDelay: delay,
		InlineLimit: cfg.Int64("tern_content_inline_limit"),
	})
	if err != nil {
		return nil, fmt.Errorf("open queue: %w", err)
	}
	m := &Manager{cfg: cfg, log: log, q: q, queueDir: dir, settings: loadSettings(cfg)}

	for _, l := range []struct {
		dst  **userACL
		name string
	}{
		{&m.settings.submitACL, "authorized_submit_users"},
		{&m.settings.flushACL, "authorized_flush_users"},
		{&m.settings.mailqACL, "authorized_mailq_users"},
	} {
		if *l.dst, err = parseUserACL(l.name, cfg.Get(l.name)); err != nil {
			q.Close()
			return nil, err
		}
	}
	if m.settings.loginSenders, err = newLoginSenders(cfg, maps.Options{}); err != nil {
		q.Close()
		return nil, err
	}
	if err := loadCharSets(cfg, &m.settings); err != nil {
		q.Close()
		return nil, err
	}
	if m.settings.templates, err = loadTemplates(cfg); err != nil {
		q.Close()
		return nil, err
	}
	m.router, err = newRouter(cfg, maps.Options{})
	if err != nil {
		q.Close()
		return nil, err
	}
	m.verify = newVerifier(m, cfg)
	if m.verify.router, err = verifyRouter(m, cfg); err != nil {
		q.Close()
		return nil, err
	}
	for _, w := range m.router.warnings {
		log.Warnf("%s", w)
	}
	m.rewriter, err = newAddressRewriter(cfg, log)
	if err != nil {
		m.router.close()
		q.Close()
		return nil, err
	}
	if m.localMilters, err = milters.Open(cfg, "non_smtpd_milters"); err != nil {
		m.rewriter.close()
		m.router.close()
		q.Close()
		return nil, err
	}
	if m.checks, err = newContentChecks(cfg); err != nil {
		m.rewriter.close()
		m.router.close()
		q.Close()
		return nil, err
	}
	if m.milterChecks, err = milters.OpenHeaderChecks(cfg.Get("milter_header_checks"), maps.Options{}); err != nil {
		m.rewriter.close()
		m.router.close()
		q.Close()
		return nil, err
	}
	m.sched = newScheduler(m)
	return m, nil
}

// Run serves the listeners (by master.cf service name: cleanup, pickup,
// showq, qmgr and the Postfix names folded into qmgr) and runs the
// scheduler until ctx is cancelled. Then it stops accepting, lets running
// deliveries finish, and closes the queue.
func (m *Manager) Run(ctx context.Context, listeners []daemon.Listener) error {
	defer m.q.Close()
	defer m.router.close()
	defer m.rewriter.close()
	defer m.checks.Close()
	m.openVerifyCache()
	defer m.verify.close()
	moved, err := m.q.Recover()
	if err != nil {
		return fmt.Errorf("queue recovery: %w", err)
	}
	if moved > 0 {
		m.log.Infof("recovered %d messages left active by an earlier run", moved)
	}
	counts := m.q.Counts()
	m.log.Infof("queue: %d incoming, %d deferred, %d hold, %d corrupt",
		counts[queue.Incoming], counts[queue.Deferred], counts[queue.Hold], counts[queue.Corrupt])
	if counts[queue.Incoming]+counts[queue.Deferred]+counts[queue.Hold] > largeListing {
		debug.FreeOSMemory() // recovery read every message
	}
	for _, l := range listeners {
		h := m.handlerFor(l.Name)
		if h == nil {
			// Postfix's bounce, defer, trace, trivial-rewrite, ... work
			// happens inside qmgr without a socket of its own.
			m.log.Infof("service %s: done inside qmgr; socket not used", l.Name)
			l.Close()
			continue
		}
		m.wg.Add(1)
		go func(l net.Listener, h ipc.Handler) {
			defer m.wg.Done()
			if err := ipc.Serve(ctx, l, ipcTimeout, h); err != nil {
				m.log.Errorf("accept: %v", err)
			}
		}(l.Listener, h)
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		m.pickupLoop(ctx)
	}()
	m.sched.run(ctx)
	m.wg.Wait()
	return nil
}

// openVerifyCache backs the address verification cache with the file
// address_verify_map names; without one the results are kept in memory,
// with a warning when the setting could not be honoured.
func (m *Manager) openVerifyCache() {
	path, err := verifyCachePath(m.cfg.Get("address_verify_map"))
	if err == nil && path != "" {
		err = m.verify.persist(path, m.log.Warnf)
	}
	if err != nil {
		m.log.Warnf("%v; address verification results are kept in memory only", err)
	}
}

// handlerFor maps a master.cf service name to the endpoint serving it.
func (m *Manager) handlerFor(service string) ipc.Handler {
	switch service {
	case "cleanup":
		return m.serveCleanup
	case "pickup":
		return m.servePickup
	case "showq":
		return m.serveShowq
	case "qmgr", "flush":
		return m.serveQmgr
	}
	return nil
}

// maildropDir is where sendmail leaves mail when qmgr is down.
func (m *Manager) maildropDir() string { return filepath.Join(m.queueDir, "maildrop") }

// agentSocket is the socket of a transport's delivery agent.
func (m *Manager) agentSocket(transport string) string {
	return daemon.ServiceSocket(m.queueDir, transport)
}

// lowerSet is the set of words, lower case; empty, not nil, for none.
func lowerSet(words []string) map[string]bool {
	set := make(map[string]bool, len(words))
	for _, w := range words {
		set[strings.ToLower(strings.TrimSpace(w))] = true
	}
	return set
}
