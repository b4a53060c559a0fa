package policy

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strings"
)

// File is one file read from a policies or data tree.
type File struct {
	Path string // slash-separated, relative to the tree's root
	Raw  []byte
}

// maxDepth bounds how deep a tree is read, so a symlink loop cannot hang a build.
const maxDepth = 32

// readFiles reads the contents of files (listed in fsys) into their Raw.
func readFiles(fsys fs.FS, files []File) error {
	// Read in parallel: a large data tree is a thousand small files.
	failed := make([]error, len(files))
	parallelWith(len(files), func() struct{} { return struct{}{} }, func(_ struct{}, i int) {
		files[i].Raw, failed[i] = fs.ReadFile(fsys, files[i].Path)
	})
	for _, err := range failed {
		if err != nil {
			return err
		}
	}
	return nil
}

// listTree returns the paths (no contents) of every regular file below
// fsys's root whose name keep accepts, sorted, and with sized, their sizes
// added up (what they held when listed; an lstat for each regular file, a
// symlink being stat'ed anyway). Names starting with "." are skipped (a
// ConfigMap's "..data" and "..2026_…" folders among them); symlinks are
// followed, so a ConfigMap mount's top-level links load each file once.
func listTree(fsys fs.FS, keep func(name string) bool, sized bool) (files []File, size uint64, err error) {
	var walk func(dir string, depth int) error
	walk = func(dir string, depth int) error {
		if depth > maxDepth {
			return fmt.Errorf("%s: deeper than %d folders (a symlink loop?)", dir, maxDepth)
		}
		entries, err := fs.ReadDir(fsys, dir)
		if err != nil {
			return err
		}
		for _, e := range entries {
			name := e.Name()
			if strings.HasPrefix(name, ".") {
				continue
			}
			p := path.Join(dir, name)
			mode := e.Type()
			var info fs.FileInfo
			if mode&fs.ModeSymlink != 0 {
				st, err := fs.Stat(fsys, p)
				if errors.Is(err, fs.ErrNotExist) {
					continue // dangling link, e.g. mid ConfigMap swap: the watcher will fire again
				}
				if err != nil {
					return err
				}
				mode, info = st.Mode().Type(), st
			}
			switch {
			case mode.IsDir():
				if err := walk(p, depth+1); err != nil {
					return err
				}
			case mode.IsRegular() && keep(name):
				files = append(files, File{Path: p})
				if !sized {
					continue
				}
				if info == nil {
					// A file gone since ReadDir counts 0: reading it fails.
					info, _ = e.Info()
				}
				if info != nil {
					size += uint64(max(info.Size(), 0))
				}
			}
		}
		return nil
	}
	if err := walk(".", 0); err != nil {
		return nil, 0, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	return files, size, nil
}

func isRego(name string) bool { return strings.HasSuffix(name, ".rego") }

func isTestRego(name string) bool { return strings.HasSuffix(name, "_test.rego") }

func isData(name string) bool {
	switch path.Ext(name) {
	case ".json", ".yaml", ".yml":
		return true
	}
	return false
}

// Paths returns the paths of files, in order.
func Paths(files []File) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.Path
	}
	return out
}
