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
	// UserErr is why user= could not be resolved (an unknown user or
	// group). As in Postfix, that is no reason to refuse to start: the
	// stock Debian master.cf names users (vmail, ftn, ...) that most
	// hosts lack. Deliveries are deferred until Resolve succeeds.
	UserErr error
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
// gid (the group's when one is named). A name that does not resolve is
// kept in UserErr rather than failing (see Resolve).
func (s *Settings) finish(spec string) error {
	if spec == "" {
		return errors.New("missing user= argument")
	}
	s.User = spec
	if err := s.lookupUser(); err != nil {
		var unknownUser user.UnknownUserError
		var unknownGroup user.UnknownGroupError
		if errors.As(err, &unknownUser) || errors.As(err, &unknownGroup) {
			s.UserErr = err
			return nil
		}
		return err
	}
	if err := s.checkUser(); err != nil {
		if errors.Is(err, errUnprivileged) {
			s.UserErr = err // an instance run by an ordinary user, as in tests
			return nil
		}
		return err
	}
	return nil
}

// errUnprivileged: tern, not running as root, cannot run a command as
// another user.
var errUnprivileged = errors.New("tern runs without root privileges and can only run commands as itself")

// Resolve looks user= up again when it did not resolve before (the user
// may have been created since); the error says why it still does not.
func (s *Settings) Resolve() error {
	if s.UserErr == nil {
		return nil
	}
	if err := s.lookupUser(); err != nil {
		return err
	}
	if err := s.checkUser(); err != nil {
		return err
	}
	s.UserErr = nil
	return nil
}

// lookupUser sets UID and GID from user=.
func (s *Settings) lookupUser() error {
	spec := s.User
	name, group, hasGroup := strings.Cut(spec, ":")
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("user=%s: %w", spec, err)
	}
	s.UID, _ = strconv.Atoi(u.Uid)
	s.GID, _ = strconv.Atoi(u.Gid)
	if hasGroup {
		g, err := user.LookupGroup(group)
		if err != nil {
			return fmt.Errorf("user=%s: %w", spec, err)
		}
		s.GID, _ = strconv.Atoi(g.Gid)
	}
	return nil
}

// checkUser refuses root and, for an unprivileged tern, other users.
func (s *Settings) checkUser() error {
	spec := s.User
	if s.UID == 0 || s.GID == 0 {
		return fmt.Errorf("user=%s: the command may not run with root privileges", spec)
	}
	if euid := os.Geteuid(); euid != 0 && euid != s.UID {
		return fmt.Errorf("user=%s: %w (uid %d)", spec, errUnprivileged, euid)
	}
	return nil
}

// unescape turns the C escapes of eol= (\n, \r, \t, \\) into characters.
func unescape(s string) string {
	r := strings.NewReplacer(`\r`, "\r", `\n`, "\n", `\t`, "\t", `\\`, `\`)
	return r.Replace(s)
}
