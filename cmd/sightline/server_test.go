package main_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	promapi "github.com/prometheus/client_golang/api"
	promv1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/stretchr/testify/require"
)

// binary is the sightline binary under test, built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sightline-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "sightline")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build sightline:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running sightline process on free loopback ports.
type server struct {
	t        *testing.T
	dataDir  string
	args     []string
	httpAddr string
	grpcAddr string
	otlpHTTP string
	// client and scheme reach the HTTP port; the defaults are plain HTTP
	// with no credentials (startSecureServer sets others).
	client *http.Client
	scheme string
	cmd    *exec.Cmd
	done   chan struct{}
	mu     sync.Mutex
	out    bytes.Buffer
}

// freePort returns a loopback address whose port is free now. A port the
// kernel hands out for port 0 is an ephemeral one, which any process's next
// outgoing connection may take before the child binds it; so the port is
// drawn below the ephemeral range instead, which only listeners use, and
// startServer tries other ports should another test take it anyway.
func freePort(t *testing.T) string {
	t.Helper()
	lo := 32768 // Linux's default start of the range
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var x, y int
		if _, err := fmt.Sscan(string(b), &x, &y); err == nil && x > 20000 {
			lo = x
		}
	}
	for range 100 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(10000+rand.IntN(lo-10000)))
		if l, err := net.Listen("tcp", addr); err == nil {
			l.Close()
			return addr
		}
	}
	t.Fatal("no free port below the ephemeral range")
	return ""
}

// startServer starts sightline on dataDir and waits until /-/ready says so.
func startServer(t *testing.T, dataDir string, args ...string) *server {
	t.Helper()
	return startServerWith(t, dataDir, http.DefaultClient, "http", args...)
}

// startServerWith starts sightline and waits for /-/ready, which it asks
// with client over scheme.
func startServerWith(t *testing.T, dataDir string, client *http.Client, scheme string, args ...string) *server {
	t.Helper()
	s := &server{t: t, dataDir: dataDir, args: args, client: client, scheme: scheme}
	t.Cleanup(func() {
		s.kill()
		if t.Failed() {
			t.Logf("sightline's errors:\n%s", errorLines(s.output()))
		}
	})
	for attempt := 1; ; attempt++ {
		s.httpAddr, s.grpcAddr, s.otlpHTTP = freePort(t), freePort(t), freePort(t)
		err := s.tryStart()
		if err == nil {
			return s
		}
		if !errors.Is(err, errPortTaken) || attempt == 3 {
			t.Fatal(err)
		}
	}
}

// errPortTaken is a start-up that failed because a port was taken between
// freePort and the child's bind.
var errPortTaken = errors.New("port taken")

// start starts sightline on s's ports and waits until it is ready.
func (s *server) start() {
	s.t.Helper()
	if err := s.tryStart(); err != nil {
		s.t.Fatal(err)
	}
}

func (s *server) tryStart() error {
	t := s.t
	t.Helper()
	args := append([]string{
		"-data.dir", s.dataDir,
		"-http.listen-address", s.httpAddr,
		"-otlp.grpc.listen-address", s.grpcAddr,
		"-otlp.http.listen-address", s.otlpHTTP,
	}, s.args...)
	s.cmd = exec.Command(binary, args...)
	s.out.Reset()
	s.cmd.Stdout, s.cmd.Stderr = &lockedWriter{s}, &lockedWriter{s}
	require.NoError(t, s.cmd.Start())
	s.done = make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(s.done) }()

	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(25 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-s.done:
			out := s.output()
			if strings.Contains(out, "address already in use") {
				return fmt.Errorf("%w:\n%s", errPortTaken, out)
			}
			return fmt.Errorf("sightline exited during start-up:\n%s", out)
		case <-deadline:
			return fmt.Errorf("sightline not ready after 60s:\n%s", s.output())
		case <-tick.C:
			resp, err := s.client.Get(s.url("/-/ready"))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
	}
}

type lockedWriter struct{ s *server }

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.s.mu.Lock()
	defer w.s.mu.Unlock()
	return w.s.out.Write(p)
}

// errorLines are the lines of out that report an error or a panic (the
// PromQL engine logs a recovered panic's stack with its error), so that a
// failed test shows why the server failed.
func errorLines(out string) string {
	var b strings.Builder
	for line := range strings.Lines(out) {
		if strings.Contains(line, "level=ERROR") || strings.Contains(line, `"level":"error"`) || strings.Contains(line, "panic") {
			b.WriteString(line)
		}
	}
	return b.String()
}

func (s *server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

func (s *server) url(path string) string { return s.scheme + "://" + s.httpAddr + path }

// stop shuts sightline down cleanly (SIGTERM) and waits for it.
func (s *server) stop() {
	s.t.Helper()
	require.NoError(s.t, s.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.t.Fatalf("sightline did not stop on SIGTERM:\n%s", s.output())
	}
	require.True(s.t, s.cmd.ProcessState.Success(), "exit status %v:\n%s", s.cmd.ProcessState, s.output())
}

// kill ends sightline with SIGKILL, as a crash would.
func (s *server) kill() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Kill()
	<-s.done
}

// restart starts sightline again on the same data and ports.
func (s *server) restart() {
	s.t.Helper()
	s.start()
}

func (s *server) prom() promv1.API {
	c, err := promapi.NewClient(promapi.Config{Address: "http://" + s.httpAddr})
	require.NoError(s.t, err)
	return promv1.NewAPI(c)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// doHTTP sends one request with the headers given as name, value pairs
// and returns the answer's status, headers and body: the one HTTP client
// of the end-to-end tests' helpers.
func doHTTP(t *testing.T, method, url string, body io.Reader, header ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, url, body)
	require.NoError(t, err)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	// A read error is left to the caller's checks of the body: a server
	// that refuses a large body (413) may close the connection under it.
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}
