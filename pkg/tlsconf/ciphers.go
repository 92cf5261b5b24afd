package tlsconf

import (
	"crypto/tls"
	"slices"
	"strings"
)

// opensslSuites maps the OpenSSL names of the TLS 1.2 cipher suites that
// Go offers (all with ECDHE key exchange) to their ids. TLS 1.3 suites
// are not chosen by cipher lists, in OpenSSL as in Go.
var opensslSuites = map[string]uint16{
	"ECDHE-ECDSA-AES128-GCM-SHA256": tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-RSA-AES128-GCM-SHA256":   tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	"ECDHE-ECDSA-AES256-GCM-SHA384": tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-RSA-AES256-GCM-SHA384":   tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	"ECDHE-ECDSA-CHACHA20-POLY1305": tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-RSA-CHACHA20-POLY1305":   tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
	"ECDHE-ECDSA-AES128-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA,
	"ECDHE-RSA-AES128-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA,
	"ECDHE-ECDSA-AES256-SHA":        tls.TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA,
	"ECDHE-RSA-AES256-SHA":          tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA,
}

// neverOffered are OpenSSL cipher keywords naming only what Go's TLS
// never offers: excluding them is already done.
var neverOffered = []string{"aNULL", "eNULL", "NULL", "EXPORT", "EXP", "LOW", "DES", "3DES", "RC4", "RC2",
	"MD5", "PSK", "SRP", "KRB5", "aDSS", "DSS", "kDH", "kDHE", "kEDH", "DHE", "EDH", "ADH", "AECDH", "aECDH",
	"kECDH", "CAMELLIA", "SEED", "IDEA", "kRSA", "aGOST", "kGOST", "GOST", "ARIA", "CCM", "CCM8", "SSLv2", "SSLv3"}

// cipherWords splits an OpenSSL cipher list.
func cipherWords(list string) []string {
	return strings.FieldsFunc(list, func(r rune) bool { return r == ':' || r == ',' || r == ' ' || r == '\t' })
}

// ParseCipherList reads a cipher list of plain OpenSSL suite names, as
// the widely copied hardened settings write tls_medium_cipherlist
// ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:..."): the
// Go suites they name, in order, and the names Go does not offer
// (DHE-RSA-..., RSA key exchange), which are left out. ok is false for a
// list with OpenSSL keywords or operators (HIGH, !aNULL, @STRENGTH, ...),
// which tern cannot honour, and for one naming no suite Go offers.
func ParseCipherList(list string) (suites []uint16, skipped []string, ok bool) {
	for _, w := range cipherWords(list) {
		if id, known := opensslSuites[strings.ToUpper(w)]; known {
			if !slices.Contains(suites, id) {
				suites = append(suites, id)
			}
			continue
		}
		if !strings.Contains(w, "-") || strings.ContainsAny(w[:1], "!+-@") {
			return nil, nil, false // a keyword or an operator
		}
		skipped = append(skipped, w)
	}
	return suites, skipped, len(suites) > 0
}

// CipherListUsable reports whether ParseCipherList can honour list.
func CipherListUsable(list string) bool {
	_, _, ok := ParseCipherList(list)
	return ok
}

// ExcludeCiphers removes from suites (nil: Go's defaults) what an
// exclusion list (smtpd_tls_exclude_ciphers and its kin) names: suite
// names, and SHA1 (the CBC suites with SHA-1 MACs), AES128, AES256,
// CHACHA20, aECDSA and aRSA; keywords for what Go never offers need
// nothing. ok is false when the list has a word tern cannot apply.
func ExcludeCiphers(suites []uint16, list string) (_ []uint16, ok bool) {
	if suites == nil {
		for _, c := range tls.CipherSuites() {
			if !slices.Contains(c.SupportedVersions, tls.VersionTLS13) {
				suites = append(suites, c.ID)
			}
		}
	}
	out := slices.Clone(suites)
	for _, w := range cipherWords(list) {
		w = strings.TrimLeft(w, "!-")
		if slices.ContainsFunc(neverOffered, func(k string) bool { return strings.EqualFold(k, w) }) {
			continue
		}
		drop, known := exclusion(w)
		if !known {
			return suites, false
		}
		out = slices.DeleteFunc(out, func(id uint16) bool { return drop(openSSLName(id)) })
	}
	return out, true
}

// exclusion returns the test of an exclusion word on OpenSSL suite names.
func exclusion(w string) (func(name string) bool, bool) {
	if _, isName := opensslSuites[strings.ToUpper(w)]; isName {
		return func(n string) bool { return strings.EqualFold(n, w) }, true
	}
	if strings.Contains(w, "-") && !strings.ContainsAny(w, "+:@") {
		// A suite name Go does not offer (EDH-RSA-DES-CBC3-SHA, ...):
		// already excluded.
		return func(string) bool { return false }, true
	}
	contains := func(part string) func(string) bool {
		return func(n string) bool { return strings.Contains(n, part) }
	}
	switch strings.ToUpper(w) {
	case "SHA1", "SHA":
		return func(n string) bool { return strings.HasSuffix(n, "-SHA") }, true
	case "AES128":
		return contains("AES128"), true
	case "AES256":
		return contains("AES256"), true
	case "CHACHA20":
		return contains("CHACHA20"), true
	case "AECDSA", "ECDSA":
		return contains("-ECDSA-"), true
	case "ARSA":
		return contains("-RSA-"), true
	}
	return nil, false
}

// ExclusionsUsable reports whether ExcludeCiphers can apply list.
func ExclusionsUsable(list string) bool {
	_, ok := ExcludeCiphers(nil, list)
	return ok
}

// openSSLName is the OpenSSL name of a suite of opensslSuites.
func openSSLName(id uint16) string {
	for n, v := range opensslSuites {
		if v == id {
			return n
		}
	}
	return ""
}

// SSLOptionsUsable reports whether every word of a tls_ssl_options value
// is already how Go's TLS behaves: NO_COMPRESSION and NO_RENEGOTIATION
// (Go neither compresses nor renegotiates as a server), and
// ENABLE_MIDDLEBOX_COMPAT (Go's TLS 1.3 sends the compatibility
// records).
func SSLOptionsUsable(v string) bool {
	for _, w := range cipherWords(v) {
		switch strings.ToUpper(w) {
		case "NO_COMPRESSION", "NO_RENEGOTIATION", "ENABLE_MIDDLEBOX_COMPAT":
		default:
			return false
		}
	}
	return true
}

// Suites returns the TLS 1.2 cipher suites for a grade's cipher list
// (tls_medium_cipherlist and its kin) and exclusion lists: nil, Go's
// defaults, unless the list is one ParseCipherList honours or an
// exclusion removes something. Lists tern cannot honour are left to the
// configuration warnings.
func Suites(list string, exclusions ...string) []uint16 {
	suites, _, ok := ParseCipherList(list)
	if !ok {
		suites = nil
	}
	for _, ex := range exclusions {
		if strings.TrimSpace(ex) == "" {
			continue
		}
		before := suites
		if before == nil {
			before, _ = ExcludeCiphers(nil, "") // Go's TLS 1.2 defaults
		}
		if s, ok := ExcludeCiphers(suites, ex); ok && len(s) > 0 && len(s) < len(before) {
			suites = s // something was removed: an explicit list from now on
		}
	}
	return suites
}

// GradeUsable reports whether a *_tls_ciphers grade is one Go's suites
// meet: high and medium (every suite Go offers is of OpenSSL's grade
// high); low, export and null ask for weak ciphers Go does not have.
func GradeUsable(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "high", "medium":
		return true
	}
	return false
}

// opensslCurves maps OpenSSL curve names to Go's; X448 has no Go
// counterpart.
var opensslCurves = map[string]tls.CurveID{
	"x25519mlkem768": tls.X25519MLKEM768,
	"x25519":         tls.X25519, "prime256v1": tls.CurveP256, "p-256": tls.CurveP256, "secp256r1": tls.CurveP256,
	"secp384r1": tls.CurveP384, "p-384": tls.CurveP384, "secp521r1": tls.CurveP521, "p-521": tls.CurveP521,
}

// Curves reads an OpenSSL curve list (tls_eecdh_auto_curves): the Go
// curves it names, in order, skipping X448, which Go lacks. ok is false
// for a name tern does not know or a list that names no curve Go has.
func Curves(list string) (curves []tls.CurveID, ok bool) {
	for _, w := range cipherWords(list) {
		w = strings.ToLower(w)
		if w == "x448" {
			continue
		}
		id, known := opensslCurves[w]
		if !known {
			return nil, false
		}
		if !slices.Contains(curves, id) {
			curves = append(curves, id)
		}
	}
	return curves, len(curves) > 0
}

// CurvesUsable reports whether Curves can honour list.
func CurvesUsable(list string) bool {
	_, ok := Curves(list)
	return ok
}

// ServerCurves returns the key exchange curves of smtpd_tls_eecdh_grade:
// auto uses the auto list when autoSet (otherwise nil: Go's own choice,
// which includes the post-quantum X25519MLKEM768 that Postfix's default
// list cannot name), strong and ultra the one curve their parameter
// names. ok is false for a grade or curve tern cannot honour (none,
// which would leave TLS without key exchange, and unknown names).
func ServerCurves(grade, autoList string, autoSet bool, strong, ultra string) (curves []tls.CurveID, ok bool) {
	switch strings.ToLower(strings.TrimSpace(grade)) {
	case "auto", "":
		if !autoSet {
			return nil, true
		}
		return Curves(autoList)
	case "strong":
		return Curves(strong)
	case "ultra":
		return Curves(ultra)
	}
	return nil, false
}
