package config

import "sort"

// Version is tern's version, the default of mail_version; a build may set
// it with -ldflags "-X github.com/tern-mta/tern/pkg/config.Version=...".
// Nothing changes it at run time.
var Version = "0.1"

// Param describes one main.cf parameter: its name, its default value as
// written in main.cf syntax (before $name expansion), its type and a one-line
// description.
//
// Type is one of "string", "bool", "int", "size", "list", "map-list" or
// "time:U", where U is the unit (s, m, h, d or w) assumed when a value has
// no unit of its own.
type Param struct {
	Name, Default, Type, Doc string
}

// Parameter type names used in the table.
const (
	typeString  = "string"
	typeBool    = "bool"
	typeInt     = "int"
	typeSize    = "size"
	typeList    = "list"
	typeMapList = "map-list"
	typeTimeS   = "time:s"
	typeTimeM   = "time:m"
	typeTimeH   = "time:h"
	typeTimeD   = "time:d"
)

// paramTable holds every known parameter in the order of the params_*.go
// tables (Params sorts a copy: a sort at start-up was a tenth of the CPU
// of a sendmail call). It is built once at package initialisation and
// never modified afterwards. The tables it joins are package variables,
// which the linker lays out as data: as functions returning literals they
// were 100 KB of code run once per process, and the package's set-up in
// a sendmail call took twice as long.
var paramTable = buildTable()

// paramIndex maps a parameter name to its position in paramTable. It is
// built once at package initialisation and never modified afterwards.
var paramIndex = buildIndex(paramTable)

func buildTable() []Param {
	var all []Param
	for _, part := range [][]Param{
		coreParams, queueParams, localParams, rewriteParams,
		smtpdParams, milterParams, smtpdTLSParams, smtpParams, lmtpParams, postscreenParams, ternParams, compatParams,
	} {
		all = append(all, part...)
	}
	return all
}

func buildIndex(t []Param) map[string]int {
	m := make(map[string]int, len(t))
	for i, p := range t {
		m[p.Name] = i
	}
	return m
}

// Params returns a copy of the parameter table, sorted by name.
func Params() []Param {
	out := make([]Param, len(paramTable))
	copy(out, paramTable)
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Lookup returns the table entry for name. For myhostname, mydomain and
// mynetworks the Default field is empty: their defaults are computed from
// the machine (see their Doc), and Defaults().Raw gives the computed value.
func Lookup(name string) (Param, bool) {
	i, ok := paramIndex[name]
	if !ok {
		return Param{}, false
	}
	return paramTable[i], true
}

// isRawParam reports whether a parameter's value is used unexpanded, as
// Postfix does for values that the delivery agents expand themselves with
// per-recipient attributes such as $home, $user or $extension.
func isRawParam(name string) bool {
	switch name {
	case "forward_path", "mailbox_command", "luser_relay", "smtpd_reject_footer",
		"default_rbl_reply", "command_expansion_filter":
		return true
	}
	return false
}
