// Package arch holds the project's house rules as tests: the layers of its
// packages, written down once in Layers, with every import pointing down
// (TestImportsPointDown), and functions short enough to read at once in the
// packages of the admission path (TestFunctionsAreShort). `make test` runs
// them with every other test; `make lint` runs them alone.
package arch
