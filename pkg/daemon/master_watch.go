package daemon

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tern-mta/tern/pkg/maillog"
)

// MasterGoneGrace is how long a daemon whose master died may take to
// finish the work in hand after the SIGTERM it sends itself; then it exits.
const MasterGoneGrace = 10 * time.Second

// watchMaster makes the daemon stop when master dies, so that no daemon
// outlives it holding the queue or the sockets. master passes the read end
// of a pipe whose write end only master holds; the kernel closes that end
// when master exits however it exits, and the read here then returns.
//
// This replaces PR_SET_PDEATHSIG, which the kernel keeps per thread and
// clears on every credential change: local(8) switches credentials on its
// delivery threads, and so lost the signal (regression test
// TestKillMasterDuringSendmailLoopLosesNothing).
func watchMaster(fdText string, log *maillog.Logger) error {
	if fdText == "" {
		return nil // not started by master (a test or a manual run)
	}
	fd, err := strconv.Atoi(fdText)
	if err != nil || fd < FirstFD {
		return fmt.Errorf("%s: bad descriptor %q", EnvMasterFD, fdText)
	}
	unix.CloseOnExec(fd) // not for the commands a daemon runs
	if err := unix.SetNonblock(fd, true); err != nil {
		return fmt.Errorf("%s: descriptor %d: %w", EnvMasterFD, fd, err)
	}
	pipe := os.NewFile(uintptr(fd), "master-pipe")
	go func() {
		var b [1]byte
		for {
			// master never writes; anything but data means it is gone.
			if n, err := pipe.Read(b[:]); n == 0 || err != nil {
				break
			}
		}
		log.Infof("master exited; stopping")
		_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
		time.Sleep(MasterGoneGrace)
		log.Warnf("still running %s after master exited; exiting", MasterGoneGrace)
		os.Exit(1)
	}()
	return nil
}
