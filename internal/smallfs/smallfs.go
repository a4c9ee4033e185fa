package smallfs

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
)

// Mount mounts a tmpfs of size bytes on a temporary directory for the
// test and returns it, or skips the test where mounting is not allowed
// (not root, or no mount namespace rights).
func Mount(t testing.TB, size int) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a small file system here (%v: %s); the full-disk test needs root", err, strings.TrimSpace(string(out)))
	}
	t.Cleanup(func() { _ = exec.Command("umount", "-l", dir).Run() })
	return dir
}
