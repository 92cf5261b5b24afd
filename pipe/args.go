package pipe

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// validFlags are the pipe(8) flags tern knows: B (blank line at the
// end), D (Delivered-To), F (From_ line), O (X-Original-To), R
// (Return-Path), X (final delivery), h and u (lower-case domains and
// local parts on the command line), q (quote local parts), "." (dot
// stuffing) and ">" (">From " quoting).
const validFlags = "BDFORXhqu.>"

// Settings are the master.cf arguments of a pipe service.
type Settings struct {
	Flags      string
	User       string // user= as written
	UID, GID   int
	Argv       []string // the command and its arguments, with $macros
	SizeLimit  int64    // size=: larger messages bounce; 0 means none
	EOL        string   // eol=: the line end written (default "\n")
	Directory  string   // directory=: where the command runs (default "/")
	NullSender string   // null_sender=: $sender of the null sender
}

// has reports whether flag f is set.
func (s *Settings) has(f byte) bool { return strings.IndexByte(s.Flags, f) >= 0 }

// ParseArgs reads a pipe service's master.cf arguments ("flags=DRhu
// user=vmail:vmail argv=/usr/lib/dovecot/deliver -d ${recipient}"): argv=
// comes last and takes the rest of the line. user= is required and may
// not be root, as in Postfix.
func ParseArgs(args []string) (Settings, error) {
	s := Settings{EOL: "\n", Directory: "/", NullSender: "MAILER-DAEMON"}
	var userSpec string
	for i, a := range args {
		name, value, ok := strings.Cut(a, "=")
		if !ok {
			return s, fmt.Errorf("argument %q: need name=value", a)
		}
		switch name {
		case "argv":
			if value == "" {
				return s, errors.New("argv= needs a command")
			}
			s.Argv = append([]string{value}, args[i+1:]...)
			return s, s.finish(userSpec)
		case "flags":
			for j := 0; j < len(value); j++ {
				if strings.IndexByte(validFlags, value[j]) < 0 {
					return s, fmt.Errorf("flags=%s: unknown flag %q (tern knows %s)", value, value[j], validFlags)
				}
			}
			s.Flags = value
		case "user":
			userSpec = value
		case "size":
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil || n < 0 {
				return s, fmt.Errorf("size=%s: need a number of bytes", value)
			}
			s.SizeLimit = n
		case "eol":
			s.EOL = unescape(value)
		case "directory":
			s.Directory = value
		case "null_sender":
			s.NullSender = value
		default:
			return s, fmt.Errorf("unknown argument %q", name)
		}
	}
	return s, errors.New("missing argv= command")
}

// finish resolves user=name[:group]: the command runs with its uid and
// gid (the group's when one is named).
func (s *Settings) finish(spec string) error {
	if spec == "" {
		return errors.New("missing user= argument")
	}
	name, group, hasGroup := strings.Cut(spec, ":")
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("user=%s: %w", spec, err)
	}
	s.User = spec
	s.UID, _ = strconv.Atoi(u.Uid)
	s.GID, _ = strconv.Atoi(u.Gid)
	if hasGroup {
		g, err := user.LookupGroup(group)
		if err != nil {
			return fmt.Errorf("user=%s: %w", spec, err)
		}
		s.GID, _ = strconv.Atoi(g.Gid)
	}
	if s.UID == 0 || s.GID == 0 {
		return fmt.Errorf("user=%s: the command may not run with root privileges", spec)
	}
	if euid := os.Geteuid(); euid != 0 && euid != s.UID {
		return fmt.Errorf("user=%s: tern runs as uid %d without root privileges and can only run commands as itself", spec, euid)
	}
	return nil
}

// unescape turns the C escapes of eol= (\n, \r, \t, \\) into characters.
func unescape(s string) string {
	r := strings.NewReplacer(`\r`, "\r", `\n`, "\n", `\t`, "\t", `\\`, `\`)
	return r.Replace(s)
}
