package roledata

import (
	"strconv"
	"strings"
	"unicode"
)

// field returns the JSON path of key inside parent: "parent.key", or
// `parent["key"]` when the key would make a dotted path ambiguous (dots,
// brackets, spaces, an empty key, ...), e.g. members["alice@acme.test"].
func field(parent, key string) string {
	if !plainKey(key) {
		return parent + "[" + strconv.Quote(key) + "]"
	}
	if parent == "" {
		return key
	}
	return parent + "." + key
}

// index returns the JSON path of element i of the array at parent.
func index(parent string, i int) string {
	return parent + "[" + strconv.Itoa(i) + "]"
}

func plainKey(key string) bool {
	if key == "" {
		return false
	}
	for _, r := range key {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune("_-@:+", r) {
			return false
		}
	}
	return true
}
