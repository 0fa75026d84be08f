// Package gettingstarted runs docs/getting-started.md on a real node
// (test/node's Env, with wisp not yet installed and Vault's JWT auth not
// yet configured: the page does both). Every fenced block of the page is a
// sh block and each runs, in order, with bash; a failing block fails the
// test. The page's addresses, registry, SPIRE server socket and parent ID
// are replaced by the test's own through one explicit table, and a table
// entry the page no longer holds fails the test too, so the page and the
// test cannot drift apart. Needs root, like test/node.
package gettingstarted
