package sendmail

import (
	"cmp"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/ipc"
)

// enqueue reads a message from standard input and submits it.
func (r *runner) enqueue(o *options) error {
	var who string
	if o.senderSet {
		var malformed bool
		if who, malformed = senderOf(o.sender); malformed {
			r.warnf("-f option specified malformed sender: %s", o.sender)
		}
	}
	// The login name appears only in error messages: looking it up (the
	// password database) costs each successful call for nothing.
	prefix := func() string {
		login, uid := r.env.Whoami()
		if o.senderSet {
			login = who
		}
		return fmt.Sprintf("%s(%d)", login, uid)
	}
	if err := r.resolveVERP(o); err != nil {
		return err
	}
	rcpts := recipientsOf(o.args)
	if !o.extract && len(rcpts) == 0 {
		return fatal(ExUsage, "Recipient addresses must be specified on the command line or via the -t option")
	}
	in := newLineReader(r.env.Stdin)
	in.dotEnds, in.skipFrom = !o.ignoreDots, true
	var head []byte
	if o.verify {
		// -bv: no message is read; a stand-in carries the recipients.
		head = verifyMessage(rcpts)
		in = newLineReader(strings.NewReader(""))
	}
	if o.extract {
		var extracted []string
		var err error
		if head, extracted, err = readHeader(in); err != nil {
			return fatal(ExDataErr, "%s: error reading input: %v", prefix(), err)
		}
		rcpts = append(rcpts, extracted...)
		if len(rcpts) == 0 {
			return fatal(ExUsage, "%s: No recipient addresses found in message header", prefix())
		}
	}
	spoolDir := filepath.Join(r.env.QueueDirectory, MaildropDir)
	req := submitRequest(o, who, rcpts)
	if _, err := submitMessage(spoolDir, r.env.MessageSizeLimit, req, head, in, r.openSink); err != nil {
		var se *submitError
		if errors.As(err, &se) {
			return fatal(se.code, "%s: %s", prefix(), se.text)
		}
		return fatal(ExTempFail, "%s: %v", prefix(), err)
	}
	if trace(o) != "" {
		to := who
		if !o.senderSet {
			to, _ = r.env.Whoami()
		}
		fmt.Fprintf(r.env.Stdout, "Mail Delivery Status Report will be mailed to <%s>.\n", to)
	}
	return nil
}

// trace is the report that -bv or -v asks for: what delivery would do
// (nothing is delivered), or what the first delivery attempt did. More
// than one -v asks for nothing more.
func trace(o *options) string {
	switch {
	case o.verify:
		return envelope.TraceVerify
	case o.verbose > 0:
		return envelope.TraceRecord
	}
	return ""
}

// verifyMessage is the message that sendmail -bv submits in place of one
// read from standard input, as Postfix's: its headers name the
// recipients, and it has no body.
func verifyMessage(rcpts []string) []byte {
	var b strings.Builder
	b.WriteString("Subject: probe\n")
	if len(rcpts) > 0 {
		oneLine := strings.NewReplacer("\r", " ", "\n", " ")
		b.WriteString("To: " + oneLine.Replace(strings.Join(rcpts, ", ")) + "\n")
	}
	b.WriteString("\n")
	return []byte(b.String())
}

// resolveVERP gives -XV without delimiters default_verp_delimiters and
// checks them against verp_delimiter_filter, as Postfix's sendmail does.
func (r *runner) resolveVERP(o *options) error {
	if !o.verpSet {
		return nil
	}
	delims, filter := o.verp, r.env.VERPFilter
	if delims == "" {
		delims = cmp.Or(r.env.VERPDelimiters, "+=")
	}
	filter = cmp.Or(filter, "-=+")
	if !envelope.VERPDelimitersOK(delims, filter) {
		return fatal(ExUsage, "%s requires two characters from %s", o.verpFlag, filter)
	}
	o.verp = delims
	return nil
}

// submitRequest builds the pickup request record.
func submitRequest(o *options, sender string, rcpts []string) ipc.Record {
	req := ipc.Record{{Name: AttrRequest, Value: RequestSubmit}}
	if o.senderSet {
		req = req.Add(AttrSender, sender)
	}
	for _, rc := range rcpts {
		req = req.Add(AttrRcpt, rc)
	}
	optional := []ipc.Attr{
		{Name: AttrFullname, Value: o.fullname},
		{Name: AttrEnvID, Value: o.envid},
		{Name: AttrRet, Value: o.ret},
		{Name: AttrNotify, Value: o.notify},
		{Name: AttrVERP, Value: o.verp},
		{Name: AttrTrace, Value: trace(o)},
	}
	if o.smtputf8 {
		optional = append(optional, ipc.Attr{Name: AttrSMTPUTF8, Value: "1"})
	}
	for _, a := range optional {
		if a.Value != "" {
			req = append(req, a)
		}
	}
	return req
}
