package jsonwrite_test

import (
	"encoding/json"
	"testing"

	"github.com/pdp-sidecar/pdp/internal/jsonwrite"
)

// FuzzString: what String writes is valid JSON that reads back as what
// encoding/json's encoding of the same string reads back as.
func FuzzString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"b\s`, "\n\r\t\x00\x1f\x7f", "<&>", "é ☃ 𝄞", "\u2028\u2029", "bad \xff\xfe utf8", "\xed\xa0\x80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := jsonwrite.String([]byte("x"), s)
		if got[0] != 'x' {
			t.Fatalf("String overwrote what was in the buffer: %q", got)
		}
		var back, want string
		if err := json.Unmarshal(got[1:], &back); err != nil {
			t.Fatalf("String(%q) = %s: not JSON: %v", s, got[1:], err)
		}
		std, _ := json.Marshal(s)
		if err := json.Unmarshal(std, &want); err != nil {
			t.Fatal(err)
		}
		if back != want {
			t.Fatalf("String(%q) reads back as %q, encoding/json's as %q", s, back, want)
		}
	})
}
