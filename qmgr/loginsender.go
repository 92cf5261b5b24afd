package qmgr

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/envelope"
	"github.com/tern-mta/tern/pkg/maps"
	"github.com/tern-mta/tern/pkg/rewrite"
)

// loginSenders is local_login_sender_maps (Postfix 3.6): tables that map
// the login name of a local submitter (sendmail) to the envelope senders
// it may use. Patterns, separated by commas or white space: "*" allows
// any sender, the empty_address_local_login_sender_maps_lookup_key value
// ("<>") the null sender, "@domain" any address in domain, and anything
// else that address (without its extension, case ignored). A login no
// table knows may use no sender at all.
type loginSenders struct {
	tables []maps.Map
	null   string            // the pattern of the null sender
	ext    *rewrite.Settings // splits address extensions (recipient_delimiter)
}

// newLoginSenders opens local_login_sender_maps; nil when it is Postfix's
// default, which allows every sender to everyone.
func newLoginSenders(cfg *config.Config, opt maps.Options) (*loginSenders, error) {
	spec := strings.TrimSpace(cfg.Get("local_login_sender_maps"))
	if spec == "static:*" {
		return nil, nil
	}
	tables, _, err := maps.OpenSpecList(spec, opt)
	if err != nil {
		return nil, fmt.Errorf("local_login_sender_maps: %w", err)
	}
	return &loginSenders{tables: tables, null: strings.TrimSpace(cfg.Get("empty_address_local_login_sender_maps_lookup_key")),
		ext: &rewrite.Settings{RecipientDelimiter: cfg.Get("recipient_delimiter"), DoubleBounceSender: cfg.Get("double_bounce_sender")}}, nil
}

// loginKey is the name a submitter is looked up by: the login name, or
// "uid:N" for a user id without a password file entry.
func loginKey(env *envelope.Envelope) string {
	if _, err := strconv.Atoi(env.SubmitUser); err == nil || env.SubmitUser == "" {
		return "uid:" + strconv.Itoa(env.SubmitUID)
	}
	return env.SubmitUser
}

// allows reports whether the submitter login may use sender. A table
// failure is returned as an error.
func (l *loginSenders) allows(login, sender string) (bool, error) {
	if l == nil {
		return true, nil
	}
	for _, t := range l.tables {
		value, found, err := t.Lookup(login)
		if err != nil {
			return false, err
		}
		if found {
			return l.match(value, sender), nil
		}
	}
	return false, nil
}

// match reports whether one of the patterns of value admits sender.
func (l *loginSenders) match(value, sender string) bool {
	stripped := sender
	local, domain, hasAt := sender, "", false
	if at := strings.LastIndexByte(sender, '@'); at >= 0 {
		local, domain, hasAt = sender[:at], sender[at+1:], true
	}
	if user, ext := l.ext.SplitExtension(local); ext != "" {
		stripped = user
		if hasAt {
			stripped += "@" + domain
		}
	}
	for _, p := range splitPatterns(value) {
		switch {
		case p == "*":
			return true
		case strings.EqualFold(p, l.null):
			if sender == "" {
				return true
			}
		case strings.HasPrefix(p, "@"):
			if hasAt && strings.EqualFold(p[1:], domain) {
				return true
			}
		case sender != "" && strings.EqualFold(p, stripped):
			return true
		}
	}
	return false
}

// splitPatterns splits a table value at commas and white space, except
// inside double quotes ("first last"@example.com).
func splitPatterns(v string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for _, r := range v {
		switch {
		case r == '"':
			quoted = !quoted
			cur.WriteRune(r)
		case !quoted && (r == ',' || r == ' ' || r == '\t'):
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}
