//go:build !linux

package local

// rootSpawner is the HelperSpawner of a daemon running as root: without
// per-thread credentials every delivery runs in a child process.
func rootSpawner(exec HelperSpawner) HelperSpawner { return exec }
