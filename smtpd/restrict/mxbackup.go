package restrict

import (
	"net/netip"
	"strings"
)

// permitMXBackup is Postfix's permit_mx_backup: permit a recipient whose
// domain this host is a backup MX for, or that is an authorized
// destination anyway. This host must be listed as an MX host but not
// among the best (primary) ones, and with permit_mx_backup_networks the
// primary MX hosts must be in those networks. A domain without MX records
// is permitted when it points at this host. A DNS failure turns a later
// rejection into 450 4.4.4.
func (e *eval) permitMXBackup() status {
	rcpt := e.f.Recipient
	r, err := e.resolve(rcpt)
	if err != nil {
		return e.dictRetry(rcpt, err)
	}
	switch {
	case r.routed && !e.c.set.allowUntrustedRouting:
		return dunno
	case r.class.final() || r.class == classRelay:
		return permitted
	case r.domain == "" || strings.HasPrefix(r.domain, "["):
		return dunno
	}
	hosts, err := e.c.deps.ServerHosts(e.ctx, r.domain, "MX")
	if err != nil {
		e.logf("warning: %s: MX lookup error: %v", r.domain, err)
		return e.deferIfReject(rej{code: 450, dsn: "4.4.4",
			text:   "<" + rcpt + ">: Recipient address rejected: Unable to look up mail exchanger information",
			reason: "Unable to look up mail exchanger information"})
	}
	if len(hosts) == 0 {
		return dunno
	}
	if hosts[0].Implicit {
		if e.isMine(hosts[0]) {
			return permitted
		}
		return dunno
	}
	best := hosts[0].Pref
	for _, h := range hosts {
		best = min(best, h.Pref)
	}
	var primary, backup []ServerHost
	for _, h := range hosts {
		if h.Pref == best {
			primary = append(primary, h)
		} else {
			backup = append(backup, h)
		}
	}
	if e.anyMine(primary) || !e.anyMine(backup) {
		return dunno // the primary MX for a domain we don't serve, or not an MX
	}
	if nets := e.c.deps.MXBackupNetworks; nets != nil {
		for _, h := range primary {
			for _, a := range h.Addrs {
				ip, err := netip.ParseAddr(a)
				if err != nil {
					continue
				}
				ok, err := nets(ip)
				if err != nil {
					return e.dictRetry("permit_mx_backup_networks", err)
				}
				if !ok {
					return dunno
				}
			}
		}
	}
	return permitted
}

// anyMine reports whether one of hosts has an address of this host.
func (e *eval) anyMine(hosts []ServerHost) bool {
	for _, h := range hosts {
		if e.isMine(h) {
			return true
		}
	}
	return false
}

// isMine reports whether h has an address of this host.
func (e *eval) isMine(h ServerHost) bool {
	for _, a := range h.Addrs {
		if ip, err := netip.ParseAddr(a); err == nil && e.c.deps.OwnAddr(ip.Unmap()) {
			return true
		}
	}
	return false
}
