package pipe

import (
	"fmt"
	"os"

	"github.com/tern-mta/tern/pkg/agent"
	"github.com/tern-mta/tern/pkg/command"
	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/daemon"
)

// bodyMemLimit is the largest message body the agent keeps in memory.
const bodyMemLimit = 1 << 20

// Main is the entry of `tern daemon pipe ARGS`, ARGS being the service's
// master.cf arguments.
func Main(args []string) int {
	d, err := daemon.Init("pipe")
	if err != nil {
		fmt.Fprintf(os.Stderr, "tern/pipe: fatal: %v\n", err)
		return 1
	}
	a, err := New(d.Config, d.Service, args)
	if err != nil {
		d.Log.Fatalf("service %s: %v", d.Service, err)
		return 1
	}
	if a.Set.UserErr != nil {
		// Debian's stock master.cf names users most hosts lack (vmail,
		// ftn, bsmtp, scalemail) for services mail rarely goes to: a
		// note, as Postfix starts such a service only on demand; a
		// delivery there is deferred, and logged, with the reason.
		d.Log.Infof("service %s: %v; its deliveries are deferred until the user exists", d.Service, a.Set.UserErr)
	}
	return agent.ServeDaemon(d, a, bodyMemLimit)
}

// New builds the agent of one pipe service from main.cf (with the
// service's -o overrides) and its master.cf arguments.
func New(cfg *config.Config, service string, args []string) (*Agent, error) {
	set, err := ParseArgs(args)
	if err != nil {
		return nil, err
	}
	limit, err := command.ServiceTimeLimit(cfg, service)
	if err != nil {
		return nil, err
	}
	return &Agent{Set: set, Service: service, TimeLimit: limit, Delimiter: cfg.Get("recipient_delimiter"),
		Env: command.ExportedEnv(cfg.List("export_environment"), os.Getenv)}, nil
}

// Check validates a pipe service's arguments for master's start, check
// and reload.
func Check(cfg *config.Config, service string, args []string) error {
	_, err := New(cfg, service, args)
	return err
}
