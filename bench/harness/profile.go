package harness

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Profile is a pprof profile taken from Sightline and its top sites.
type Profile struct {
	Target, Kind string // Kind: "cpu" or "allocs"
	Path         string // the raw profile, next to the report (not committed)
	Top          string // `go tool pprof -top` output, or why there is none
}

// fetchProfile saves the pprof profile at path (e.g.
// /debug/pprof/profile?seconds=20) of p to file.
func fetchProfile(ctx context.Context, p *process, path, file string, timeout time.Duration) error {
	client := newClient(timeout, 1)
	defer client.CloseIdleConnections()
	body, err := get(ctx, client, p.pprofURL(path))
	if err != nil {
		return fmt.Errorf("fetch profile: %w", err)
	}
	return os.WriteFile(file, body, 0o644)
}

// topSites runs `go tool pprof -top`; profiles of Go programs carry their
// symbols, so the binary is not needed.
func topSites(ctx context.Context, file string, sampleIndex string) string {
	args := []string{"tool", "pprof", "-top", "-nodecount=25"}
	if sampleIndex != "" {
		args = append(args, "-sample_index="+sampleIndex)
	}
	args = append(args, file)
	out, err := exec.CommandContext(ctx, "go", args...).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("go tool pprof failed: %v\n%s", err, out)
	}
	// Drop pprof's header lines about the file and build.
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "flat") {
			return strings.Join(lines[max(0, i-2):], "\n")
		}
	}
	return strings.Join(lines, "\n")
}
