package main_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc/credentials"
)

// testCA makes a CA and a certificate it signed for 127.0.0.1, in dir; it
// returns the CA's pool and the certificate's and key's files.
func testCA(t *testing.T, dir string) (*x509.CertPool, string, string) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		require.NoError(t, err)
		return k
	}
	caKey, srvKey := key(), key()
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	require.NoError(t, err)
	ca, err := x509.ParseCertificate(caDER)
	require.NoError(t, err)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "sightline"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(srvKey)
	require.NoError(t, err)
	certFile, keyFile := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600))
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool, certFile, keyFile
}

// asUser sends requests with basic credentials and, if set, X-Scope-OrgID.
type asUser struct {
	user, password, orgID string
	next                  http.RoundTripper
}

func (a asUser) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if a.user != "" {
		r.SetBasicAuth(a.user, a.password)
	}
	if a.orgID != "" {
		r.Header.Set("X-Scope-OrgID", a.orgID)
	}
	return a.next.RoundTrip(r)
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// With -web.config.file, every port speaks TLS and wants a user; a user is
// a tenant and cannot act for another; an admin can, and alone may read
// /metrics (issue 12: no authentication, no TLS, any tenant by header).
func TestAuthAndTLSOnEveryPort(t *testing.T) {
	dir := t.TempDir()
	pool, certFile, keyFile := testCA(t, dir)
	users := ""
	for _, u := range []string{"a", "b", "admin"} {
		hash, err := bcrypt.GenerateFromPassword([]byte("pw-"+u), bcrypt.MinCost)
		require.NoError(t, err)
		users += fmt.Sprintf("  %s: %s\n", u, hash)
	}
	webCfg := filepath.Join(dir, "web.yml")
	require.NoError(t, os.WriteFile(webCfg, []byte(fmt.Sprintf("tls_server_config:\n  cert_file: %s\n  key_file: %s\nbasic_auth_users:\n%s", certFile, keyFile, users)), 0o600))

	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	client := func(user, orgID string) *http.Client {
		return &http.Client{Transport: asUser{user: user, password: "pw-" + user, orgID: orgID, next: tr}, Timeout: 30 * time.Second}
	}
	s := startServerWith(t, filepath.Join(dir, "data"), client("admin", ""), "https", "-web.config.file", webCfg, "-auth.admin-user", "admin")
	get := func(c *http.Client, path string) (int, string) {
		t.Helper()
		resp, err := c.Get(s.url(path))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// The HTTP port: TLS only, credentials required, the user's own tenant.
	resp, err := http.Get("http://" + s.httpAddr + "/-/ready")
	if err == nil {
		resp.Body.Close()
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "plain HTTP on the TLS port")
	}
	code, _ := get(&http.Client{Transport: tr}, "/api/v1/labels")
	require.Equal(t, http.StatusUnauthorized, code)
	code, _ = get(&http.Client{Transport: asUser{user: "a", password: "wrong", next: tr}}, "/api/v1/labels")
	require.Equal(t, http.StatusUnauthorized, code)
	code, body := get(client("a", "b"), "/api/v1/labels")
	require.Equal(t, http.StatusForbidden, code, body)
	code, _ = get(client("a", ""), "/metrics")
	require.Equal(t, http.StatusForbidden, code)
	code, _ = get(client("admin", ""), "/metrics")
	require.Equal(t, http.StatusOK, code)

	// OTLP over gRPC and HTTP, TLS and basic authentication: a's spans are
	// a's, whatever tenant a names.
	send := func(proto, user, password, orgID string) (string, error) {
		t.Helper()
		headers := map[string]string{"Authorization": basic(user, password)}
		if orgID != "" {
			headers["X-Scope-OrgID"] = orgID
		}
		var exp sdktrace.SpanExporter
		var err error
		if proto == "grpc" {
			exp, err = otlptracegrpc.New(ctxT(t), otlptracegrpc.WithEndpoint(s.grpcAddr), otlptracegrpc.WithTLSCredentials(credentials.NewClientTLSFromCert(pool, "")),
				otlptracegrpc.WithHeaders(headers), otlptracegrpc.WithRetry(otlptracegrpc.RetryConfig{Enabled: false}))
		} else {
			exp, err = otlptracehttp.New(ctxT(t), otlptracehttp.WithEndpoint(s.otlpHTTP), otlptracehttp.WithTLSClientConfig(&tls.Config{RootCAs: pool}),
				otlptracehttp.WithHeaders(headers), otlptracehttp.WithRetry(otlptracehttp.RetryConfig{Enabled: false}))
		}
		require.NoError(t, err)
		tp := sdktrace.NewTracerProvider(sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", "secret-"+user))),
			sdktrace.WithBatcher(exp, sdktrace.WithBatchTimeout(time.Hour)))
		defer func() { _ = tp.Shutdown(context.Background()) }()
		_, span := tp.Tracer("t").Start(context.Background(), "op")
		id := span.SpanContext().TraceID()
		span.End()
		return hex.EncodeToString(id[:]), tp.ForceFlush(ctxT(t))
	}
	for _, proto := range []string{"grpc", "http"} {
		id, err := send(proto, "a", "pw-a", "")
		require.NoError(t, err, proto)
		code, body := get(client("a", ""), "/api/traces/"+id)
		require.Equal(t, http.StatusOK, code, body)
		require.Contains(t, body, "secret-a")
		code, _ = get(client("b", ""), "/api/traces/"+id)
		require.NotEqual(t, http.StatusOK, code, "b reads a's trace")
		code, body = get(client("admin", "a"), "/api/traces/"+id)
		require.Equal(t, http.StatusOK, code, body)

		_, err = send(proto, "a", "wrong", "")
		require.Error(t, err, "%s: a wrong password is let in", proto)
		id, err = send(proto, "a", "pw-a", "b")
		require.Error(t, err, "%s: a writes as b", proto)
		code, _ = get(client("admin", "b"), "/api/traces/"+id)
		require.NotEqual(t, http.StatusOK, code, "a's span landed in b")
	}
}
