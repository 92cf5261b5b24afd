package local

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tern-mta/tern/pkg/agent"
)

// deliverMaildir writes the message to tmp/, syncs it, links it into new/
// under a unique name and syncs the directory, creating the Maildir (cur,
// new, tmp; mode 0700) when it is missing.
func deliverMaildir(job Job, body io.Reader) agent.Result {
	dir := strings.TrimSuffix(job.Path, "/")
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return resultFor(writeDSN(err), fmt.Sprintf("create maildir %s: %s", dir, errnoText(err)))
		}
	}
	name, f, err := createUnique(filepath.Join(dir, "tmp"))
	if err != nil {
		return resultFor("4.2.0", fmt.Sprintf("create maildir file %s/tmp: %s", dir, errnoText(err)))
	}
	tmp := filepath.Join(dir, "tmp", name)
	lw := &limitWriter{w: f, max: -1}
	if job.SizeLimit > 0 {
		lw.max = job.SizeLimit
	}
	err = copyMessage(lw, job, body, copyOpts{})
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = publish(dir, name)
	}
	os.Remove(tmp)
	if err != nil {
		var re errRead
		if errors.As(err, &re) {
			return resultFor("4.3.0", "maildir delivery failed: "+re.Error())
		}
		return resultFor(writeDSN(err), "maildir delivery failed: error writing message: "+errnoText(err))
	}
	return agent.Result{Status: agent.OK, DSN: "2.0.0", Text: "delivered to maildir"}
}

// publish links tmp/name to new/name and syncs new/.
func publish(dir, name string) error {
	if err := os.Link(filepath.Join(dir, "tmp", name), filepath.Join(dir, "new", name)); err != nil {
		return fmt.Errorf("link into %s/new: %w", dir, err)
	}
	return syncDir(filepath.Join(dir, "new"))
}

// createUnique creates a new file in dir named time.MusecPpidRrandom.host,
// retrying with another name if it exists.
func createUnique(dir string) (string, *os.File, error) {
	host := maildirHost()
	var err error
	for i := 0; i < 10; i++ {
		now := time.Now()
		var rnd [6]byte
		if _, err = rand.Read(rnd[:]); err != nil {
			return "", nil, fmt.Errorf("random name: %w", err)
		}
		name := fmt.Sprintf("%d.M%dP%dR%s.%s", now.Unix(), now.Nanosecond()/1000, os.Getpid(), hex.EncodeToString(rnd[:]), host)
		var f *os.File
		f, err = os.OpenFile(filepath.Join(dir, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			return name, f, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	return "", nil, err
}

// maildirHost is the host name with "/" and ":" encoded, as the Maildir
// specification asks.
func maildirHost() string {
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	return strings.NewReplacer("/", `\057`, ":", `\072`).Replace(h)
}

// syncDir fsyncs a directory so that a new entry in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}
