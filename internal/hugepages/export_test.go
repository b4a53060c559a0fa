package hugepages

// SetOvercommitPath points the overcommit policy at path, for a test.
func SetOvercommitPath(path string) (restore func()) {
	old := overcommitPath
	overcommitPath = path
	return func() { overcommitPath = old }
}
