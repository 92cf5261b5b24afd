package config

import (
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// validateAll checks every set value (in file order) and then every
// default that can change with them: each must expand without error and
// fit its type. A default with no $name in it and not computed from the
// machine is the same in every configuration (TestFixedDefaultsValid
// checks them), and checking 800 of them was a tenth of a sendmail
// call's CPU.
func (c *Config) validateAll() error {
	names := make([]string, 0, len(c.vals))
	for k := range c.vals {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		li, lj := c.vals[names[i]].line, c.vals[names[j]].line
		if li != lj {
			return li < lj
		}
		return names[i] < names[j]
	})
	for _, k := range names {
		if err := c.validate(k); err != nil {
			return &Error{File: c.file, Line: c.vals[k].line, Msg: err.Error()}
		}
	}
	for _, p := range paramTable {
		if _, set := c.vals[p.Name]; set || isFixedDefault(p) {
			continue
		}
		if err := c.validate(p.Name); err != nil {
			return &Error{File: c.file, Msg: fmt.Sprintf("default of %s: %v", p.Name, err)}
		}
	}
	if err := c.CheckMaillogFile(); err != nil {
		return &Error{File: c.file, Line: c.vals["maillog_file"].line, Msg: err.Error()}
	}
	return nil
}

// CheckMaillogFile refuses a maillog_file outside maillog_file_prefixes,
// Postfix's guard against one mistake sending the log over a file of the
// system. The file name is cleaned first, so ".." can't climb out.
func (c *Config) CheckMaillogFile() error {
	file := strings.TrimSpace(c.Get("maillog_file"))
	if file == "" {
		return nil
	}
	prefixes := c.List("maillog_file_prefixes")
	if pathHasPrefix(file, prefixes) {
		return nil
	}
	return fmt.Errorf("maillog_file value %q does not match any prefix in maillog_file_prefixes (%s)", file, strings.Join(prefixes, ", "))
}

// pathHasPrefix reports whether the cleaned path is one of prefixes or
// lies below one of them.
func pathHasPrefix(path string, prefixes []string) bool {
	path = filepath.Clean(path)
	for _, p := range prefixes {
		p = filepath.Clean(p)
		if path == p || p == "/" || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

// isFixedDefault reports whether p's default is the same in every
// configuration: no $name to expand, not computed from the machine.
func isFixedDefault(p Param) bool {
	return !strings.Contains(p.Default, "$") && !isComputed(p.Name)
}

// validate expands name and checks the result against its type.
func (c *Config) validate(name string) error {
	if isRawParam(name) {
		return nil
	}
	v, err := c.expandValue(name)
	if err != nil {
		return err
	}
	p, ok := Lookup(name)
	if !ok {
		return nil
	}
	return checkType(p, v)
}

// checkType reports whether v (expanded) is a valid value for p.
func checkType(p Param, v string) error {
	v = strings.TrimFunc(v, isSpaceRune)
	var err error
	kind := "string"
	switch {
	case p.Type == typeBool:
		kind = "boolean"
		_, err = parseBool(v)
	case p.Type == typeInt:
		kind = "numerical"
		_, err = strconv.ParseInt(v, 10, 32)
	case p.Type == typeSize:
		kind = "numerical"
		var n int64
		n, err = strconv.ParseInt(v, 10, 64)
		if err == nil && n < 0 {
			err = errors.New("negative")
		}
	case strings.HasPrefix(p.Type, "time:"):
		kind = "time"
		_, err = parseDuration(v, p.Type[len("time:"):])
	}
	if err != nil {
		return fmt.Errorf("bad %s parameter value: %s = %s", kind, p.Name, v)
	}
	if check := valueChecks[p.Name]; check != nil {
		if err := check(v); err != nil {
			return fmt.Errorf("%s = %s: %v", p.Name, v, err)
		}
	}
	return nil
}

// checkDigest checks a *_tls_fingerprint_digest value.
func checkDigest(v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "md5", "sha1", "sha256":
		return nil
	}
	return errors.New("need md5, sha1 or sha256")
}

// ParseFeedback parses a destination concurrency feedback amount, as
// Postfix's qmgr does: a number from 0 to 1, optionally followed by
// "/concurrency" (perWindow: divided by the destination's window).
func ParseFeedback(v string) (base float64, perWindow bool, err error) {
	num, per, hasPer := strings.Cut(strings.TrimSpace(v), "/")
	if hasPer && !strings.EqualFold(strings.TrimSpace(per), "concurrency") {
		return 0, false, errors.New("need a number or number/concurrency")
	}
	base, err = strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || !(base >= 0 && base <= 1) { // NaN too
		return 0, false, errors.New("need a number from 0 to 1, or that over concurrency")
	}
	return base, hasPer, nil
}

func checkFeedback(v string) error {
	_, _, err := ParseFeedback(v)
	return err
}

// checkPostscreenAction checks a postscreen test's action; continue is
// Postfix's old name for ignore.
func checkPostscreenAction(v string) error {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "ignore", "continue", "enforce", "drop":
		return nil
	}
	return errors.New("need ignore, enforce or drop")
}

// valueChecks check the values of parameters whose syntax is more than
// their type.
var valueChecks = map[string]func(v string) error{
	"receive_override_options": func(v string) error {
		for _, w := range splitList(v) {
			switch strings.ToLower(w) {
			case "no_unknown_recipient_checks", "no_address_mappings", "no_header_body_checks", "no_milters":
			default:
				return fmt.Errorf("unknown option %q: tern knows no_unknown_recipient_checks, no_address_mappings, no_header_body_checks and no_milters", w)
			}
		}
		return nil
	},
	"smtpd_sasl_security_options":     checkSASLSecurityOptions,
	"smtpd_sasl_tls_security_options": checkSASLSecurityOptions,
	"smtp_sasl_security_options":      checkSASLSecurityOptions,
	"smtp_sasl_tls_security_options":  checkSASLSecurityOptions,
	"smtp_tls_fingerprint_digest":     checkDigest,
	"smtpd_tls_fingerprint_digest":    checkDigest,
	"header_from_format": func(v string) error {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "standard", "obsolete":
			return nil
		}
		return errors.New("need standard or obsolete")
	},
	"smtpd_upstream_proxy_protocol": func(v string) error {
		if v := strings.TrimSpace(v); v != "" && v != "haproxy" {
			return errors.New("need haproxy or nothing")
		}
		return nil
	},
	"smtp_dns_support_level": func(v string) error {
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "", "disabled", "enabled", "dnssec":
			return nil
		}
		return errors.New("need disabled, enabled or dnssec")
	},
	"default_verp_delimiters": func(v string) error {
		if len(strings.TrimSpace(v)) != 2 {
			return errors.New("need two characters")
		}
		return nil
	},
	"undisclosed_recipients_header": func(v string) error {
		v = strings.TrimSpace(v)
		name, _, ok := strings.Cut(v, ":")
		if v != "" && (!ok || name == "" || strings.ContainsAny(name, " \t")) {
			return errors.New("need a header line, as \"To: undisclosed-recipients:;\"")
		}
		return nil
	},
	"default_destination_concurrency_positive_feedback": checkFeedback,
	"default_destination_concurrency_negative_feedback": checkFeedback,
	"postscreen_denylist_action":                        checkPostscreenAction,
	"postscreen_dnsbl_action":                           checkPostscreenAction,
	"postscreen_greet_action":                           checkPostscreenAction,
	"postscreen_dnsbl_sites": func(v string) error {
		for _, site := range splitList(v) {
			zone, weight, hasWeight := strings.Cut(site, "*")
			if zone == "" || strings.HasPrefix(zone, "=") {
				return fmt.Errorf("%q: need a DNS list domain", site)
			}
			if _, err := strconv.Atoi(weight); hasWeight && err != nil {
				return fmt.Errorf("%q: the weight after * must be a whole number", site)
			}
		}
		return nil
	},
	"smtp_min_data_rate":  checkMinDataRate,
	"lmtp_min_data_rate":  checkMinDataRate,
	"smtpd_min_data_rate": checkMinDataRate,
	"internal_mail_filter_classes": func(v string) error {
		for _, w := range splitList(v) {
			if w = strings.ToLower(w); w != "bounce" && w != "notify" {
				return fmt.Errorf("unknown class %q (bounce or notify)", w)
			}
		}
		return nil
	},
	"master_service_disable": func(v string) error {
		for _, w := range splitList(v) {
			_, typ, _ := strings.Cut(strings.TrimPrefix(w, "!"), "/")
			if !strings.Contains(w, "/") {
				typ = strings.TrimPrefix(w, "!")
			}
			switch strings.ToLower(typ) {
			case "inet", "unix", "fifo", "pass":
			default:
				return fmt.Errorf("%q: need a service type (inet, unix, fifo, pass) or name/type", w)
			}
		}
		return nil
	},
	"content_filter": func(v string) error {
		if v != "" && !strings.Contains(v, ":") {
			return errors.New("need transport:nexthop (the next hop may be empty)")
		}
		return nil
	},
}

// checkMinDataRate checks a *_min_data_rate: a rate below 1 byte per
// second would make every deadline infinite or undefined.
func checkMinDataRate(v string) error {
	if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil && n < 1 {
		return errors.New("need at least 1 (bytes per second)")
	}
	return nil
}

// checkSASLSecurityOptions checks the words of smtpd_sasl_security_options
// and its relatives; package sasl gives them their meaning.
func checkSASLSecurityOptions(v string) error {
	for _, w := range splitList(v) {
		switch strings.ToLower(w) {
		case "noanonymous", "noplaintext", "nodictionary", "noactive", "forward_secrecy", "mutual_auth":
		default:
			return fmt.Errorf("unknown option %q: tern knows noanonymous, noplaintext, nodictionary, noactive, forward_secrecy and mutual_auth", w)
		}
	}
	return nil
}

// parseBool accepts yes, no, true and false in any case.
func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "true":
		return true, nil
	case "no", "false":
		return false, nil
	}
	return false, fmt.Errorf("bad boolean value %q", s)
}

// defaultUnit returns the unit assumed for a unit-less value of name.
func defaultUnit(name string) string {
	if p, ok := Lookup(name); ok && strings.HasPrefix(p.Type, "time:") {
		return p.Type[len("time:"):]
	}
	return "s"
}

// timeUnits maps Postfix time units (plus ms, a tern extension) to their
// length.
func timeUnit(u string) (time.Duration, bool) {
	switch u {
	case "ms":
		return time.Millisecond, true
	case "s":
		return time.Second, true
	case "m":
		return time.Minute, true
	case "h":
		return time.Hour, true
	case "d":
		return 24 * time.Hour, true
	case "w":
		return 7 * 24 * time.Hour, true
	}
	return 0, false
}

// parseDuration parses a Postfix time value: decimal digits and an
// optional unit; unit is used when none is given.
func parseDuration(s, unit string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("bad time value %q", s)
	}
	n, err := strconv.ParseInt(s[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad time value %q: %w", s, err)
	}
	if u := strings.ToLower(s[i:]); u != "" {
		unit = u
	}
	d, ok := timeUnit(unit)
	if !ok {
		return 0, fmt.Errorf("bad time unit in %q", s)
	}
	if n > math.MaxInt64/int64(d) {
		return 0, fmt.Errorf("time value %q out of range", s)
	}
	return time.Duration(n) * d, nil
}

// ParseDuration parses a Postfix time value ("10s", "5m", "300"), a
// number without a unit being in defaultUnit (s, m, h, d or w).
func ParseDuration(s, defaultUnit string) (time.Duration, error) {
	return parseDuration(s, defaultUnit)
}
