package smtpd

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/daemon"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/ipc"
	"github.com/tern-mta/tern/pkg/message"
	"github.com/tern-mta/tern/pkg/reply"
)

// Postmaster notices (Postfix's notify_classes): when a session meets a
// problem of a class notify_classes names, smtpd mails
// error_notice_recipient a transcript of it at its end, as Postfix's smtpd
// does: "protocol" for commands the client got wrong (500 to 504
// replies), "policy" for refusals by the restrictions, milters or a
// before-queue filter, "resource" for a queue that could not take the
// message (full, or failing to write), and "software" for other
// failures of the mail system.

// Problem classes of a session, as bits.
const (
	problemProtocol = 1 << iota
	problemPolicy
	problemResource
	problemSoftware
)

// problemClasses maps the notify_classes words smtpd reports on to their
// bits.
var problemClasses = map[string]int{"protocol": problemProtocol, "policy": problemPolicy,
	"resource": problemResource, "software": problemSoftware}

// noticeSettings are what the notices need from main.cf.
type noticeSettings struct {
	classes   int    // the problemClasses notify_classes names
	recipient string // error_notice_recipient, qualified
	sender    string // $double_bounce_sender@$myorigin: notices never loop
	mailName  string // mail_name, in the Subject
	history   int    // smtpd_history_flush_threshold
}

// loadNoticeSettings reads notify_classes and the notices' addresses.
func loadNoticeSettings(cfg *config.Config) noticeSettings {
	origin := cfg.Get("myorigin")
	qualify := func(a string) string {
		if a = strings.TrimSpace(a); a != "" && !strings.Contains(a, "@") {
			a += "@" + origin
		}
		return a
	}
	n := noticeSettings{recipient: qualify(cfg.Get("error_notice_recipient")), sender: qualify(cfg.Get("double_bounce_sender")),
		mailName: cfg.Get("mail_name"), history: cfg.Int("smtpd_history_flush_threshold")}
	for _, c := range cfg.List("notify_classes") {
		n.classes |= problemClasses[strings.ToLower(c)]
	}
	if n.history <= 0 {
		n.history = 100
	}
	return n
}

// turn is one command or reply of the transcript, kept as it came: the
// notice writes the "In:" and "Out:" lines only if one is sent.
type turn struct {
	out  bool
	text string // a command line, or a reply's lines with their CRLFs
}

// record adds a command line to the session's transcript, when notices
// are on.
func (s *session) record(line string) {
	if s.srv.set.notice.classes != 0 {
		s.transcript = append(s.transcript, turn{text: line})
	}
}

// flushHistory drops the transcript when it has grown past
// smtpd_history_flush_threshold, as Postfix does at EHLO, RSET and the end
// of a message, so that a long session does not hold it all.
func (s *session) flushHistory() {
	if len(s.transcript) > s.srv.set.notice.history {
		s.transcript = s.transcript[:0]
	}
}

// noteReply records a reply (r, as lines on the wire) in the transcript
// and the problem class it shows.
func (s *session) noteReply(r reply.Reply, lines string) {
	if s.srv.set.notice.classes == 0 {
		return
	}
	s.transcript = append(s.transcript, turn{out: true, text: lines})
	switch {
	case r.Code >= 500 && r.Code <= 504:
		s.problems |= problemProtocol
	case r.Enhanced == reply.StatusTempFull || strings.Contains(r.Text, "queue file write error"):
		s.problems |= problemResource
	case r.Temporary() && (r.Enhanced == reply.StatusTempSystem || r.Enhanced == "4.3.5"):
		s.problems |= problemSoftware
	}
}

// transcriptLines writes the transcript as Postfix's notices show it.
func transcriptLines(ts []turn) []string {
	var out []string
	for _, t := range ts {
		if !t.out {
			out = append(out, " In:  "+t.text)
			continue
		}
		for _, l := range strings.Split(strings.TrimSuffix(t.text, "\r\n"), "\r\n") {
			out = append(out, " Out: "+l)
		}
	}
	return out
}

// sendNotice mails the transcript to error_notice_recipient when the
// session met a problem of a class notify_classes names.
func (s *session) sendNotice() {
	n := s.srv.set.notice
	if s.problems&n.classes == 0 || len(s.transcript) == 0 {
		return
	}
	if err := s.srv.submitNotice(n, s.client.String(), transcriptLines(s.transcript)); err != nil {
		s.srv.log.Warnf("notice to %s about %s: %v", n.recipient, s.client, err)
	}
}

// submitNotice queues a transcript notice through qmgr's cleanup service.
func (srv *Server) submitNotice(n noticeSettings, client string, transcript []string) error {
	env := envelope.Envelope{Sender: n.sender, SubmitUID: os.Geteuid()}
	req := ipc.Record{{Name: "request", Value: "submit"}, {Name: "origin", Value: "notice"}}
	req = append(req, env.Record()...)
	req = req.Add("rcpt", envelope.RcptRecord(envelope.Recipient{Address: n.recipient, Original: n.recipient}))
	var b strings.Builder
	fmt.Fprintf(&b, "From: Mail Delivery System <%s>\n", n.sender)
	fmt.Fprintf(&b, "To: Postmaster <%s>\n", n.recipient)
	fmt.Fprintf(&b, "Subject: %s SMTP server: errors from %s\n", n.mailName, client)
	fmt.Fprintf(&b, "Date: %s\nAuto-Submitted: auto-generated\n\n", message.FormatDate(time.Now()))
	b.WriteString("Transcript of session follows.\n\n")
	for _, l := range transcript {
		b.WriteString(l + "\n")
	}
	b.WriteString("\nFor other details, see the local mail logfile\n")
	path := daemon.ServiceSocket(srv.set.queueDir, "cleanup")
	c, err := ipc.Dial(path, cleanupTimeout)
	if err != nil {
		return fmt.Errorf("connect to %s: %w", path, err)
	}
	defer c.Close()
	if err := c.WriteFrame(ipc.FrameRequest, req.Encode(nil)); err != nil {
		return err
	}
	w := c.BodyWriter()
	if _, err := w.Write([]byte(b.String())); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	r, err := c.Receive(ipc.FrameReply)
	if err != nil {
		return err
	}
	if r.Get("status") != "ok" {
		return fmt.Errorf("not queued: %s", r.Get("text"))
	}
	return nil
}
