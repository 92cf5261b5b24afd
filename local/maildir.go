package local

import (
	"errors"
	"io"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/mailbox"
)

// deliverMaildir writes the message into the Maildir job.Path with
// mailbox.DeliverMaildir, creating the Maildir when it is missing.
func deliverMaildir(job Job, body io.Reader) agent.Result {
	o := mailbox.Options{Prepend: job.Prepend, SizeLimit: job.SizeLimit}
	if err := mailbox.DeliverMaildir(job.Path, o, body); err != nil {
		return mailboxResult(err, "")
	}
	return agent.Result{Status: agent.OK, DSN: "2.0.0", Text: "delivered to maildir"}
}

// mailboxResult turns a mailbox package error into a result, its text
// after prefix.
func mailboxResult(err error, prefix string) agent.Result {
	var me *mailbox.Error
	if errors.As(err, &me) {
		return resultFor(me.DSN, prefix+me.Text)
	}
	return resultFor("4.3.0", prefix+err.Error())
}
