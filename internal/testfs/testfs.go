// Package testfs writes the files tests build their policy and data trees
// from.
package testfs

import (
	"os"
	"path/filepath"
	"testing"
)

// Write writes body to root/name (slash-separated), making the folders it
// needs; an error fails t.
func Write(t testing.TB, root, name, body string) {
	t.Helper()
	WritePath(t, filepath.Join(root, filepath.FromSlash(name)), body)
}

// WritePath writes body to the file p, making the folders it needs; an
// error fails t.
func WritePath(t testing.TB, p, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

// WriteAll writes each name → body of files below root.
func WriteAll(t testing.TB, root string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		Write(t, root, name, body)
	}
}
