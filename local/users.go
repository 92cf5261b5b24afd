package local

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
)

// SystemUsers is the UserDB of the system's accounts: /etc/passwd first,
// then the C library's name service through os/user.
type SystemUsers struct {
	// PasswdFile is the passwd file to read; "" = /etc/passwd.
	PasswdFile string
}

// Lookup finds the account name.
func (s SystemUsers) Lookup(name string) (*User, error) {
	path := s.PasswdFile
	if path == "" {
		path = "/etc/passwd"
	}
	if u, err := lookupPasswd(path, name); err == nil || !errors.Is(err, ErrNoUser) {
		return u, err
	}
	pw, err := user.Lookup(name)
	if err != nil {
		var unknown user.UnknownUserError
		if errors.As(err, &unknown) {
			return nil, ErrNoUser
		}
		return nil, fmt.Errorf("look up user %s: %w", name, err)
	}
	uid, err1 := strconv.Atoi(pw.Uid)
	gid, err2 := strconv.Atoi(pw.Gid)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("look up user %s: non-numeric uid %q or gid %q", name, pw.Uid, pw.Gid)
	}
	return &User{Name: pw.Username, Home: pw.HomeDir, Gecos: pw.Name, UID: uid, GID: gid}, nil
}

// lookupPasswd scans a passwd(5) file for name.
func lookupPasswd(path, name string) (*User, error) {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, ErrNoUser
		}
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if u, ok := parsePasswdLine(sc.Text()); ok && u.Name == name {
			return u, nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return nil, ErrNoUser
}

// parsePasswdLine parses "name:pw:uid:gid:gecos:home:shell".
func parsePasswdLine(line string) (*User, bool) {
	f := strings.Split(line, ":")
	if len(f) != 7 || f[0] == "" || strings.HasPrefix(f[0], "+") || strings.HasPrefix(f[0], "-") {
		return nil, false
	}
	uid, err1 := strconv.Atoi(f[2])
	gid, err2 := strconv.Atoi(f[3])
	if err1 != nil || err2 != nil {
		return nil, false
	}
	return &User{Name: f[0], Gecos: f[4], Home: f[5], Shell: f[6], UID: uid, GID: gid}, true
}
