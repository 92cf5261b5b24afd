package spawn

import (
	"fmt"
	"os"

	"github.com/tern-mta/tern/pkg/daemon"
)

// Main is the entry of `tern daemon spawn ARGS`, ARGS being the service's
// master.cf arguments.
func Main(args []string) int {
	d, err := daemon.Init("spawn")
	if err != nil {
		fmt.Fprintf(os.Stderr, "tern/spawn: fatal: %v\n", err)
		return 1
	}
	s, err := New(d.Config, d.Service, args, d.Log)
	if err != nil {
		d.Log.Fatalf("service %s: %v", d.Service, err)
		return 1
	}
	s.MaxProc = d.MaxProc
	if s.User.UserErr != nil {
		d.Log.Warnf("service %s: %v; its connections are closed until the user exists", d.Service, s.User.UserErr)
	}
	l := d.ServiceListener()
	if l == nil {
		d.Log.Fatalf("no listener passed by master")
		return 1
	}
	ctx, stop := daemon.SignalContext()
	defer stop()
	if err := s.Serve(ctx, l); err != nil {
		d.Log.Fatalf("service %s: %v", d.Service, err)
		return 1
	}
	return 0
}
