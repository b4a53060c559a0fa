package app

import (
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// changedSince returns a file below dirs (symbolic links followed, as the
// build follows them) modified at or after t, or "" when there is none.
func changedSince(dirs []string, t time.Time) string {
	for _, dir := range dirs {
		found := ""
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			if st, err := os.Stat(p); err == nil && !st.ModTime().Before(t) {
				found = p
				return fs.SkipAll
			}
			return nil
		})
		if found != "" {
			return found
		}
	}
	return ""
}
