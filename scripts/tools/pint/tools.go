//go:build tools

// Package pint pins cloudflare's pint, the rule linter of scripts/test.sh,
// with every dependency in go.mod and go.sum; scripts/setup.sh builds it
// from here.
package pint

import _ "github.com/cloudflare/pint/cmd/pint"
