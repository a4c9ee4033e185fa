package harness

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// secure is the TLS and basic-auth set-up of a run with -tls, nil
// otherwise. Sightline is then started as a production deployment would
// be (-web.config.file: TLS on the HTTP and both OTLP ports, a bcrypt
// user), and every client of the run — senders, queries, scrapes — speaks
// TLS as that user, so that the report shows what TLS and authentication
// cost. It is set once, before the run starts Sightline.
var secure *secureSetup

type secureSetup struct {
	webConfig      string
	tls            *tls.Config // trusts the run's self-signed certificate
	user, password string
}

// setUpSecure writes a self-signed certificate for 127.0.0.1, its key and
// a web configuration file with one user into dir.
func setUpSecure(dir string) (*secureSetup, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sightline-bench"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	s := &secureSetup{webConfig: filepath.Join(dir, "web.yml"), user: "bench", password: "bench-password"}
	// Cost 10, as htpasswd -B makes them: the server's cost per request is
	// what a real deployment pays.
	hash, err := bcrypt.GenerateFromPassword([]byte(s.password), 10)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"cert.pem": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"key.pem":  pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
		"web.yml": fmt.Appendf(nil, "tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n  %s: %s\n",
			filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), s.user, hash),
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return nil, err
		}
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	s.tls = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return s, nil
}

// flags are Sightline's flags for the set-up; the user is an admin so
// that the run may scrape /metrics.
func (s *secureSetup) flags() []string {
	return []string{"-web.config.file", s.webConfig, "-auth.admin-user", s.user}
}

// authorization is the Authorization header value of the user.
func (s *secureSetup) authorization() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(s.user+":"+s.password))
}

// GetRequestMetadata and RequireTransportSecurity make the set-up gRPC
// per-RPC credentials: the OTLP senders' Authorization header.
func (s *secureSetup) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": s.authorization()}, nil
}

func (s *secureSetup) RequireTransportSecurity() bool { return true }

// basicAuthTransport adds the set-up's Authorization header to requests.
type basicAuthTransport struct {
	s    *secureSetup
	next http.RoundTripper
}

func (t basicAuthTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", t.s.authorization())
	return t.next.RoundTrip(req)
}
