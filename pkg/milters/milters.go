// Package milters asks mail filters that speak Sendmail's milter protocol
// (Postfix's smtpd_milters and non_smtpd_milters) about a message, with
// github.com/d--j/go-milter's client. smtpd holds a Conversation (live.go)
// with them through an SMTP session, each stage as its command comes.
// For mail from sendmail, Filter replays the connection, HELO, MAIL FROM
// and RCPT TO stages to each milter in turn once the content is in. Both
// keep the content in a Spool, send the header and body, and apply the
// milters' decisions and changes to a Message, which the caller then
// queues.
package milters

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/d--j/go-milter"
	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/reply"
)

// Conf is one smtpd_milters entry.
type Conf struct {
	name          string // as written, for logs
	address       string // what the client dials: host:port, or a socket's path
	client        *milter.Client
	defaultAction string // milter_default_action: accept, reject, tempfail or quarantine
	// macroDefaults is milter_macro_defaults: values of macros the
	// session has none for.
	macroDefaults map[milter.MacroName]string
}

// Address is what the milter's client dials: host:port, or a unix
// socket's path (a relative unix: path taken from queue_directory).
func (c *Conf) Address() string { return c.address }

// Milter failure replies, as Postfix words them.
var (
	ReplyTempfail = reply.New(reply.CodeLocalError, "4.7.1", "Service unavailable - try again later")
	ReplyReject   = reply.New(550, "5.7.1", "Command rejected")
)

// Open reads smtpd_milters: inet:host:port or unix:/path entries, or
// Postfix 3's braced form { server, default_action=..., connect_timeout=...,
// command_timeout=..., content_timeout=..., protocol=... }.
func Open(cfg *config.Config, param string) ([]*Conf, error) {
	return OpenList(cfg, param, cfg.Get(param))
}

// OpenList reads a milter list in smtpd_milters' syntax from value, as
// smtpd_milter_maps gives one; param names it in errors.
func OpenList(cfg *config.Config, param, value string) ([]*Conf, error) {
	specs, err := maps.SplitSpecs(value)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", param, err)
	}
	var out []*Conf
	for _, spec := range specs {
		m, err := newConf(cfg, spec)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", param, spec, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// milterDefaults are the main.cf settings an entry may override.
type milterSettings struct {
	defaultAction             string
	connect, command, content time.Duration
	protocol                  uint32
}

func newConf(cfg *config.Config, spec string) (*Conf, error) {
	set := milterSettings{
		defaultAction: cfg.Get("milter_default_action"),
		connect:       cfg.Duration("milter_connect_timeout"),
		command:       cfg.Duration("milter_command_timeout"),
		content:       cfg.Duration("milter_content_timeout"),
	}
	if _, err := fmt.Sscan(cfg.Get("milter_protocol"), &set.protocol); err != nil {
		return nil, fmt.Errorf("milter_protocol = %s: need a number", cfg.Get("milter_protocol"))
	}
	server := spec
	if strings.HasPrefix(spec, "{") {
		inner, ok := strings.CutSuffix(strings.TrimSpace(spec[1:]), "}")
		if !ok {
			return nil, fmt.Errorf("missing }")
		}
		items := strings.FieldsFunc(inner, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' })
		if len(items) == 0 {
			return nil, fmt.Errorf("no milter server")
		}
		server = items[0]
		for _, item := range items[1:] {
			if err := set.apply(item); err != nil {
				return nil, err
			}
		}
	}
	switch set.defaultAction {
	case "accept", "reject", "tempfail", "quarantine":
	default:
		return nil, fmt.Errorf("default action %q: need accept, reject, tempfail or quarantine", set.defaultAction)
	}
	if set.protocol < 2 || set.protocol > 6 {
		return nil, fmt.Errorf("protocol %d: tern speaks milter protocols 2 to 6", set.protocol)
	}
	network, address, err := milterAddress(server, cfg.Get("queue_directory"))
	if err != nil {
		return nil, err
	}
	// One timeout bounds each read and write; a milter may take
	// milter_content_timeout over the message content.
	timeout := max(set.command, set.content)
	opts := []milter.Option{milter.WithDialer(&net.Dialer{Timeout: set.connect}),
		milter.WithReadTimeout(timeout), milter.WithWriteTimeout(timeout),
		milter.WithMaximumVersion(set.protocol)}
	if set.protocol < 6 {
		opts = append(opts, milter.WithProtocols(protocolMask(set.protocol)),
			milter.WithActions(milter.OptAddHeader|milter.OptChangeBody|milter.OptAddRcpt|milter.OptRemoveRcpt|milter.OptChangeHeader|milter.OptQuarantine))
	}
	defaults, err := ParseMacroDefaults(cfg.Get("milter_macro_defaults"))
	if err != nil {
		return nil, err
	}
	opts = append(opts, macroOptions(cfg)...)
	client := milter.NewClient(network, address, opts...)
	return &Conf{name: server, address: address, client: client, defaultAction: set.defaultAction, macroDefaults: defaults}, nil
}

// protocolMask is what an MTA may ask a milter to skip in protocol
// versions 2 to 5 (version 6 has more, the library's default).
func protocolMask(version uint32) milter.OptProtocol {
	mask := milter.OptNoConnect | milter.OptNoHelo | milter.OptNoMailFrom | milter.OptNoRcptTo |
		milter.OptNoBody | milter.OptNoHeaders | milter.OptNoEOH
	if version >= 3 {
		mask |= milter.OptNoUnknown
	}
	if version >= 4 {
		mask |= milter.OptNoData
	}
	return mask
}

// apply sets one name=value of the braced form.
func (s *milterSettings) apply(item string) error {
	name, value, ok := strings.Cut(item, "=")
	if !ok {
		return fmt.Errorf("%q: need name=value", item)
	}
	durations := map[string]*time.Duration{"connect_timeout": &s.connect, "command_timeout": &s.command, "content_timeout": &s.content}
	switch {
	case durations[name] != nil:
		d, err := config.ParseDuration(value, "s")
		if err != nil || d <= 0 {
			return fmt.Errorf("%s=%s: need a time", name, value)
		}
		*durations[name] = d
	case name == "default_action":
		s.defaultAction = value
	case name == "protocol":
		if _, err := fmt.Sscan(value, &s.protocol); err != nil {
			return fmt.Errorf("protocol=%s: need a number", value)
		}
	default:
		return fmt.Errorf("unknown setting %q", name)
	}
	return nil
}

// milterAddress turns inet:host:port or unix:path into a network and an
// address; a relative unix path is in queue_directory.
func milterAddress(server, queueDir string) (network, address string, err error) {
	typ, rest, ok := strings.Cut(server, ":")
	switch {
	case !ok || rest == "":
	case typ == "inet" && strings.Contains(rest, ":"):
		return "tcp", rest, nil
	case typ == "unix" || typ == "local":
		if !filepath.IsAbs(rest) {
			rest = filepath.Join(queueDir, rest)
		}
		return "unix", rest, nil
	}
	return "", "", fmt.Errorf("bad milter server %q: need inet:host:port or unix:/path", server)
}

// Field is one header field of a message under milter inspection:
// its name and its value after the colon and the blanks that follow it,
// continuation lines joined with "\n".
type Field struct {
	name, value string
	byMilter    bool // added or changed by a milter (milter_header_checks)
}

// Message is a message as milters see and change it.
type Message struct {
	Sender string
	Rcpts  []envelope.Recipient
	Header []Field
	// The body is the spool's content from offset on, until a milter
	// replaces it with newBody.
	Spool   *Spool
	offset  int64
	newBody *bytes.Buffer
	Hold    bool // a milter quarantined it
	Discard bool // a milter discarded it
	// Filter and Redirect are the FILTER and REDIRECT actions of
	// milter_header_checks ("" for none).
	Filter, Redirect string
}

// NewMessage is the message in sp, sent by sender to rcpts, as milters
// are to see it.
func NewMessage(sender string, rcpts []envelope.Recipient, sp *Spool) (*Message, error) {
	header, offset, err := ParseHeader(sp.Reader(0))
	if err != nil {
		return nil, err
	}
	return &Message{Sender: sender, Rcpts: rcpts, Header: header, Spool: sp, offset: offset}, nil
}

// body returns a fresh reader over the body.
func (msg *Message) body() io.Reader {
	if msg.newBody != nil {
		return bytes.NewReader(msg.newBody.Bytes())
	}
	return msg.Spool.Reader(msg.offset)
}

// ParseHeader reads the header block of content (CRLF or LF line ends),
// and returns its fields and the offset where the body starts.
func ParseHeader(r io.Reader) ([]Field, int64, error) {
	br := bufio.NewReader(r)
	var fields []Field
	var n int64
	for {
		line, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			return nil, 0, err
		}
		text := strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			return fields, n, nil
		case text == "":
			return fields, n + int64(len(line)), nil
		case (text[0] == ' ' || text[0] == '\t') && len(fields) > 0:
			fields[len(fields)-1].value += "\n" + text
		default:
			name, value, ok := strings.Cut(text, ":")
			if !ok || name == "" || strings.ContainsAny(name, " \t") {
				return fields, n, nil // the body starts without a blank line
			}
			fields = append(fields, Field{name: name, value: strings.TrimLeft(value, " \t")})
		}
		n += int64(len(line))
		if err == io.EOF {
			return fields, n, nil
		}
	}
}

// Client is what the session tells milters about the connection.
type Client struct {
	Name, Helo string
	Addr       netip.Addr
	Port       uint16
}

// Run shows msg to one milter and applies its answer. It returns a
// rejection, or the zero reply.
func (m *Conf) Run(c Client, msg *Message, macros *milter.MacroBag) (reply.Reply, error) {
	cs, err := m.client.Session(m.withDefaults(macros))
	if err != nil {
		return reply.Reply{}, err
	}
	defer cs.Close()
	family := milter.FamilyInet
	if c.Addr.Is6() && !c.Addr.Is4In6() {
		family = milter.FamilyInet6
	}
	steps := []func() (*milter.Action, error){
		func() (*milter.Action, error) { return cs.Conn(c.Name, family, c.Port, c.Addr.Unmap().String()) },
		func() (*milter.Action, error) { return cs.Helo(c.Helo) },
		func() (*milter.Action, error) { return cs.Mail("<"+msg.Sender+">", "") },
	}
	for _, rc := range msg.Rcpts {
		steps = append(steps, func() (*milter.Action, error) {
			macros.Set(milter.MacroRcptAddr, rc.Address)
			if i := strings.LastIndexByte(rc.Address, '@'); i >= 0 {
				macros.Set(milter.MacroRcptHost, rc.Address[i+1:])
			}
			return cs.Rcpt("<"+rc.Address+">", "")
		})
	}
	for _, step := range steps {
		act, err := step()
		if err != nil {
			return reply.Reply{}, err
		}
		if done, r := m.decide(act, msg); done {
			return r, nil
		}
	}
	return m.content(cs, msg)
}

// content shows msg's header and body to the milter of cs, whose
// envelope stages are done, and applies its answer: a rejection, or the
// zero reply. The session is then ready for another message.
func (m *Conf) content(cs *milter.ClientSession, msg *Message) (reply.Reply, error) {
	steps := []func() (*milter.Action, error){cs.DataStart}
	for _, h := range msg.Header {
		steps = append(steps, func() (*milter.Action, error) { return cs.HeaderField(h.name, h.value, nil) })
	}
	steps = append(steps, cs.HeaderEnd)
	for _, step := range steps {
		act, err := step()
		if err != nil {
			return reply.Reply{}, err
		}
		if done, r := m.decide(act, msg); done {
			_ = cs.Abort(nil) // no end of message follows: reset the session
			return r, nil
		}
	}
	mods, act, err := cs.BodyReadFrom(msg.body())
	if err != nil {
		return reply.Reply{}, err
	}
	if _, r := m.decide(act, msg); !r.IsZero() || msg.Discard {
		return r, nil
	}
	applyModifications(msg, mods)
	return reply.Reply{}, nil
}

// decide reads a milter's answer to a stage: done is true when the
// milter has nothing more to say about the message (it accepted,
// discarded or rejected it), with r its rejection.
func (m *Conf) decide(act *milter.Action, msg *Message) (done bool, r reply.Reply) {
	switch act.Type {
	case milter.ActionAccept:
		return true, reply.Reply{}
	case milter.ActionDiscard:
		msg.Discard = true
		return true, reply.Reply{}
	case milter.ActionReject:
		return true, ReplyReject
	case milter.ActionTempFail:
		return true, ReplyTempfail
	case milter.ActionRejectWithCode:
		return true, milterReply(act)
	}
	return false, reply.Reply{}
}

// milterReply turns a milter's own reply ("550 5.7.1 text") into a reply.
func milterReply(act *milter.Action) reply.Reply {
	text := strings.TrimSpace(act.SMTPReply)
	if len(text) >= 4 && text[3] == ' ' || len(text) >= 4 && text[3] == '-' {
		text = strings.TrimSpace(text[4:])
	}
	dsn := fmt.Sprintf("%d.7.1", act.SMTPCode/100)
	if first, rest, ok := strings.Cut(text, " "); ok && len(first) >= 5 && (first[0] == '4' || first[0] == '5') && first[1] == '.' {
		dsn, text = first, rest
	}
	text = strings.ReplaceAll(strings.ReplaceAll(text, "\r", ""), "\n", " ")
	return reply.New(int(act.SMTPCode), dsn, "%s", text)
}

// applyModifications applies a milter's changes at the end of the
// message.
func applyModifications(msg *Message, mods []milter.ModifyAction) {
	replaced := false // this milter's body chunks replace the body together
	for _, mod := range mods {
		switch mod.Type {
		case milter.ActionChangeFrom:
			msg.Sender = strings.Trim(mod.From, "<>")
		case milter.ActionAddRcpt:
			a := strings.Trim(mod.Rcpt, "<>")
			msg.Rcpts = append(msg.Rcpts, envelope.Recipient{Address: a, Original: a})
		case milter.ActionDelRcpt:
			msg.deleteRcpt(strings.Trim(mod.Rcpt, "<>"))
		case milter.ActionAddHeader:
			msg.Header = append(msg.Header, Field{mod.HeaderName, mod.HeaderValue, true})
		case milter.ActionInsertHeader:
			i := min(int(mod.HeaderIndex), len(msg.Header))
			msg.Header = append(msg.Header[:i], append([]Field{{mod.HeaderName, mod.HeaderValue, true}}, msg.Header[i:]...)...)
		case milter.ActionChangeHeader:
			msg.changeHeader(mod.HeaderName, int(mod.HeaderIndex), mod.HeaderValue)
		case milter.ActionReplaceBody:
			if !replaced {
				msg.newBody, replaced = &bytes.Buffer{}, true
			}
			msg.newBody.Write(mod.Body)
		case milter.ActionQuarantine:
			msg.Hold = true
		}
	}
}

// deleteRcpt removes the recipients with address a.
func (msg *Message) deleteRcpt(a string) {
	out := msg.Rcpts[:0]
	for _, rc := range msg.Rcpts {
		if !strings.EqualFold(rc.Address, a) {
			out = append(out, rc)
		}
	}
	msg.Rcpts = out
}

// changeHeader changes (or, with an empty value, deletes) the index-th
// field named name (1-based); past the last one it adds a field.
func (msg *Message) changeHeader(name string, index int, value string) {
	n := 0
	for i, h := range msg.Header {
		if !strings.EqualFold(h.name, name) {
			continue
		}
		if n++; n == index {
			if value == "" {
				msg.Header = append(msg.Header[:i], msg.Header[i+1:]...)
			} else {
				msg.Header[i].value, msg.Header[i].byMilter = value, true
			}
			return
		}
	}
	if value != "" {
		msg.Header = append(msg.Header, Field{name, value, true})
	}
}

// Write writes the (changed) message: the header fields, a blank line
// and the body, with CRLF line ends in the header.
func (msg *Message) Write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, h := range msg.Header {
		value := strings.ReplaceAll(strings.ReplaceAll(h.value, "\r\n", "\n"), "\n", "\r\n")
		sep := ": "
		if value != "" && (value[0] == ' ' || value[0] == '\t') {
			sep = ":" // a milter's value that starts with its own blank, as Postfix writes it
		}
		fmt.Fprintf(bw, "%s%s%s\r\n", h.name, sep, value)
	}
	bw.WriteString("\r\n")
	if _, err := io.Copy(bw, msg.body()); err != nil {
		return fmt.Errorf("read spooled message: %w", err)
	}
	return bw.Flush()
}

// Filter shows a message to each milter of list in turn, each seeing the
// changes of those before it, and returns the message as they left it,
// or the rejection to give. A milter that fails gets its default action;
// warn receives the failure.
func Filter(list []*Conf, c Client, sender string, rcpts []envelope.Recipient, sp *Spool, macros *milter.MacroBag, warn func(format string, args ...any)) (*Message, reply.Reply) {
	msg, err := NewMessage(sender, rcpts, sp)
	if err != nil {
		return nil, reply.New(reply.CodeLocalError, reply.StatusTempSystem, "Error: queue file write error")
	}
	for _, m := range list {
		r, err := m.Run(c, msg, macros)
		if err != nil {
			warn("milter %s: %v", m.name, err)
			if r = m.failure(msg); !r.IsZero() {
				return msg, r
			}
			continue
		}
		if !r.IsZero() || msg.Discard {
			return msg, r
		}
	}
	return msg, reply.Reply{}
}

// failure applies milter_default_action to a milter that could not be
// asked: accept goes on without it.
func (m *Conf) failure(msg *Message) reply.Reply {
	switch m.defaultAction {
	case "reject":
		return ReplyReject
	case "quarantine":
		msg.Hold = true
		return reply.Reply{}
	case "accept":
		return reply.Reply{}
	}
	return ReplyTempfail
}
