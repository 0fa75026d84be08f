// Package gitleaksgen renders gitleaks' default rules (the configuration
// embedded in github.com/zricethezav/gitleaks/v8, the version go.mod pins)
// as a Go table for package policy, so that the webhook neither parses
// gitleaks' TOML nor links its configuration machinery (viper and its
// decoders) at run time, and compiles each regular expression only when a
// value first needs it.
//
// The table keeps what decides gitleaks' findings on a string scanned on
// its own (Detector.DetectString: no file path, no commit, no decoding):
// each rule's regular expression, secret group, entropy threshold, keywords
// and allowlists (regular expressions, their target, stop words, the match
// condition). What can never apply to such a string is left out and said so
// in the table: a rule restricted to file paths its path pattern cannot
// match when empty, and allowlists made only of paths or commits. A feature
// the table cannot express (composite rules, skipReport, a path-only rule)
// is an error, so a gitleaks upgrade that brings one fails loudly.
//
// It is used by `go generate ./policy` (cmd/gitleaksgen) and by policy's
// test that fails when the generated file is stale.
package gitleaksgen
