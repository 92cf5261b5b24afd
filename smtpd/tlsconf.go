package smtpd

import (
	"crypto/tls"
	"fmt"
	"strings"

	"github.com/tern-mta/tern/pkg/config"
	"github.com/tern-mta/tern/pkg/tlsconf"
)

// tlsConfig builds the server TLS configuration from smtpd_tls_cert_file
// and smtpd_tls_key_file, and smtpd_tls_eccert_file with
// smtpd_tls_eckey_file (or smtpd_tls_chain_files: key and certificates
// in one PEM file each). It returns nil when the level is none and wrapper
// mode is off; a level that needs TLS without a certificate is an error.
func tlsConfig(cfg *config.Config, set settings) (*tls.Config, error) {
	if set.tlsLevel == "none" && !set.wrapperMode {
		return nil, nil
	}
	certs, err := tlsconf.LoadCertificates(tlsconf.CertSettings{Prefix: "smtpd", Chain: cfg.List("smtpd_tls_chain_files"),
		Cert: cfg.Get("smtpd_tls_cert_file"), Key: cfg.Get("smtpd_tls_key_file"),
		ECCert: cfg.Get("smtpd_tls_eccert_file"), ECKey: cfg.Get("smtpd_tls_eckey_file")})
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("smtpd_tls_security_level = %s (or smtpd_tls_wrappermode) needs smtpd_tls_cert_file", set.tlsLevel)
	}
	// As in Postfix, the mandatory list applies where TLS is required.
	param := "smtpd_tls_protocols"
	if set.tlsLevel == "encrypt" || set.wrapperMode {
		param = "smtpd_tls_mandatory_protocols"
	}
	min, err := tlsconf.MinVersion(param, cfg.Get(param))
	if err != nil {
		return nil, err
	}
	c := &tls.Config{Certificates: certs, MinVersion: min, CipherSuites: serverSuites(cfg, param == "smtpd_tls_mandatory_protocols")}
	_, autoSet := cfg.Raw("tls_eecdh_auto_curves")
	if curves, ok := tlsconf.ServerCurves(cfg.Get("smtpd_tls_eecdh_grade"), cfg.Get("tls_eecdh_auto_curves"), autoSet,
		cfg.Get("tls_eecdh_strong_curve"), cfg.Get("tls_eecdh_ultra_curve")); ok {
		c.CurvePreferences = curves
	}
	if len(set.sniMaps) > 0 {
		c.GetCertificate = (&sniCertificates{maps: set.sniMaps}).certificate
	}
	if set.ccert.ask {
		// Asked, not required, and checked after the handshake
		// (ccert.go): an untrusted certificate still gets TLS, as in
		// Postfix.
		c.ClientAuth = tls.RequestClientCert
	}
	return c, nil
}

// serverSuites are the TLS 1.2 suites smtpd offers (nil: Go's): the
// explicit list of the grade smtpd_tls_ciphers (smtpd_tls_mandatory_ciphers
// where TLS is mandatory) names, less smtpd_tls_exclude_ciphers (and
// smtpd_tls_mandatory_exclude_ciphers), as far as tern can honour them;
// the configuration warnings name what it cannot.
func serverSuites(cfg *config.Config, mandatory bool) []uint16 {
	grade, excl := cfg.Get("smtpd_tls_ciphers"), []string{cfg.Get("smtpd_tls_exclude_ciphers")}
	if mandatory {
		grade = cfg.Get("smtpd_tls_mandatory_ciphers")
		excl = append(excl, cfg.Get("smtpd_tls_mandatory_exclude_ciphers"))
	}
	if !tlsconf.GradeUsable(grade) {
		return nil
	}
	return tlsconf.Suites(cfg.Get("tls_"+strings.ToLower(strings.TrimSpace(grade))+"_cipherlist"), excl...)
}
