package watch

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap/zaptest"

	"github.com/pdp-sidecar/pdp/internal/testfs"
)

const (
	debounce = 20 * time.Millisecond
	maxWait  = 100 * time.Millisecond
)

// start watches dirs until the test ends.
func start(t *testing.T, dirs ...string) *Watcher {
	t.Helper()
	return startWith(t, debounce, maxWait, dirs...)
}

func startWith(t *testing.T, debounce, maxWait time.Duration, dirs ...string) *Watcher {
	t.Helper()
	w, err := New(dirs, debounce, maxWait, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	w.pollInterval = time.Hour // only TestWatchRootBackWithoutParent polls
	return run(t, w)
}

func run(t *testing.T, w *Watcher) *Watcher {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return w
}

// settle waits until no signal has come for a while, so that the next
// expectChange sees only what the test does next.
func settle(w *Watcher) {
	for {
		select {
		case <-w.Changes():
		case <-time.After(5 * w.debounce):
			return
		}
	}
}

func expectChange(t *testing.T, w *Watcher, what string) {
	t.Helper()
	select {
	case <-w.Changes():
	case <-time.After(5 * time.Second):
		t.Fatalf("no change signalled after %s", what)
	}
}

func expectQuiet(t *testing.T, w *Watcher, what string) {
	t.Helper()
	select {
	case <-w.Changes():
		t.Fatalf("change signalled after %s", what)
	case <-time.After(5 * w.debounce):
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestWatchSituations(t *testing.T) {
	cases := []struct {
		name string
		// setup prepares root before the watcher starts.
		setup func(t *testing.T, root string)
		// steps each make a change that must be signalled.
		steps []func(t *testing.T, root string)
	}{
		{"write in place", func(t *testing.T, root string) { testfs.WritePath(t, filepath.Join(root, "a.json"), "{}") },
			[]func(*testing.T, string){func(t *testing.T, root string) { testfs.WritePath(t, filepath.Join(root, "a.json"), `{"x":1}`) }}},
		{"chmod only", func(t *testing.T, root string) { testfs.WritePath(t, filepath.Join(root, "a.json"), "{}") },
			[]func(*testing.T, string){func(t *testing.T, root string) { must(t, os.Chmod(filepath.Join(root, "a.json"), 0o600)) }}},
		{"new folder, then a file in it", nil, []func(*testing.T, string){
			func(t *testing.T, root string) { must(t, os.Mkdir(filepath.Join(root, "sub"), 0o755)) },
			func(t *testing.T, root string) { testfs.WritePath(t, filepath.Join(root, "sub", "a.json"), "{}") },
			func(t *testing.T, root string) { testfs.WritePath(t, filepath.Join(root, "sub", "a.json"), `{"x":1}`) },
		}},
		{"nested folders created at once", nil, []func(*testing.T, string){
			func(t *testing.T, root string) {
				testfs.WritePath(t, filepath.Join(root, "a", "b", "c", "f.json"), "{}")
			},
			func(t *testing.T, root string) {
				testfs.WritePath(t, filepath.Join(root, "a", "b", "c", "f.json"), `{"x":1}`)
			},
		}},
		{"folder removed and recreated", func(t *testing.T, root string) { testfs.WritePath(t, filepath.Join(root, "sub", "a.json"), "{}") },
			[]func(*testing.T, string){
				func(t *testing.T, root string) { must(t, os.RemoveAll(filepath.Join(root, "sub"))) },
				func(t *testing.T, root string) { must(t, os.Mkdir(filepath.Join(root, "sub"), 0o755)) },
				func(t *testing.T, root string) { testfs.WritePath(t, filepath.Join(root, "sub", "a.json"), `{"x":1}`) },
			}},
		{"folder renamed away and another renamed in", func(t *testing.T, root string) { testfs.WritePath(t, filepath.Join(root, "sub", "a.json"), "{}") },
			[]func(*testing.T, string){
				func(t *testing.T, root string) {
					testfs.WritePath(t, filepath.Join(root, ".staging", "a.json"), `{"x":1}`)
					must(t, os.Rename(filepath.Join(root, "sub"), filepath.Join(root, ".old")))
					must(t, os.Rename(filepath.Join(root, ".staging"), filepath.Join(root, "sub")))
				},
				func(t *testing.T, root string) { testfs.WritePath(t, filepath.Join(root, "sub", "a.json"), `{"x":2}`) },
				func(t *testing.T, root string) { testfs.WritePath(t, filepath.Join(root, ".old", "a.json"), `{"x":3}`) },
			}},
		{"root removed and recreated", func(t *testing.T, root string) { testfs.WritePath(t, filepath.Join(root, "a.json"), "{}") },
			[]func(*testing.T, string){
				func(t *testing.T, root string) { must(t, os.RemoveAll(root)) },
				func(t *testing.T, root string) { testfs.WritePath(t, filepath.Join(root, "a.json"), `{"x":1}`) },
				func(t *testing.T, root string) { testfs.WritePath(t, filepath.Join(root, "a.json"), `{"x":2}`) },
			}},
		{"root replaced by rename", func(t *testing.T, root string) { testfs.WritePath(t, filepath.Join(root, "a.json"), "{}") },
			[]func(*testing.T, string){
				func(t *testing.T, root string) {
					testfs.WritePath(t, root+".new/a.json", `{"x":1}`)
					must(t, os.Rename(root, root+".old"))
					must(t, os.Rename(root+".new", root))
				},
				func(t *testing.T, root string) { testfs.WritePath(t, filepath.Join(root, "a.json"), `{"x":2}`) },
			}},
		{"file in a dot-folder", func(t *testing.T, root string) { testfs.WritePath(t, filepath.Join(root, "..2026_x", "a.json"), "{}") },
			[]func(*testing.T, string){func(t *testing.T, root string) {
				testfs.WritePath(t, filepath.Join(root, "..2026_x", "a.json"), `{"x":1}`)
			}}},
		{"configmap ..data swap", func(t *testing.T, root string) {
			testfs.WritePath(t, filepath.Join(root, "..2026_x", "a.json"), "{}")
			must(t, os.Symlink("..2026_x", filepath.Join(root, "..data")))
			must(t, os.Symlink(filepath.Join("..data", "a.json"), filepath.Join(root, "a.json")))
		}, []func(*testing.T, string){
			func(t *testing.T, root string) {
				testfs.WritePath(t, filepath.Join(root, "..2026_y", "a.json"), `{"x":1}`)
				must(t, os.Symlink("..2026_y", filepath.Join(root, "..data_tmp")))
				must(t, os.Rename(filepath.Join(root, "..data_tmp"), filepath.Join(root, "..data")))
				must(t, os.RemoveAll(filepath.Join(root, "..2026_x")))
			},
			func(t *testing.T, root string) {
				testfs.WritePath(t, filepath.Join(root, "..2026_y", "a.json"), `{"x":2}`)
			},
		}},
		{"symlinked folder outside the root", func(t *testing.T, root string) {
			ext := root + "-ext"
			testfs.WritePath(t, filepath.Join(ext, "a.json"), "{}")
			must(t, os.Symlink(ext, filepath.Join(root, "ext")))
		}, []func(*testing.T, string){
			func(t *testing.T, root string) { testfs.WritePath(t, filepath.Join(root+"-ext", "a.json"), `{"x":1}`) },
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "root")
			must(t, os.Mkdir(root, 0o755))
			if tc.setup != nil {
				tc.setup(t, root)
			}
			w := start(t, root)
			for i, step := range tc.steps {
				settle(w)
				step(t, root)
				expectChange(t, w, tc.name+" step "+string(rune('1'+i)))
			}
		})
	}
}

// When the root's parent cannot be watched, a root that comes back is found
// by polling.
func TestWatchRootBackWithoutParent(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	must(t, os.Mkdir(root, 0o755))
	w, err := New([]string{root}, debounce, maxWait, zaptest.NewLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	must(t, w.fsw.Remove(parent))
	delete(w.parents, parent)
	w.pollInterval = 50 * time.Millisecond
	run(t, w)
	settle(w)
	must(t, os.RemoveAll(root))
	expectChange(t, w, "the root was removed")
	settle(w)
	testfs.WritePath(t, filepath.Join(root, "a.json"), "{}")
	expectChange(t, w, "the root came back")
	settle(w)
	testfs.WritePath(t, filepath.Join(root, "a.json"), `{"x":1}`)
	expectChange(t, w, "a write in the root that came back")
}

func TestWatchIgnoresSiblingsOfRoot(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "root")
	must(t, os.Mkdir(root, 0o755))
	w := start(t, root)
	settle(w)
	testfs.WritePath(t, filepath.Join(parent, "other.txt"), "x")
	must(t, os.Mkdir(filepath.Join(parent, "rootx"), 0o755))
	expectQuiet(t, w, "a write beside the root")
}

func TestWatchDebouncesBursts(t *testing.T) {
	root := t.TempDir()
	// A debounce long enough that a busy machine cannot split the burst.
	w := startWith(t, 200*time.Millisecond, 5*time.Second, root)
	settle(w)
	for i := range 20 {
		testfs.WritePath(t, filepath.Join(root, "a.json"), string(rune('a'+i)))
	}
	expectChange(t, w, "a burst of writes")
	expectQuiet(t, w, "the burst was signalled")
}

// A stream of events closer together than the debounce period is still
// signalled within about maxWait.
func TestWatchMaxWait(t *testing.T) {
	root := t.TempDir()
	w := start(t, root)
	settle(w)
	tick := time.NewTicker(debounce / 4)
	defer tick.Stop()
	began := time.Now()
	for i := 0; ; i++ {
		select {
		case <-w.Changes():
			if took := time.Since(began); took > maxWait+time.Second {
				t.Errorf("signalled after %s, want about %s", took, maxWait)
			}
			t.Logf("signalled %s into a stream of writes (max wait %s)", time.Since(began).Round(time.Millisecond), maxWait)
			return
		case <-tick.C:
			if time.Since(began) > 5*time.Second {
				t.Fatal("a stream of writes postponed the signal for ever")
			}
			testfs.WritePath(t, filepath.Join(root, "a.json"), string(rune('a'+i%26)))
		}
	}
}

func TestWatchSeveralRoots(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	w := start(t, a, b)
	for _, dir := range []string{a, b} {
		settle(w)
		testfs.WritePath(t, filepath.Join(dir, "f.json"), "{}")
		expectChange(t, w, "a write in "+dir)
	}
}

func TestNewRejectsMissingDir(t *testing.T) {
	if _, err := New([]string{filepath.Join(t.TempDir(), "nope")}, debounce, maxWait, zaptest.NewLogger(t)); err == nil {
		t.Fatal("New accepted a missing directory")
	}
	f := filepath.Join(t.TempDir(), "file")
	testfs.WritePath(t, f, "x")
	if _, err := New([]string{f}, debounce, maxWait, zaptest.NewLogger(t)); err == nil {
		t.Fatal("New accepted a file")
	}
}
