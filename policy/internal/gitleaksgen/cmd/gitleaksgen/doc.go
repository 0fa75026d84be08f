// Command gitleaksgen writes policy's table of gitleaks' default rules
// (see package gitleaksgen). `go generate ./policy` runs it:
//
//	go run ./internal/gitleaksgen/cmd/gitleaksgen -o gitleaks_rules_gen.go
package main
