// Package pipe is tern's pipe(8) delivery agent: it hands messages to an
// external command named in master.cf, as Postfix's pipe does for
// dovecot-lda, maildrop, mailman and content filters
//
//	dovecot unix - n n - - pipe
//	  flags=DRhu user=vmail:vmail argv=/usr/lib/dovecot/deliver -f ${sender} -d ${recipient}
//
// The command runs as user=, without a shell, with the message on its
// standard input; its exit status decides each recipient's fate
// (pkg/command).
package pipe

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/command"
	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/envelope"
)

// Agent delivers through one pipe service's command.
type Agent struct {
	Set Settings
	// Service is the master.cf service name, for the result text.
	Service string
	// TimeLimit is <service>_time_limit (default command_time_limit).
	TimeLimit time.Duration
	// Delimiter is recipient_delimiter, for ${user} and ${extension}.
	Delimiter string
	// Env is the command's environment (export_environment).
	Env []string

	userMu sync.Mutex // guards Set's user fields while resolveUser runs
}

// resolveUser makes sure user= resolves before a delivery; see
// Settings.Resolve.
func (a *Agent) resolveUser() error {
	a.userMu.Lock()
	defer a.userMu.Unlock()
	return a.Set.Resolve()
}

// Deliver implements agent.Deliverer. With flags D or O each recipient
// gets a run of its own, as its header names it; otherwise one run serves
// all, a recipient argument repeated for each.
func (a *Agent) Deliver(ctx context.Context, req *agent.Request) []agent.Result {
	out := make([]agent.Result, len(req.Recipients))
	if err := a.resolveUser(); err != nil {
		for i := range out {
			out[i] = agent.Deferf("4.3.0", "mail transport unavailable: service %s: %v", a.Service, err)
		}
		return out
	}
	if req.Env.Verifying() {
		// Address verification: the command would be run; run nothing.
		for i := range out {
			out[i] = agent.Result{Status: agent.OK, DSN: "2.0.0", Text: "delivers to command: " + a.Service}
		}
		return out
	}
	if lim := a.Set.SizeLimit; lim > 0 && req.Body.Size() > lim {
		for i := range out {
			out[i] = agent.Bouncef("5.2.3", "message too large for the %s service (size limit %d)", a.Service, lim)
		}
		return out
	}
	if a.Set.has('D') || a.Set.has('O') {
		for i, rc := range req.Recipients {
			out[i] = a.run(ctx, req, []envelope.Recipient{rc})
		}
		return out
	}
	r := a.run(ctx, req, req.Recipients)
	for i := range out {
		out[i] = r
	}
	return out
}

// run runs the command once for rcpts.
func (a *Agent) run(ctx context.Context, req *agent.Request, rcpts []envelope.Recipient) agent.Result {
	argv := a.expandArgv(req, rcpts)
	label := strings.Join(argv, " ")
	limit := a.TimeLimit
	if limit <= 0 {
		limit = 1000 * time.Second
	}
	cctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cmd := exec.CommandContext(cctx, argv[0], argv[1:]...)
	cmd.Env, cmd.Dir = a.Env, a.Set.Directory
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if os.Geteuid() == 0 {
		a.userMu.Lock()
		uid, gid := a.Set.UID, a.Set.GID
		a.userMu.Unlock()
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	output := &command.Output{}
	cmd.Stdout, cmd.Stderr = output, output
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return command.StartFailure(err, label)
	}
	if err := cmd.Start(); err != nil {
		return command.StartFailure(err, label)
	}
	wrote := make(chan error, 1)
	go func() {
		err := a.writeMessage(stdin, req, rcpts)
		stdin.Close()
		wrote <- err
	}()
	waitErr := cmd.Wait()
	writeErr := <-wrote
	res := command.Result(ctx, cctx, label, waitErr, writeErr, output.Text(), "delivered via "+a.Service+" service")
	res.Relay = a.Service
	return res
}

// writeMessage writes the message as the flags ask: the From_ line (F),
// Return-Path (R), X-Original-To (O) and Delivered-To (D) headers, then
// the content with ">From " quoting (>), dot stuffing (.) and a final
// blank line (B), each line ended with eol=.
func (a *Agent) writeMessage(w io.Writer, req *agent.Request, rcpts []envelope.Recipient) error {
	s := &a.Set
	bw := bufio.NewWriterSize(w, 64<<10)
	eol := s.EOL
	sender := req.Env.Sender
	if s.has('F') {
		from := sender
		if from == "" {
			from = "MAILER-DAEMON"
		}
		bw.WriteString("From " + from + "  " + time.Now().Format("Mon Jan _2 15:04:05 2006") + eol)
	}
	if s.has('R') {
		bw.WriteString("Return-Path: <" + sender + ">" + eol)
	}
	if s.has('O') && len(rcpts) == 1 {
		orig := rcpts[0].Original
		if orig == "" {
			orig = rcpts[0].Address
		}
		bw.WriteString("X-Original-To: " + orig + eol)
	}
	if s.has('D') && len(rcpts) == 1 {
		bw.WriteString("Delivered-To: " + rcpts[0].Address + eol)
	}
	br := bufio.NewReaderSize(agent.Reader(req.Body), 64<<10)
	atStart := true
	for {
		chunk, err := br.ReadSlice('\n')
		if len(chunk) > 0 {
			line := chunk
			ended := line[len(line)-1] == '\n'
			if ended {
				line = line[:len(line)-1]
			}
			if atStart && s.has('.') && len(line) > 0 && line[0] == '.' {
				bw.WriteByte('.')
			}
			if atStart && s.has('>') && strings.HasPrefix(string(line), "From ") {
				bw.WriteByte('>')
			}
			bw.Write(line)
			if ended {
				bw.WriteString(eol)
			}
			atStart = ended
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read message: %w", err)
		}
	}
	if !atStart {
		bw.WriteString(eol)
	}
	if s.has('B') {
		bw.WriteString(eol)
	}
	return bw.Flush()
}

// recipientMacros are the names that stand for one recipient: an argument
// that uses one is repeated for each recipient of a run.
var recipientMacros = []string{"recipient", "original_recipient", "user", "extension", "mailbox", "domain"}

// expandArgv expands the $macros of the command line for a run.
func (a *Agent) expandArgv(req *agent.Request, rcpts []envelope.Recipient) []string {
	base := a.messageVars(req)
	var out []string
	for i, arg := range a.Set.Argv {
		if i == 0 || !usesAny(arg, recipientMacros) {
			out = append(out, expand(arg, base))
			continue
		}
		for _, rc := range rcpts {
			vars := a.recipientVars(rc, base)
			out = append(out, expand(arg, vars))
		}
	}
	return out
}

// messageVars are the macros of the message and the request.
func (a *Agent) messageVars(req *agent.Request) map[string]string {
	env := req.Env
	sender := env.Sender
	if sender == "" {
		sender = a.Set.NullSender
	} else if a.Set.has('q') {
		sender = quoteLocal(sender)
	}
	nexthop := req.Nexthop
	if a.Set.has('h') {
		nexthop = strings.ToLower(nexthop)
	}
	return map[string]string{
		"sender": sender, "nexthop": nexthop, "size": strconv.FormatInt(req.Body.Size(), 10),
		"queue_id": env.ID, "client_address": env.ClientAddr, "client_hostname": env.ClientName,
		"client_helo": env.Helo, "client_protocol": env.Protocol,
	}
}

// recipientVars adds the macros of one recipient to base.
func (a *Agent) recipientVars(rc envelope.Recipient, base map[string]string) map[string]string {
	vars := make(map[string]string, len(base)+6)
	for k, v := range base {
		vars[k] = v
	}
	addr := rc.Address
	local, domain := addr, ""
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		local, domain = addr[:i], addr[i+1:]
	}
	if a.Set.has('u') {
		local = strings.ToLower(local)
	}
	if a.Set.has('h') {
		domain = strings.ToLower(domain)
	}
	user, ext := local, ""
	if a.Delimiter != "" {
		if i := strings.IndexAny(local, a.Delimiter); i > 0 {
			user, ext = local[:i], local[i+1:]
		}
	}
	recipient := local
	if a.Set.has('q') {
		recipient = quoteLocal(local)
	}
	if domain != "" {
		recipient += "@" + domain
	}
	orig := rc.Original
	if orig == "" {
		orig = rc.Address
	}
	vars["recipient"], vars["original_recipient"] = recipient, orig
	vars["user"], vars["extension"], vars["mailbox"], vars["domain"] = user, ext, local, domain
	return vars
}

// expand expands one argument; a malformed reference is left as written.
func expand(arg string, vars map[string]string) string {
	out, err := config.ExpandVars(arg, vars)
	if err != nil {
		return arg
	}
	return out
}

// usesAny reports whether arg refers to one of names as $name or ${name...}.
func usesAny(arg string, names []string) bool {
	for _, n := range names {
		if strings.Contains(arg, "${"+n+"}") || strings.Contains(arg, "${"+n+"?") || strings.Contains(arg, "${"+n+":") ||
			strings.Contains(arg, "$("+n+")") || containsBare(arg, "$"+n) {
			return true
		}
	}
	return false
}

// containsBare reports whether ref ("$name") occurs in arg not followed
// by another name character.
func containsBare(arg, ref string) bool {
	for i := strings.Index(arg, ref); i >= 0; {
		end := i + len(ref)
		if end == len(arg) || !isNameByte(arg[end]) {
			return true
		}
		next := strings.Index(arg[end:], ref)
		if next < 0 {
			return false
		}
		i = end + next
	}
	return false
}

func isNameByte(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// quoteLocal quotes the local part of an address when it holds white
// space or RFC 5322 specials (flag q).
func quoteLocal(addr string) string {
	local, domain := addr, ""
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		local, domain = addr[:i], addr[i:]
	}
	if strings.HasPrefix(local, `"`) || !strings.ContainsAny(local, " \t()<>@,;:\\\"[]") {
		return addr
	}
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(local) + `"` + domain
}
