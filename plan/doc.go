// Package plan defines the fetch plan: the versioned JSON document that the
// webhook writes into the injected wisp-fetch init container and that
// wisp-fetch reads to know what to fetch from Vault and where to write it.
//
// The package depends on the standard library only, so that both binaries
// (and any other tool) can import it without pulling in Kubernetes or Vault.
// A Plan holds Vault paths and templates, never a secret value.
package plan
