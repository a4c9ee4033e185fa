// Package smallfs mounts a small file system for a test (Mount), so that
// the tests of what must survive a full disk (the stores, the binary) fill
// a real one, with the kernel's own ENOSPC, rather than a fake.
package smallfs
