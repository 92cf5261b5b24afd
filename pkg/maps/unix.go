package maps

import (
	"errors"
	"fmt"
	"os/user"
)

// passwdMap is Postfix's unix:passwd.byname: the system's user names,
// each with its passwd entry as the value.
type passwdMap struct{ spec string }

func openUnix(spec, name string) (Map, error) {
	if name != "passwd.byname" {
		return nil, fmt.Errorf("open %s: unsupported unix: table %q (only passwd.byname)", spec, name)
	}
	return passwdMap{spec: spec}, nil
}

// Lookup returns "name:x:uid:gid:gecos:home:" for a user; the shell is not
// known through os/user and is left empty.
func (p passwdMap) Lookup(key string) (string, bool, error) {
	u, err := user.Lookup(key)
	if errors.As(err, new(user.UnknownUserError)) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("%s: %w", p.spec, err)
	}
	return fmt.Sprintf("%s:x:%s:%s:%s:%s:", u.Username, u.Uid, u.Gid, u.Name, u.HomeDir), true, nil
}

func (p passwdMap) Name() string { return p.spec }

func (p passwdMap) Close() error { return nil }
