// Package spawn is tern's spawn(8): for each connection to its service's
// socket it runs a command whose standard input, output and error are
// the connection, as Postfix's spawn does for the policy servers that
// master.cf starts this way, such as
//
//	policyd-spf  unix  -  n  n  -  0  spawn
//	    user=policyd-spf argv=/usr/bin/policyd-spf
//
// The command runs as user= (never root), with the environment that
// export_environment names, for at most <service>_time_limit (default
// command_time_limit); master.cf's maxproc bounds the commands at once
// (0: no bound).
package spawn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tern-mta/tern/pipe"
	"github.com/tern-mta/tern/pkg/command"
	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/maillog"
)

// Server runs the command of one spawn service.
type Server struct {
	Service   string
	User      pipe.Settings // user= and argv=, as pipe(8) reads them
	TimeLimit time.Duration
	Env       []string
	MaxProc   int // commands at once; 0: no bound
	Log       *maillog.Logger

	userMu sync.Mutex // guards User while resolveUser runs
}

// New reads a spawn service's master.cf arguments (user= and argv=) and
// its main.cf settings, with the service's -o overrides applied.
func New(cfg *config.Config, service string, args []string, log *maillog.Logger) (*Server, error) {
	for _, a := range args {
		name, _, _ := strings.Cut(a, "=")
		if name == "argv" {
			break
		}
		if name != "user" {
			return nil, fmt.Errorf("unknown argument %q: spawn takes user= and argv=", a)
		}
	}
	set, err := pipe.ParseArgs(args)
	if err != nil {
		return nil, err
	}
	limit, err := command.ServiceTimeLimit(cfg, service)
	if err != nil {
		return nil, err
	}
	return &Server{Service: service, User: set, TimeLimit: limit, Log: log,
		Env: command.ExportedEnv(cfg.List("export_environment"), os.Getenv)}, nil
}

// Check validates a spawn service's arguments for master's start, check
// and reload.
func Check(cfg *config.Config, service string, args []string) error {
	_, err := New(cfg, service, args, nil)
	return err
}

// Serve accepts connections on l until ctx ends, running the command for
// each; it waits for the commands still running before it returns.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	var slots chan struct{}
	if s.MaxProc > 0 {
		slots = make(chan struct{}, s.MaxProc)
	}
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var running sync.WaitGroup
	defer running.Wait()
	for {
		if slots != nil {
			select {
			case slots <- struct{}{}: // a free slot before the next accept
			case <-ctx.Done():
				return nil
			}
		}
		conn, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		running.Add(1)
		go func() {
			defer running.Done()
			if slots != nil {
				defer func() { <-slots }()
			}
			s.run(ctx, conn)
		}()
	}
}

// run runs the command on one connection and waits for it.
func (s *Server) run(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	set, err := s.resolveUser()
	if err != nil {
		s.Log.Warnf("service %s: %v; connection closed", s.Service, err)
		return
	}
	fc, ok := conn.(interface{ File() (*os.File, error) })
	if !ok {
		s.Log.Warnf("service %s: %T connection cannot be given to a command", s.Service, conn)
		return
	}
	f, err := fc.File()
	if err != nil {
		s.Log.Warnf("service %s: %v", s.Service, err)
		return
	}
	defer f.Close()
	label := strings.Join(set.Argv, " ")
	cctx, cancel := context.WithTimeout(ctx, s.limit())
	defer cancel()
	cmd := exec.CommandContext(cctx, set.Argv[0], set.Argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = f, f, f
	cmd.Env, cmd.Dir = s.Env, "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if os.Geteuid() == 0 {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: uint32(set.UID), Gid: uint32(set.GID), Groups: []uint32{}}
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Start(); err != nil {
		s.Log.Warnf("service %s: command %s: %v", s.Service, label, err)
		return
	}
	// The command holds the connection now: ours close, so that the
	// client sees the end when the command exits.
	f.Close()
	conn.Close()
	s.report(label, cmd.Wait(), cctx)
}

// report logs a command that failed, as Postfix's spawn does.
func (s *Server) report(label string, err error, cctx context.Context) {
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
		s.Log.Warnf("service %s: command %s: time limit of %s exceeded; killed", s.Service, label, s.limit())
	case errors.As(err, &exit) && exit.Exited():
		s.Log.Warnf("service %s: command %s exit status %d", s.Service, label, exit.ExitCode())
	case errors.As(err, &exit):
		s.Log.Warnf("service %s: command %s killed by %s", s.Service, label, exit.ProcessState)
	default:
		s.Log.Warnf("service %s: command %s: %v", s.Service, label, err)
	}
}

func (s *Server) limit() time.Duration {
	if s.TimeLimit <= 0 {
		return 1000 * time.Second
	}
	return s.TimeLimit
}

// resolveUser looks user= up again when it did not resolve before (it may
// have been created since) and returns the settings to run with.
func (s *Server) resolveUser() (pipe.Settings, error) {
	s.userMu.Lock()
	defer s.userMu.Unlock()
	if err := s.User.Resolve(); err != nil {
		return pipe.Settings{}, err
	}
	return s.User, nil
}
