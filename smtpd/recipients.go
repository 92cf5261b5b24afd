package smtpd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/user"
	"strings"
	"sync"
	"time"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/maps"
)

// localRecipients says whether a local address names a known recipient,
// with local_recipient_maps: Postfix's default "proxy:unix:passwd.byname
// $alias_maps" is the system users plus the aliases.
type localRecipients struct {
	any       bool // local_recipient_maps is empty: accept every local part
	passwd    bool // unix:passwd.byname is in the list
	tables    []maps.Map
	delimiter string
	users     userCache
}

// userCache remembers system user lookups for a minute, as Postfix's
// proxymap spares smtpd the passwd lookups: a lookup through NSS costs
// far more than the rest of a RCPT command.
type userCache struct {
	mu      sync.Mutex
	entries map[string]userEntry
}

type userEntry struct {
	exists bool
	at     time.Time
}

const (
	userCacheTTL  = time.Minute
	userCacheSize = 10000
)

// exists reports whether the system has the user name.
func (uc *userCache) exists(name string) (bool, error) {
	uc.mu.Lock()
	e, ok := uc.entries[name]
	uc.mu.Unlock()
	if ok && time.Since(e.at) < userCacheTTL {
		return e.exists, nil
	}
	_, err := user.Lookup(name)
	if err != nil && !errors.As(err, new(user.UnknownUserError)) {
		return false, fmt.Errorf("passwd lookup %s: %w", name, err)
	}
	uc.mu.Lock()
	defer uc.mu.Unlock()
	if uc.entries == nil || len(uc.entries) >= userCacheSize {
		uc.entries = map[string]userEntry{}
	}
	uc.entries[name] = userEntry{exists: err == nil, at: time.Now()}
	return err == nil, nil
}

func newLocalRecipients(cfg *config.Config, configDir string) (*localRecipients, error) {
	specs, err := maps.SplitSpecs(cfg.Get("local_recipient_maps"))
	if err != nil {
		return nil, fmt.Errorf("local_recipient_maps: %w", err)
	}
	lr := &localRecipients{any: len(specs) == 0, delimiter: cfg.Get("recipient_delimiter")}
	var rest []string
	for _, s := range specs {
		switch strings.TrimPrefix(s, "proxy:") {
		case "unix:passwd.byname":
			lr.passwd = true
		default:
			rest = append(rest, s)
		}
	}
	if len(rest) > 0 {
		lr.tables, _, err = maps.OpenList(rest, maps.Options{ConfigDir: configDir})
		if err != nil {
			return nil, fmt.Errorf("local_recipient_maps: %w", err)
		}
	}
	return lr, nil
}

// known reports whether the local part names a recipient: the address,
// then the local part, then both without the address extension.
func (lr *localRecipients) known(_ context.Context, addr string) (bool, error) {
	if lr.any {
		return true, nil
	}
	local, _, _ := strings.Cut(addr, "@")
	local = strings.ToLower(local)
	keys := []string{strings.ToLower(addr), local}
	if lr.delimiter != "" {
		if i := strings.IndexAny(local, lr.delimiter); i > 0 {
			keys = append(keys, local[:i])
		}
	}
	for _, k := range keys {
		if lr.passwd && !strings.Contains(k, "@") {
			if ok, err := lr.users.exists(k); err != nil || ok {
				return ok, err
			}
		}
		for _, t := range lr.tables {
			if _, found, err := t.Lookup(k); err != nil {
				return false, err
			} else if found {
				return true, nil
			}
		}
	}
	return false, nil
}

// domainResolves reports whether a domain has an MX or an address record,
// for reject_unknown_sender_domain and reject_unknown_recipient_domain.
func domainResolves(ctx context.Context, r *net.Resolver, domain string) (ok, temporary bool, err error) {
	domain = strings.TrimSuffix(domain, ".")
	if strings.HasPrefix(domain, "[") {
		return true, false, nil // an address literal
	}
	if mx, err := r.LookupMX(ctx, domain); err == nil && len(mx) > 0 {
		return true, false, nil
	} else if tempDNS(err) {
		return false, true, err
	}
	if addrs, err := r.LookupHost(ctx, domain); err == nil && len(addrs) > 0 {
		return true, false, nil
	} else if tempDNS(err) {
		return false, true, err
	}
	return false, false, nil
}

func tempDNS(err error) bool {
	var de *net.DNSError
	return errors.As(err, &de) && (de.IsTemporary || de.IsTimeout)
}
