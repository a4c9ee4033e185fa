package harness

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Kinds of system.
const (
	kindSightline       = "sightline"
	kindPrometheus      = "prometheus"
	kindVictoriaMetrics = "victoriametrics"
	kindVictoriaLogs    = "victorialogs"
	kindJaeger          = "jaeger"
)

// kindOf is the system a target runs.
func kindOf(target string) string {
	switch target {
	case TargetSightlineOTLP, TargetSightlineRW:
		return kindSightline
	case TargetPrometheus:
		return kindPrometheus
	case TargetVictoriaMetrics, TargetVictoriaMetricsOTLP:
		return kindVictoriaMetrics
	}
	panic("BUG: unknown target " + target)
}

// process is one running server with its own data directory and ports.
type process struct {
	kind     string
	dataDir  string
	httpAddr string // Prometheus API, remote_write, /metrics; Jaeger's query API
	grpcAddr string // OTLP gRPC (Sightline and Jaeger)
	logPath  string
	scheme   string // https with -tls (Sightline only)
	// Jaeger serves its health check, its own metrics and pprof on ports
	// of their own.
	healthAddr, metricsAddr, pprofAddr string

	cmd  *exec.Cmd
	log  *os.File
	done chan struct{} // closed when the process has exited
}

// freeAddr returns a loopback address that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// startProcess starts the system of kind on empty dataDir; it does not wait
// for readiness. extra flags are appended to the system's own.
func startProcess(kind, bin, dataDir string, retention time.Duration, extra ...string) (*process, error) {
	p := &process{kind: kind, dataDir: dataDir, logPath: dataDir + ".log", scheme: "http"}
	var err error
	if p.httpAddr, err = freeAddr(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	ret := strconv.Itoa(int(retention.Hours()/24)) + "d"
	var args []string
	switch kind {
	case kindSightline:
		if p.grpcAddr, err = freeAddr(); err != nil {
			return nil, err
		}
		otlpHTTP, err := freeAddr()
		if err != nil {
			return nil, err
		}
		args = []string{
			"-data.dir", dataDir,
			"-web.enable-pprof", // the profiles of the report
			// Measure the server, not its per-tenant limits.
			"-limits.ingestion-rate", "0", "-limits.ingestion-bytes-rate", "0", "-limits.max-concurrent-queries", "0", "-limits.max-query-length", "0", "-limits.max-series", "0",
			"-limits.max-fetched-series-per-query", "0", "-limits.max-fetched-chunk-bytes-per-query", "0", "-query.max-response-bytes", "0",
			"-http.listen-address", p.httpAddr,
			"-otlp.grpc.listen-address", p.grpcAddr,
			"-otlp.http.listen-address", otlpHTTP,
			"-metrics.retention", ret,
		}
		if secure != nil {
			args, p.scheme = append(args, secure.flags()...), "https"
		}
	case kindPrometheus:
		// Prometheus scrapes nothing here; it only receives remote_write.
		cfg := filepath.Join(filepath.Dir(dataDir), "prometheus.yml")
		if err := os.WriteFile(cfg, []byte("global:\n  scrape_interval: 1m\nscrape_configs: []\n"), 0o644); err != nil {
			return nil, fmt.Errorf("write prometheus config: %w", err)
		}
		args = []string{
			"--config.file=" + cfg,
			"--storage.tsdb.path=" + dataDir,
			"--storage.tsdb.retention.time=" + ret,
			"--web.listen-address=" + p.httpAddr,
			"--web.enable-remote-write-receiver",
		}
	case kindVictoriaMetrics:
		args = []string{
			"-storageDataPath=" + dataDir,
			"-httpListenAddr=" + p.httpAddr,
			"-retentionPeriod=" + ret,
			// Measure query work, not VictoriaMetrics' rollup result cache,
			// which would answer repeated range queries from memory.
			"-search.disableCache",
		}
	case kindVictoriaLogs:
		args = []string{
			"-storageDataPath=" + dataDir,
			"-httpListenAddr=" + p.httpAddr,
			"-retentionPeriod=" + ret,
		}
	case kindJaeger:
		var queryGRPC string
		for _, a := range []*string{&p.grpcAddr, &p.healthAddr, &p.metricsAddr, &p.pprofAddr, &queryGRPC} {
			if *a, err = freeAddr(); err != nil {
				return nil, err
			}
		}
		cfg := filepath.Join(filepath.Dir(dataDir), "jaeger.yaml")
		if err := os.WriteFile(cfg, []byte(jaegerConfig(p, queryGRPC, retention)), 0o644); err != nil {
			return nil, fmt.Errorf("write jaeger config: %w", err)
		}
		args = []string{"--config", cfg}
	}
	p.log, err = os.Create(p.logPath)
	if err != nil {
		return nil, fmt.Errorf("create log file: %w", err)
	}
	p.cmd = exec.Command(bin, append(args, extra...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	// Its own process group, so that a Ctrl-C of the harness does not reach
	// the server before the harness stops it in order.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		p.log.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	p.done = make(chan struct{})
	go func() {
		_ = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// startSightline starts Sightline on dataDir (empty or not) with flags
// and waits until it is ready; on failure it leaves nothing running.
func startSightline(ctx context.Context, bin, dataDir string, flags ...string) (*process, error) {
	return startReady(ctx, kindSightline, bin, dataDir, flags...)
}

// startReady starts a system of the given kind on dataDir with a 30-day
// retention and waits until it is ready; on failure it leaves nothing
// running.
//
// A port freeAddr found free may be taken before the system binds it
// (another test's connection gets it as its source port): the system then
// exits with "address already in use", and is started again on other
// ports, a few times.
func startReady(ctx context.Context, kind, bin, dataDir string, flags ...string) (*process, error) {
	for attempt := 1; ; attempt++ {
		p, err := startProcess(kind, bin, dataDir, 30*24*time.Hour, flags...)
		if err != nil {
			return nil, err
		}
		err = p.waitReady(ctx, time.Minute)
		if err == nil {
			return p, nil
		}
		p.kill()
		if attempt == 3 || !strings.Contains(err.Error(), "address already in use") {
			return nil, err
		}
	}
}

func (p *process) url(path string) string { return p.scheme + "://" + p.httpAddr + path }

// pprofURL is path (/debug/pprof/...) on the server's pprof endpoint.
func (p *process) pprofURL(path string) string {
	if p.kind == kindJaeger {
		return "http://" + p.pprofAddr + path
	}
	return p.url(path)
}

// readyURL is where each system says it can take data and queries.
func (p *process) readyURL() string {
	switch p.kind {
	case kindVictoriaMetrics, kindVictoriaLogs:
		return p.url("/health")
	case kindJaeger:
		// The health check extension answers 200 once every component,
		// the OTLP receiver included, has started.
		return "http://" + p.healthAddr + "/status"
	}
	return p.url("/-/ready")
}

// waitReady polls the readiness endpoint until it answers 200, the process
// exits, or timeout passes.
func (p *process) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	client := newClient(5*time.Second, 1)
	defer client.CloseIdleConnections()
	for {
		select {
		case <-p.done:
			return fmt.Errorf("%s exited during start-up:\n%s", p.kind, p.logTail())
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s:\n%s", p.kind, timeout, p.logTail())
		case <-tick.C:
			resp, err := client.Get(p.readyURL())
			if err != nil {
				continue
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
	}
}

// stop asks the process to shut down cleanly and waits for it; after
// timeout it is killed and an error returned.
func (p *process) stop(timeout time.Duration) error {
	defer p.log.Close()
	select {
	case <-p.done:
		return fmt.Errorf("%s had already exited:\n%s", p.kind, p.logTail())
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return fmt.Errorf("signal %s: %w", p.kind, err)
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not stop within %s; killed", p.kind, timeout)
	}
	if !p.cmd.ProcessState.Success() {
		return fmt.Errorf("%s exited with %v:\n%s", p.kind, p.cmd.ProcessState, p.logTail())
	}
	return nil
}

// kill ends the process if it still runs; for error paths.
func (p *process) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Kill()
	<-p.done
	p.log.Close()
}

// logTail is the end of the process' log, for error messages.
func (p *process) logTail() string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

// procStat is what /proc says about a process.
type procStat struct {
	CPUSeconds float64 // user + system
	RSSBytes   int64   // VmRSS
	PeakRSS    int64   // VmHWM, the high-water mark of RSS
}

// clockTicks is USER_HZ, which is 100 on every Linux architecture Go
// supports; /proc/<pid>/stat counts CPU time in it.
const clockTicks = 100

func readProcStat(pid int) (procStat, error) {
	var st procStat
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	// The command name (field 2) may hold spaces; fields after it are
	// numbered from the closing parenthesis.
	s := string(raw)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return st, errors.New("malformed /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return st, errors.New("short /proc stat")
	}
	utime, err1 := strconv.ParseFloat(f[11], 64) // field 14
	stime, err2 := strconv.ParseFloat(f[12], 64) // field 15
	if err := errors.Join(err1, err2); err != nil {
		return st, fmt.Errorf("parse /proc stat: %w", err)
	}
	st.CPUSeconds = (utime + stime) / clockTicks

	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch name {
		case "VmRSS":
			dst = &st.RSSBytes
		case "VmHWM":
			dst = &st.PeakRSS
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return st, fmt.Errorf("parse %s: %w", name, err)
		}
		*dst = kb << 10
	}
	return st, nil
}

func (p *process) stat() (procStat, error) {
	st, err := readProcStat(p.cmd.Process.Pid)
	if err != nil {
		return st, fmt.Errorf("read /proc of %s: %w", p.kind, err)
	}
	return st, nil
}
