package hugepages

// SetHostFiles points the host settings Advise reads at other files, for a
// test ("" leaves one as it is).
func SetHostFiles(overcommit, thpMode, meminfo string) (restore func()) {
	old := [3]string{overcommitPath, thpModePath, meminfoPath}
	for _, p := range []struct {
		dst *string
		v   string
	}{{&overcommitPath, overcommit}, {&thpModePath, thpMode}, {&meminfoPath, meminfo}} {
		if p.v != "" {
			*p.dst = p.v
		}
	}
	return func() { overcommitPath, thpModePath, meminfoPath = old[0], old[1], old[2] }
}
