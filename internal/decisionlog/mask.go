package decisionlog

import (
	"fmt"
	"strings"
)

// Masked replaces the value at every masked path.
const Masked = "***"

// maskTree holds the configured mask paths as a tree of keys. It is built
// once by New and only read afterwards, so any number of goroutines may use
// it at once.
//
// A path names a value inside the policy input document, the shape the
// policy sees: subject.{type,id,properties}, action.{name,properties},
// resource.{type,id,properties}, context. Keys are separated by dots
// ("context.ip"), or the path is a JSON pointer ("/context/ip"); a leading
// "input" key is ignored, so OPA-style paths ("input.context.ip",
// "/input/context/ip") work too. Arrays are transparent: a path continues
// into every element, so "resource.properties.owners.email" masks the email
// of each owner. A path covering subject.type, subject.id, action.name,
// resource.type or resource.id masks the entry's flat field too.
type maskTree struct {
	leaf bool // mask the whole value here
	kids map[string]*maskTree
}

// parseMask builds the tree; it reports every malformed path at once.
func parseMask(paths []string) (*maskTree, []string, error) {
	root := &maskTree{}
	var clean []string
	var bad []string
	for _, p := range paths {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		keys, ok := splitPath(p)
		if !ok {
			bad = append(bad, fmt.Sprintf("%q", p))
			continue
		}
		clean = append(clean, p)
		n := root
		for _, k := range keys {
			if n.kids == nil {
				n.kids = map[string]*maskTree{}
			}
			kid := n.kids[k]
			if kid == nil {
				kid = &maskTree{}
				n.kids[k] = kid
			}
			n = kid
		}
		n.leaf = true
	}
	if len(bad) > 0 {
		return nil, nil, fmt.Errorf("decision log mask: malformed path %s (want keys separated by dots, e.g. context.ip, or a JSON pointer, e.g. /context/ip)", strings.Join(bad, ", "))
	}
	if len(clean) == 0 {
		return nil, nil, nil
	}
	return root, clean, nil
}

func splitPath(p string) ([]string, bool) {
	var keys []string
	if strings.HasPrefix(p, "/") {
		keys = strings.Split(p[1:], "/")
		for i, k := range keys {
			keys[i] = strings.ReplaceAll(strings.ReplaceAll(k, "~1", "/"), "~0", "~")
		}
	} else {
		keys = strings.Split(p, ".")
	}
	if len(keys) > 0 && keys[0] == "input" {
		keys = keys[1:]
	}
	if len(keys) == 0 {
		return nil, false
	}
	for _, k := range keys {
		if k == "" {
			return nil, false
		}
	}
	return keys, true
}

// covers says whether the value at keys is masked, by its own path or by
// a path to one of its parents.
func (t *maskTree) covers(keys ...string) bool {
	n := t
	for _, k := range keys {
		if n == nil {
			return false
		}
		if n.leaf {
			return true
		}
		n = n.kids[k]
	}
	return n != nil && n.leaf
}

// kid returns the subtree under key k (nil: nothing masked there).
func (t *maskTree) kid(k string) *maskTree {
	if t == nil {
		return nil
	}
	return t.kids[k]
}
