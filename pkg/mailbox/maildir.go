package mailbox

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
)

// DeliverMaildir writes the message (o.Prepend, then the content) to
// dir/tmp under a unique name, syncs it, links it into dir/new and syncs
// that directory, creating the Maildir (cur, new, tmp and any missing
// parent; mode 0700) when it is missing. The *Error's text is complete,
// as Postfix words it ("maildir delivery failed: ...").
func DeliverMaildir(dir string, o Options, body io.Reader) error {
	dir = strings.TrimSuffix(dir, "/")
	for _, sub := range []string{"tmp", "new", "cur"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			return newError(WriteDSN(err), err, "create maildir %s: %s", dir, ErrnoText(err))
		}
	}
	name, f, err := createUnique(filepath.Join(dir, "tmp"))
	if err != nil {
		return newError("4.2.0", err, "create maildir file %s/tmp: %s", dir, ErrnoText(err))
	}
	tmp := filepath.Join(dir, "tmp", name)
	limit := int64(-1)
	if o.SizeLimit > 0 {
		limit = o.SizeLimit
	}
	err = Copy(NewLimitWriter(f, limit), body, CopyOptions{Prepend: o.Prepend})
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
		var re ReadError
		if errors.As(err, &re) {
			return newError("4.3.0", err, "maildir delivery failed: %s", re.Error())
		}
		return newError(WriteDSN(err), err, "maildir delivery failed: error writing message: %s", ErrnoText(err))
	}
	return nil
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
