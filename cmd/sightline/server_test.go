package main_test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
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
	cmd      *exec.Cmd
	done     chan struct{}
	mu       sync.Mutex
	out      bytes.Buffer
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().String()
}

// startServer starts sightline on dataDir and waits until /-/ready says so.
func startServer(t *testing.T, dataDir string, args ...string) *server {
	t.Helper()
	s := &server{t: t, dataDir: dataDir, args: args,
		httpAddr: freePort(t), grpcAddr: freePort(t), otlpHTTP: freePort(t)}
	s.start()
	t.Cleanup(func() { s.kill() })
	return s
}

func (s *server) start() {
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
			t.Fatalf("sightline exited during start-up:\n%s", s.output())
		case <-deadline:
			t.Fatalf("sightline not ready after 60s:\n%s", s.output())
		case <-tick.C:
			resp, err := http.Get(s.url("/-/ready"))
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return
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

func (s *server) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

func (s *server) url(path string) string { return "http://" + s.httpAddr + path }

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
