package master

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
)

// socket is a bound listener that master holds for a service for its whole
// life, so that restarting a daemon never refuses a connection.
type socket struct {
	spec sockSpec
	ln   net.Listener
	file *os.File // the descriptor handed to children
}

// bindSocket creates the listener of spec. A stale unix socket file left by
// an earlier run is removed first.
func bindSocket(spec sockSpec, o owner) (*socket, error) {
	if spec.Network == "unix" {
		if err := removeStale(spec.Address); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen(spec.Network, spec.Address)
	if err != nil {
		return nil, fmt.Errorf("bind %s service %s: %w", spec.Type, spec.Service, err)
	}
	s := &socket{spec: spec, ln: ln}
	if err := s.setup(o); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

// setup fixes a unix socket's mode and owner and takes the descriptor.
func (s *socket) setup(o owner) error {
	if s.spec.Network == "unix" {
		if err := s.fixMode(o); err != nil {
			return err
		}
	}
	fl, ok := s.ln.(interface{ File() (*os.File, error) })
	if !ok {
		return fmt.Errorf("listener %s has no descriptor", s.spec.Address)
	}
	f, err := fl.File()
	if err != nil {
		return fmt.Errorf("descriptor of %s: %w", s.spec.Address, err)
	}
	s.file = f
	return nil
}

// fixMode applies the spec's mode and mail_owner to a unix socket file.
func (s *socket) fixMode(o owner) error {
	if err := os.Chmod(s.spec.Address, s.spec.Mode); err != nil {
		return fmt.Errorf("chmod %s: %w", s.spec.Address, err)
	}
	return o.chown(s.spec.Address)
}

// addr is the bound address: the socket path or the host:port actually
// bound (which tells the port when the service asked for port 0).
func (s *socket) addr() string { return s.ln.Addr().String() }

// close releases the listener and removes a unix socket's file.
func (s *socket) close() {
	if s.file != nil {
		_ = s.file.Close()
	}
	_ = s.ln.Close()
	if s.spec.Network == "unix" {
		_ = removeStale(s.spec.Address)
	}
}

// removeStale removes a socket file; anything else at the path is an
// error rather than something to delete.
func removeStale(path string) error {
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket", path)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	return nil
}

// familyMissing reports a bind error caused by an address family the host
// lacks (an IPv6 loopback on a host without IPv6).
func familyMissing(err error) bool {
	return errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.EAFNOSUPPORT)
}

// socketSet is every listener master holds, by sockSpec key.
type socketSet map[string]*socket

// sync makes the set hold exactly the sockets of procs: sockets whose key
// is unchanged are kept (their mode re-applied), the others closed, new ones
// bound. It returns each process's sockets in order. With strict, a bind
// failure is an error; otherwise it is warned about and the socket left out.
func (set socketSet) sync(procs []procSpec, o owner, strict bool, h syncHooks) ([][]*socket, error) {
	want := map[string]bool{}
	for _, p := range procs {
		for _, sk := range p.Sockets {
			want[sk.key()] = true
		}
	}
	for k, s := range set {
		if !want[k] {
			s.close()
			delete(set, k)
		}
	}
	out := make([][]*socket, len(procs))
	for i, p := range procs {
		for _, sk := range p.Sockets {
			s, fresh, err := set.get(sk, o)
			switch {
			case err == nil:
				out[i] = append(out[i], s)
				if fresh && h.bound != nil {
					h.bound(s)
				}
			case sk.Optional && familyMissing(err):
				h.warn("%v; skipped", err)
			case strict:
				return nil, err
			default:
				h.warn("%v; listener not started", err)
			}
		}
	}
	return out, nil
}

// syncHooks are sync's callbacks: warn logs a warning, bound (optional)
// is told of every newly bound socket.
type syncHooks struct {
	warn  func(format string, args ...any)
	bound func(*socket)
}

// get returns the kept socket of sk, or binds a new one (fresh).
func (set socketSet) get(sk sockSpec, o owner) (s *socket, fresh bool, err error) {
	if s, ok := set[sk.key()]; ok {
		s.spec = sk
		if sk.Network == "unix" {
			if err := s.fixMode(o); err != nil {
				return nil, false, err
			}
		}
		return s, false, nil
	}
	if s, err = bindSocket(sk, o); err != nil {
		return nil, false, err
	}
	set[sk.key()] = s
	return s, true, nil
}

// closeAll releases every socket.
func (set socketSet) closeAll() {
	for k, s := range set {
		s.close()
		delete(set, k)
	}
}
