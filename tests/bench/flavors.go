package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
)

// ternFlavor runs tern from a copy of its binaries (bin is the copy of
// tern, with the sendmail binary beside it).
type ternFlavor struct {
	bin string
}

// ternMasterCF is tern's shipped master.cf without the smtp listener,
// which this bench does not use (and which would clash with other
// instances on port 25).
const ternMasterCF = `# service type  private unpriv  chroot  wakeup  maxproc command
pickup    unix  n       -       n       60      1       qmgr
cleanup   unix  n       -       n       -       0       qmgr
qmgr      unix  n       -       n       300     1       qmgr
showq     unix  n       -       n       -       -       qmgr
local     unix  -       n       n       -       -       local
`

func (ternFlavor) name() string { return "tern" }

func (ternFlavor) masterCF() (string, error) { return ternMasterCF, nil }

func (f ternFlavor) buildAliases(ctx context.Context, in *instance) error {
	return runCmd(ctx, nil, f.bin, "newaliases", "-c", in.conf)
}

func (f ternFlavor) control(ctx context.Context, in *instance, action string) error {
	return runCmd(ctx, nil, f.bin, action, "-c", in.conf)
}

func (f ternFlavor) sendmail(ctx context.Context, in *instance, rcpt string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(filepath.Dir(f.bin), "sendmail"), "-i", rcpt)
	cmd.Env = append(os.Environ(), "MAIL_CONFIG="+in.conf)
	return cmd
}

// installTern copies the tern binary and the sendmail binary beside it
// (src's folder, as make build leaves them) into dir, so that daemons
// running as mail_owner can execute them wherever the originals live, as
// make install does.
func installTern(src, dir string) (string, error) {
	dst := filepath.Join(dir, "tern")
	if err := copyExecutable(src, dst); err != nil {
		return "", err
	}
	if err := copyExecutable(filepath.Join(filepath.Dir(src), "sendmail"), filepath.Join(dir, "sendmail")); err != nil {
		return "", err
	}
	return dst, nil
}

// copyExecutable copies the program src to the new file dst.
func copyExecutable(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o755)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if err := out.Close(); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return nil
}

// postfixFlavor runs the installed Postfix with a config directory of its
// own (postfix -c DIR, sendmail -C DIR).
type postfixFlavor struct {
	sendmailPath string
}

// Postfix's installed programs and files this bench relies on.
const (
	postfixCmd      = "/usr/sbin/postfix"
	postdropCmd     = "/usr/sbin/postdrop"
	postaliasCmd    = "/usr/sbin/postalias"
	postconfCmd     = "/usr/sbin/postconf"
	postfixMasterCF = "/usr/share/postfix/master.cf.dist"
)

func (postfixFlavor) name() string { return "postfix" }

// masterCF is Debian's master.cf.dist with the chroot column set to n
// (chroot fails outside /var/spool/postfix) and without inet listeners,
// as for tern.
func (postfixFlavor) masterCF() (string, error) {
	f, err := os.Open(postfixMasterCF)
	if err != nil {
		return "", fmt.Errorf("postfix master.cf: %w", err)
	}
	defer f.Close()
	return rewriteMasterCF(f)
}

// rewriteMasterCF sets the chroot column of every service to n and drops
// inet services together with their continuation lines.
func rewriteMasterCF(r io.Reader) (string, error) {
	var b strings.Builder
	sc := bufio.NewScanner(r)
	dropping := false
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "" || strings.HasPrefix(trimmed, "#"):
			// Comments and blank lines stay as they are.
		case line[0] == ' ' || line[0] == '\t':
			if dropping {
				continue
			}
		default:
			fields := strings.Fields(line)
			dropping = len(fields) >= 2 && fields[1] == "inet"
			if dropping {
				continue
			}
			if len(fields) >= 8 {
				fields[4] = "n"
				line = strings.Join(fields, "\t")
			}
		}
		b.WriteString(line + "\n")
	}
	if err := sc.Err(); err != nil {
		return "", fmt.Errorf("read master.cf: %w", err)
	}
	return b.String(), nil
}

func (postfixFlavor) buildAliases(ctx context.Context, in *instance) error {
	return runCmd(ctx, nil, postaliasCmd, "-c", in.conf, filepath.Join(in.conf, "aliases"))
}

func (postfixFlavor) control(ctx context.Context, in *instance, action string) error {
	return runCmd(ctx, nil, postfixCmd, "-c", in.conf, action)
}

func (f postfixFlavor) sendmail(ctx context.Context, in *instance, rcpt string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, f.sendmailPath, "-C", in.conf, "-i", rcpt)
	cmd.Env = os.Environ()
	return cmd
}

// postfixUsable says whether the Postfix comparison can run, and if not,
// why.
func postfixUsable(sendmailPath string) (bool, string) {
	if os.Geteuid() != 0 {
		return false, "not running as root (a Postfix instance needs root)"
	}
	for _, p := range []string{postfixCmd, postdropCmd, postaliasCmd, postfixMasterCF, sendmailPath} {
		if _, err := os.Stat(p); err != nil {
			return false, "Postfix is not installed (" + p + " missing)"
		}
	}
	if real, err := filepath.EvalSymlinks(sendmailPath); err == nil && filepath.Base(real) == "tern" {
		return false, sendmailPath + " is tern's, not Postfix's"
	}
	return true, ""
}

// postfixVersion returns Postfix's mail_version ("" if unknown).
func postfixVersion(ctx context.Context) string {
	out, err := exec.CommandContext(ctx, postconfCmd, "-d", "-h", "mail_version").Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

// chownUser gives path to the named user when running as root.
func chownUser(path, name string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return fmt.Errorf("user %s: %w", name, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return fmt.Errorf("uid of %s: %w", name, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return fmt.Errorf("gid of %s: %w", name, err)
	}
	if err := os.Chown(path, uid, gid); err != nil {
		return fmt.Errorf("chown %s: %w", path, err)
	}
	return nil
}
