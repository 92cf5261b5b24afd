package qmgr

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tern-mta/tern/pkg/ipc"
)

// pickupLoop drains the maildrop directory at start, whenever a pickup
// trigger arrives and at least once a minute, as Postfix's pickup(8) does.
func (m *Manager) pickupLoop(ctx context.Context) {
	t := time.NewTicker(m.settings.pickupWakeup)
	defer t.Stop()
	for {
		m.drainMaildrop(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-m.sched.pickupKick:
		}
	}
}

// drainMaildrop submits every finished maildrop file in name (arrival) order
// and removes each only after its message is committed to the queue.
func (m *Manager) drainMaildrop(ctx context.Context) {
	dir := m.maildropDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			m.log.Warnf("maildrop: %v", err)
		}
		return
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), "tmp.") {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	// Several files at once, so that their commits share fsyncs.
	var wg sync.WaitGroup
	var tempFail atomic.Bool
	sem := make(chan struct{}, pickupConcurrency)
	for _, name := range names {
		if ctx.Err() != nil || tempFail.Load() {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func(name string) {
			defer func() { <-sem; wg.Done() }()
			if m.pickupOne(ctx, filepath.Join(dir, name)) {
				tempFail.Store(true) // try again later; the file stays
			}
		}(name)
	}
	wg.Wait()
}

// pickupConcurrency is how many maildrop files are picked up at once.
const pickupConcurrency = 16

// pickupOne submits and removes one maildrop file, or quarantines it when
// it is unusable. It reports a temporary failure.
func (m *Manager) pickupOne(ctx context.Context, path string) (tempFail bool) {
	if err := m.pickupFile(ctx, path); err != nil {
		m.log.Warnf("maildrop/%s: %v", filepath.Base(path), err)
		var rj *rejection
		if errors.As(err, &rj) && rj.code == exTempFail {
			return true
		}
		m.quarantine(path)
		return false
	}
	if err := os.Remove(path); err != nil {
		m.log.Warnf("remove %s: %v", path, err)
	}
	return false
}

// pickupFile submits one maildrop file, written by sendmail as an IPC
// request frame followed by the body frames.
func (m *Manager) pickupFile(ctx context.Context, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fmt.Errorf("no owner information")
	}
	r := bufio.NewReader(f)
	typ, payload, err := ipc.ReadFrame(r)
	if err != nil {
		return fmt.Errorf("read request: %w", err)
	}
	if typ != ipc.FrameRequest {
		return fmt.Errorf("not a maildrop file")
	}
	req, err := ipc.DecodeRecord(payload)
	if err != nil {
		return err
	}
	if req.Get(attrRequest) != "submit" {
		return fmt.Errorf("unknown request %q", req.Get(attrRequest))
	}
	s := m.submissionFrom(req, true)
	// The file's owner is the submitter: the maildrop directory is
	// writable by all but files cannot be given away.
	m.setSubmitter(s, int(st.Uid), req.Has("sender"))
	s.env.Arrival = fi.ModTime()
	_, err = m.accept(ctx, s, ipc.NewBodyReader(r))
	return err
}

// quarantine moves an unreadable maildrop file aside for the admin.
func (m *Manager) quarantine(path string) {
	dir := filepath.Join(m.queueDir, "corrupt")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		m.log.Warnf("mkdir %s: %v", dir, err)
		return
	}
	dst := filepath.Join(dir, "maildrop-"+filepath.Base(path))
	if err := os.Rename(path, dst); err != nil {
		m.log.Warnf("move %s to %s: %v", path, dst, err)
		return
	}
	m.log.Warnf("moved unreadable maildrop file to %s", dst)
}
