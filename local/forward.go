package local

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"github.com/tern-mta/tern/pkg/agent"
)

// maxListFile bounds the size of a .forward or :include: file.
const maxListFile = 1 << 20

// openList opens a .forward or :include: file without following a final
// symlink and returns its content and owner. It fails for anything but a
// regular file.
func openList(path string) ([]byte, *syscall.Stat_t, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, nil, fmt.Errorf("%s is not a regular file", path)
	}
	st, _ := fi.Sys().(*syscall.Stat_t)
	if st == nil {
		return nil, nil, fmt.Errorf("stat %s: no owner information", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxListFile))
	if err != nil {
		return nil, nil, fmt.Errorf("read %s: %w", path, err)
	}
	return data, st, nil
}

// include expands an :include: file, as Postfix: the file must be a
// regular file given by absolute path; commands and files in it run with
// the privileges of the file's owner (default_privs for root-owned files
// listed in aliases; the user's for files listed in a .forward, which
// must be owned by that user or by root).
func (a *Agent) include(ctx context.Context, run *rcptRun, st state, path, unmatched, delim string) {
	if !strings.HasPrefix(path, "/") {
		run.add(st.addr, agent.Bouncef("5.3.5", "mail system configuration error: :include:%s is not an absolute path", path))
		return
	}
	if !run.dups.first("include " + path) {
		return
	}
	data, fst, err := openList(path)
	if err != nil {
		a.cfg.Log.Warnf("%s: cannot open include file %s: %v", run.rs.req.Env.ID, path, err)
		run.add(st.addr, agent.Deferf("4.3.0", "cannot open include file %s: %s", path, errnoText(err)))
		return
	}
	switch {
	case st.fromUser:
		if fst.Uid != 0 && int(fst.Uid) != st.privs.UID {
			run.add(st.addr, agent.Bouncef("5.7.1", "include file %s has bad owner uid %d", path, fst.Uid))
			return
		}
	case fst.Uid != 0:
		st.privs = userByID(int(fst.Uid), int(fst.Gid))
	}
	st.class = classInclude
	a.targets(ctx, run, st, ParseTargets(string(data)), unmatched, delim)
}

// userByID describes the owner of an :include: file.
func userByID(uid, gid int) *User {
	u := &User{Name: strconv.Itoa(uid), Home: "/", Shell: "/bin/sh", UID: uid, GID: gid}
	if pw, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		u.Name, u.Home, u.Gecos = pw.Username, pw.HomeDir, pw.Name
	}
	return u
}

// censored returns v with the characters outside filter replaced by "_"
// in each value, as Postfix's *_expansion_filter parameters ask.
func (v vars) censored(filter string) vars {
	out := make(vars, len(v))
	for k, s := range v {
		out[k] = censor(s, filter)
	}
	return out
}

// templateVars are the per-recipient $names of forward_path and
// command_execution_directory.
func templateVars(st state, rv recipientVars) vars {
	return vars{
		"home": rv.user.Home, "user": rv.user.Name, "shell": rv.user.Shell,
		"extension": rv.ext, "recipient_delimiter": rv.delim,
		"local": rv.local, "domain": rv.domain, "recipient": st.addr,
	}
}

// dotForward delivers to the destinations in the user's .forward file, the
// first of forward_path that exists; it reports whether one was used.
func (a *Agent) dotForward(ctx context.Context, run *rcptRun, st state, rv recipientVars) bool {
	if len(a.cfg.ForwardPath) == 0 || !run.dups.first("forward "+rv.user.Name) {
		return false
	}
	v := templateVars(st, rv).censored(a.cfg.forwardFilter())
	for _, tmpl := range a.cfg.ForwardPath {
		path, used, ok := expandTemplate(tmpl, v)
		if !ok || !strings.HasPrefix(path, "/") {
			continue
		}
		data, fst, err := openList(path)
		if err != nil {
			if !os.IsNotExist(err) {
				a.cfg.Log.Warnf("%s: cannot open %s: %v", run.rs.req.Env.ID, path, err)
			}
			continue
		}
		if int(fst.Uid) != rv.user.UID && fst.Uid != 0 {
			a.cfg.Log.Warnf("file %s has bad owner uid %d", path, fst.Uid)
			continue
		}
		if fst.Mode&0o002 != 0 {
			a.cfg.Log.Warnf("file %s is world writable", path)
			continue
		}
		ts := ParseTargets(string(bytes.TrimSpace(data)))
		if len(ts) == 0 {
			continue
		}
		unmatched := rv.ext
		if used["extension"] {
			unmatched = ""
		}
		next := st
		next.class, next.owner, next.privs, next.fromUser = classForward, rv.user.Name, rv.user, true
		a.targets(ctx, run, next, ts, unmatched, rv.delim)
		return true
	}
	return false
}

// flushForwards submits one new message per envelope sender for all the
// addresses the recipient's expansion forwards to.
// For sendmail -bv nothing is forwarded: each address is reported.
func (a *Agent) flushForwards(ctx context.Context, run *rcptRun) {
	for _, g := range run.fwd {
		if run.rs.traceOnly {
			for _, addr := range g.rcpts {
				run.add(addr, agent.Result{Status: agent.OK, DSN: "2.0.0", Text: "forwards to " + addr})
			}
			continue
		}
		res := run.filter(a.forwardGroup(ctx, run, g))
		// One outcome for the group; a line and a trace entry for each
		// address, as Postfix logs "forwarded as ID" per recipient.
		for _, addr := range g.rcpts {
			run.logOutcome(addr, res)
		}
		run.subs = append(run.subs, res)
		if run.rs.tracing {
			for _, addr := range g.rcpts {
				run.traces = append(run.traces, agent.TraceEntry{Address: addr, Status: res.Status, DSN: res.DSN, Text: res.Text})
			}
		}
	}
}

func (a *Agent) forwardGroup(ctx context.Context, run *rcptRun, g fwdGroup) agent.Result {
	if a.cfg.Forward == nil {
		return agent.Deferf("4.3.5", "mail system configuration error: no forwarding service")
	}
	eol := "\n"
	if run.rs.crlf {
		eol = "\r\n"
	}
	hdr := "Delivered-To: " + run.top.Address + eol
	if a.cfg.NoDeliveredTo["forward"] {
		hdr = ""
	}
	content := io.MultiReader(strings.NewReader(hdr), agent.Reader(run.rs.req.Body))
	id, err := a.cfg.Forward.Forward(ctx, run.rs.req.Env, g.sender, g.rcpts, content)
	if err != nil {
		a.cfg.Log.Warnf("%s: forward to %s: %v", run.rs.req.Env.ID, strings.Join(g.rcpts, ", "), err)
		return agent.Deferf("4.3.0", "cannot forward message: %v", err)
	}
	return agent.Result{Status: agent.OK, DSN: "2.0.0", Text: "forwarded as " + id}
}
