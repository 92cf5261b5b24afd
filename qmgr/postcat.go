package qmgr

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/ipc"
	"github.com/tern-mta/tern/pkg/queue"
)

// serveShow answers "tern queue show" (postcat -q): one message's
// envelope and content, in the layout of Postfix's postcat, for the
// superuser and qmgr's own user only, as Postfix's queue files are.
func (m *Manager) serveShow(ctx context.Context, c *ipc.Conn, req ipc.Record) {
	cred, err := ipc.PeerCred(c.NetConn())
	if err != nil || (cred.UID != 0 && int(cred.UID) != os.Geteuid()) {
		m.log.Warnf("refusing to show a queued message to uid %d: not the superuser", cred.UID)
		adminError(c, "permission denied: only the superuser may read queued mail")
		return
	}
	id := req.Get("id")
	env, state, err := m.q.Get(id)
	if err != nil {
		text := "internal error: " + err.Error()
		if errors.Is(err, queue.ErrNotFound) {
			text = id + ": no such message in the queue"
		}
		adminError(c, text)
		return
	}
	content, _, err := m.q.Content(id)
	if err != nil {
		adminError(c, fmt.Sprintf("%s: content: %v", id, err))
		return
	}
	defer content.Close()
	if err := c.Send(ipc.FrameReply, ipc.Record{{Name: attrStatus, Value: "ok"}}); err != nil {
		return
	}
	w := c.BodyWriter()
	bw := bufio.NewWriter(w)
	place := string(state) + "/" + id
	if m.sched.activeIDs()[id] {
		place = "active/" + id
	}
	writeEnvelope(bw, env, place)
	fmt.Fprintf(bw, "*** MESSAGE CONTENTS %s ***\n", place)
	if _, err := io.Copy(bw, content); err != nil {
		m.log.Warnf("%s: show: %v", id, err)
	}
	fmt.Fprintf(bw, "*** MESSAGE FILE END %s ***\n", place)
	bw.Flush()
	w.Close()
}

// writeEnvelope writes env as postcat's envelope records, one
// "name: value" line each.
func writeEnvelope(w io.Writer, env *envelope.Envelope, place string) {
	fmt.Fprintf(w, "*** ENVELOPE RECORDS %s ***\n", place)
	line := func(name, value string) {
		if value != "" {
			fmt.Fprintf(w, "%s: %s\n", name, value)
		}
	}
	line("message_size", fmt.Sprint(env.Size))
	line("message_arrival_time", env.Arrival.Format(time.ANSIC))
	line("sender", env.Sender)
	if env.Sender == "" {
		line("sender", "<>")
	}
	line("log_client_name", env.ClientName)
	line("log_client_address", env.ClientAddr)
	line("log_helo_name", env.Helo)
	line("log_protocol_name", env.Protocol)
	line("submit_user", env.SubmitUser)
	line("dsn_envid", env.EnvID)
	line("dsn_ret", env.Ret)
	line("content_filter", env.Filter)
	if env.Attempts > 0 {
		line("delivery_attempts", fmt.Sprint(env.Attempts))
		line("next_attempt_time", env.NextAttempt.Format(time.ANSIC))
	}
	for _, rc := range env.Recipients {
		if rc.Original != "" && !strings.EqualFold(rc.Original, rc.Address) {
			line("original_recipient", rc.Original)
		}
		line("dsn_orig_rcpt", rc.ORcpt)
		line("dsn_notify", rc.Notify)
		line(recipientRecord(rc.Status), rc.Address)
		if rc.Reason != "" {
			line("reason", strings.TrimSpace(rc.DSN+" "+rc.Reason))
		}
	}
}

// recipientRecord names a recipient line by its state, as postcat shows
// a finished recipient as "done_recipient".
func recipientRecord(s envelope.RcptStatus) string {
	if s == envelope.Pending {
		return "recipient"
	}
	return "done_recipient"
}
