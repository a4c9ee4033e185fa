//go:build !linux

package colblock

// releaseMappedPages does nothing where there is no /proc/self/maps.
func releaseMappedPages(string) error { return nil }
