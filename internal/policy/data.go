package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path"
	"strings"

	"sigs.k8s.io/yaml"
)

// dataPath is where a data file's document is placed under data: the path of
// its folder, plus the file's name without extension unless that name is
// "data" (OPA's bundle convention). So accounts/acme.json and
// accounts/acme/data.json both land at data.accounts.acme (spec/data.md).
func dataPath(file string) []string {
	dir, name := path.Split(file)
	var keys []string
	for _, k := range strings.Split(strings.Trim(dir, "/"), "/") {
		if k != "" && k != "." {
			keys = append(keys, k)
		}
	}
	if stem := strings.TrimSuffix(name, path.Ext(name)); stem != "data" {
		keys = append(keys, stem)
	}
	return keys
}

// decodeData parses one JSON or YAML data file into plain Go values (numbers
// as json.Number). The top level must be an object.
func decodeData(f File) (map[string]any, error) {
	raw := f.Raw
	if ext := path.Ext(f.Path); ext == ".yaml" || ext == ".yml" {
		j, err := yaml.YAMLToJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %v", f.Path, err)
		}
		raw = j
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s: %s", f.Path, jsonError(raw, err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: unexpected content after the JSON document", f.Path)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: top level must be an object, got %s", f.Path, typeName(v))
	}
	return obj, nil
}

// jsonError adds the line and column to a JSON syntax error.
func jsonError(raw []byte, err error) string {
	var off int64 = -1
	switch e := err.(type) {
	case *json.SyntaxError:
		off = e.Offset
	case *json.UnmarshalTypeError:
		off = e.Offset
	}
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		off = int64(len(raw))
	}
	if off < 0 {
		return err.Error()
	}
	if off > int64(len(raw)) {
		off = int64(len(raw))
	}
	before := raw[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return fmt.Sprintf("line %d, column %d: %v", line, col, err)
}

// mergeData places doc at keys below root. Objects merge key by key; any
// other collision is an error naming both files.
func mergeData(root map[string]any, keys []string, doc map[string]any, file string, owners map[string]string) error {
	node := root
	for i, k := range keys {
		next, exists := node[k]
		if !exists {
			m := map[string]any{}
			node[k] = m
			node = m
			owners[strings.Join(keys[:i+1], ".")] = file
			continue
		}
		m, ok := next.(map[string]any)
		if !ok {
			return fmt.Errorf("%s: data.%s is already set to a non-object by %s", file, strings.Join(keys[:i+1], "."), owners[strings.Join(keys[:i+1], ".")])
		}
		node = m
	}
	return mergeObjects(node, doc, keys, file, owners)
}

func mergeObjects(dst, src map[string]any, at []string, file string, owners map[string]string) error {
	for k, v := range src {
		p := append(append([]string{}, at...), k)
		key := strings.Join(p, ".")
		old, exists := dst[k]
		if !exists {
			dst[k] = v
			owners[key] = file
			continue
		}
		om, ok1 := old.(map[string]any)
		nm, ok2 := v.(map[string]any)
		if !ok1 || !ok2 {
			return fmt.Errorf("%s: data.%s is also set by %s", file, key, owners[key])
		}
		if err := mergeObjects(om, nm, p, file, owners); err != nil {
			return err
		}
	}
	return nil
}

func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case string:
		return "string"
	case json.Number:
		return "number"
	case bool:
		return "boolean"
	}
	return fmt.Sprintf("%T", v)
}
