package local

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/command"
)

// DefaultExpansionFilter is Postfix's default command_expansion_filter,
// forward_expansion_filter and execution_directory_expansion_filter:
// characters outside it are replaced by "_" in the environment given to
// commands and in the $name values of forward_path and
// command_execution_directory.
const DefaultExpansionFilter = "1234567890!@%-_=+:,./abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

// once runs a delivery unless an identical one (same key) already ran in
// this request; a repeat reuses the first outcome, as Postfix's duplicate
// filter does. For sendmail -bv (traceOnly) nothing runs: the outcome
// says what would be done, such as "delivers to mailbox".
func (a *Agent) once(run *rcptRun, st state, key, would string, do func() agent.Result) {
	if !run.dups.first("done " + key) {
		return
	}
	if res, ok := run.rs.done[key]; ok {
		run.addQuiet(st.addr, res)
		return
	}
	var res agent.Result
	if run.rs.traceOnly {
		res = agent.Result{Status: agent.OK, DSN: "2.0.0", Text: would}
	} else {
		res = do()
	}
	run.rs.done[key] = res
	run.add(st.addr, res)
}

// newJob fills in what every delivery job carries.
func (a *Agent) newJob(run *rcptRun, st state, kind string) Job {
	return Job{
		Kind:         kind,
		Sender:       st.sender,
		Recipient:    st.addr,
		Prepend:      a.prepend(run, st, kind),
		LockMethods:  a.cfg.LockMethods,
		LockAttempts: a.cfg.LockAttempts,
		LockDelay:    a.cfg.LockDelay,
		StaleLock:    a.cfg.StaleLockTime,
		SizeLimit:    a.cfg.MailboxSizeLimit,
		TimeLimit:    a.cfg.CommandTimeLimit,
		OwnerUID:     -1,
		OwnerGID:     -1,
		Locks:        &a.mboxes,
		Shell:        a.commandShell(kind),
	}
}

// commandShell is the shell of a job of kind: local_command_shell for
// commands, nil otherwise.
func (a *Agent) commandShell(kind string) []string {
	if kind != KindCommand {
		return nil
	}
	return a.cfg.CommandShell
}

// prepend returns the Return-Path, X-Original-To and Delivered-To headers
// that local(8) adds to a job of kind; Delivered-To only when
// prepend_delivered_header names the kind's context.
func (a *Agent) prepend(run *rcptRun, st state, kind string) string {
	orig := run.top.Original
	if orig == "" {
		orig = run.top.Address
	}
	h := "Return-Path: <" + st.sender + ">\n" + "X-Original-To: " + orig + "\n"
	where := "file"
	if kind == KindCommand {
		where = "command"
	}
	if !a.cfg.NoDeliveredTo[where] {
		h += "Delivered-To: " + run.top.Address + "\n"
	}
	return h
}

// run executes a job as uid/gid: through the helper when there is one,
// in-process otherwise.
func (a *Agent) run(ctx context.Context, run *rcptRun, job Job, uid, gid int) agent.Result {
	body := run.rs.req.Body
	if a.cfg.Helper == nil {
		return RunJob(ctx, job, agent.Reader(body))
	}
	res, err := a.cfg.Helper.Run(ctx, job, uid, gid, body)
	if err != nil {
		a.cfg.Log.Warnf("%s: delivery helper for %s: %v", run.rs.req.Env.ID, job.Recipient, err)
		return agent.Deferf("4.3.0", "delivery helper failed: %v", err)
	}
	return res
}

// mailbox delivers to a user's mailbox: mailbox_transport_maps or
// mailbox_transport, else mailbox_command_maps or mailbox_command, else
// the Maildir or mbox that home_mailbox and mail_spool_directory name.
func (a *Agent) mailbox(ctx context.Context, run *rcptRun, st state, u *User, rv recipientVars) {
	transport, err := a.mailboxTransport(u.Name)
	if err == nil && transport != "" {
		a.delegateMailbox(ctx, run, st, transport)
		return
	}
	command := ""
	if err == nil {
		command, err = a.mailboxCommand(u.Name)
	}
	if err != nil {
		a.cfg.Log.Warnf("%s: %v", run.rs.req.Env.ID, err)
		run.add(st.addr, agent.Deferf("4.3.0", "table lookup failure"))
		return
	}
	would := "delivers to mailbox"
	switch {
	case command != "":
		would = "delivers to command: " + command
	case strings.HasSuffix(a.cfg.HomeMailbox, "/"):
		would = "delivers to maildir"
	}
	a.once(run, st, "mailbox "+u.Name, would, func() agent.Result {
		if command != "" {
			job := a.newJob(run, st, KindCommand)
			job.Command = command
			job.Home = u.Home
			job.User = u.Name
			job.Env = a.commandEnv(run, st, u, rv)
			if r := a.setCommandDir(&job, st, rv); r != nil {
				return *r
			}
			return a.run(ctx, run, job, u.UID, u.GID)
		}
		hm := a.cfg.HomeMailbox
		switch {
		case hm == "":
			job := a.newJob(run, st, KindMbox)
			job.Path = filepath.Join(a.cfg.MailSpoolDirectory, u.Name)
			job.User, job.OwnerUID, job.OwnerGID = u.Name, u.UID, u.GID
			uid, gid := a.spoolPrivs(u)
			return a.run(ctx, run, job, uid, gid)
		case strings.HasSuffix(hm, "/"):
			job := a.newJob(run, st, KindMaildir)
			job.Path = filepath.Join(u.Home, hm) + "/"
			job.User = u.Name
			return a.run(ctx, run, job, u.UID, u.GID)
		default:
			job := a.newJob(run, st, KindMbox)
			job.Path = filepath.Join(u.Home, hm)
			job.User, job.OwnerUID, job.OwnerGID = u.Name, u.UID, u.GID
			return a.run(ctx, run, job, u.UID, u.GID)
		}
	})
}

// delegateMailbox hands the delivery of st.addr to the service of
// transport ("name" or "name:nexthop", from mailbox_transport and its
// kin), which delivers and logs it (agent.Delegate marks such results
// Logged); a failure to reach it is local's to log.
func (a *Agent) delegateMailbox(ctx context.Context, run *rcptRun, st state, service string) {
	a.once(run, st, "transport "+strings.ToLower(st.addr), "delivers to transport "+service, func() agent.Result {
		transport, nexthop, _ := strings.Cut(service, ":")
		if a.cfg.Delegate == nil {
			return agent.Deferf("4.3.0", "mail transport %s: no way to reach it", transport)
		}
		rcpt := run.top
		rcpt.Address = st.addr
		return a.cfg.Delegate(ctx, transport, nexthop, run.rs.req, rcpt)
	})
}

// spoolPrivs chooses who writes to the mail spool directory: when it is
// not world-writable (e.g. root:mail 2775), its owner, who creates the
// mailbox on the user's behalf; otherwise the user.
func (a *Agent) spoolPrivs(u *User) (int, int) {
	fi, err := os.Stat(a.cfg.MailSpoolDirectory)
	if err != nil || a.cfg.Helper == nil {
		return u.UID, u.GID
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || fi.Mode().Perm()&0o002 != 0 {
		return u.UID, u.GID
	}
	return int(st.Uid), int(st.Gid)
}

// file delivers to /file/name (mbox format) or /maildir/.
func (a *Agent) file(ctx context.Context, run *rcptRun, st state, path string) {
	key := "file " + strconv.Itoa(st.privs.UID) + " " + path
	a.once(run, st, key, "delivers to file: "+path, func() agent.Result {
		kind := KindFile
		if strings.HasSuffix(path, "/") {
			kind = KindMaildir
		}
		job := a.newJob(run, st, kind)
		job.Path, job.User = path, st.privs.Name
		return a.run(ctx, run, job, st.privs.UID, st.privs.GID)
	})
}

// command delivers to |command.
func (a *Agent) command(ctx context.Context, run *rcptRun, st state, cmd string) {
	key := "command " + strconv.Itoa(st.privs.UID) + " " + cmd
	a.once(run, st, key, "delivers to command: "+cmd, func() agent.Result {
		lp, domain := splitAddr(st.addr)
		local := strings.ToLower(unquoteLocal(lp))
		user, ext, delim := a.splitExt(local)
		job := a.newJob(run, st, KindCommand)
		job.Command, job.Home, job.User = cmd, st.privs.Home, st.privs.Name
		rv := recipientVars{user: &User{Name: user, Home: st.privs.Home, Shell: st.privs.Shell},
			ext: ext, delim: delim, domain: domain, local: local}
		job.Env = a.commandEnv(run, st, rv.user, rv)
		if r := a.setCommandDir(&job, st, rv); r != nil {
			return *r
		}
		return a.run(ctx, run, job, st.privs.UID, st.privs.GID)
	})
}

// setCommandDir sets the working directory of a command job from
// command_execution_directory; a result when it cannot be expanded.
func (a *Agent) setCommandDir(job *Job, st state, rv recipientVars) *agent.Result {
	if a.cfg.CommandDir == "" {
		return nil
	}
	dir, _, ok := expandTemplate(a.cfg.CommandDir, templateVars(st, rv).censored(a.cfg.execDirFilter()))
	if !ok || !strings.HasPrefix(dir, "/") {
		r := agent.Deferf("4.3.5", "mail system configuration error: command_execution_directory %q does not give an absolute path", a.cfg.CommandDir)
		return &r
	}
	job.Dir = dir
	return nil
}

// commandEnv is the environment of a command, as Postfix's local(8):
// export_environment, a fixed PATH, then the recipient's variables.
func (a *Agent) commandEnv(run *rcptRun, st state, u *User, rv recipientVars) []string {
	env := exportedEnv(a.cfg.ExportEnv, os.Getenv)
	env = append(env, "PATH=/usr/bin:/bin")
	add := func(name, value string) {
		if value != "" {
			env = append(env, name+"="+censor(value, a.cfg.commandFilter()))
		}
	}
	add("HOME", u.Home)
	add("LOGNAME", u.Name)
	add("USER", u.Name)
	add("SHELL", u.Shell)
	env = append(env, "SENDER="+censor(st.sender, a.cfg.commandFilter()))
	add("RECIPIENT", st.addr)
	add("LOCAL", rv.local)
	add("DOMAIN", rv.domain)
	add("EXTENSION", rv.ext)
	add("ORIGINAL_RECIPIENT", run.top.Original)
	e := run.rs.req.Env
	add("CLIENT_HOSTNAME", e.ClientName)
	add("CLIENT_ADDRESS", e.ClientAddr)
	add("CLIENT_HELO", e.Helo)
	add("CLIENT_PROTOCOL", e.Protocol)
	return env
}

// exportedEnv is command.ExportedEnv.
func exportedEnv(list []string, getenv func(string) string) []string {
	return command.ExportedEnv(list, getenv)
}

// censor replaces characters outside filter (command_expansion_filter)
// with "_".
func censor(s, filter string) string {
	return strings.Map(func(r rune) rune {
		if r < 128 && strings.ContainsRune(filter, r) {
			return r
		}
		return '_'
	}, s)
}
