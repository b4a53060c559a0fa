// Package pdp holds the default policies and role data compiled into the
// binary, so `pdp` started outside a checkout still serves a known state.
package pdp

import "embed"

// Defaults holds policies/ and data/ as they were at build time.
//
//go:embed policies data
var Defaults embed.FS
