// Package memo remembers the results of pure functions of a string, within
// a budget of bytes: the admission path parses the same secret templates
// for every replica of a workload, and a parse costs more than the rest of
// its work on them.
package memo
