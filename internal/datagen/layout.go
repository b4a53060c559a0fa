package datagen

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Layout says where each account's file goes. pdp loads both layouts at
// data.accounts.<id>; OPA's CLI (`opa run`, `opa eval -d`) places a plain
// data file at its folder's path, so only FolderLayout is loaded alike by
// both (FlatLayout's files would all collide at data.accounts).
type Layout int

const (
	// FlatLayout is accounts/<id>.json, what Files and Write produce.
	FlatLayout Layout = iota
	// FolderLayout is accounts/<id>/data.json (OPA's bundle convention).
	FolderLayout
)

// path names account id's file in layout l.
func (l Layout) path(id string) string {
	if l == FolderLayout {
		return "accounts/" + id + "/data.json"
	}
	return "accounts/" + id + ".json"
}

// FilesIn returns d as files in layout l, sorted by path.
func (d *Data) FilesIn(l Layout) ([]File, error) {
	files := make([]File, 0, len(d.Accounts))
	for _, a := range d.Accounts {
		raw, err := json.MarshalIndent(a, "", "  ")
		if err != nil {
			return nil, fmt.Errorf("account %s: %w", a.ID, err)
		}
		files = append(files, File{Path: l.path(a.ID), Raw: append(raw, '\n')})
	}
	return files, nil
}

// WriteIn writes d's files in layout l below dir, creating folders as
// needed, and returns the number of bytes written.
func (d *Data) WriteIn(dir string, l Layout) (int64, error) {
	files, err := d.FilesIn(l)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return n, err
		}
		if err := os.WriteFile(p, f.Raw, 0o644); err != nil {
			return n, err
		}
		n += int64(len(f.Raw))
	}
	return n, nil
}
