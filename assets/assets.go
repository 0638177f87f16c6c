// Package assets holds the files embedded in the casefile binary: the
// collection schema and the demo data.
package assets

import _ "embed"

// Schema is the TOML declaration of every collection and field.
//
//go:embed schema.toml
var Schema []byte
