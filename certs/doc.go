// Package certs provides wisp-webhook's serving certificates.
//
// This version has the dev mode: an ephemeral CA and serving certificate
// generated in memory at start-up (ECDSA P-256), written to a folder so the
// webhook serves them like any other certificate files and so a local API
// server can be given the CA. Production certificates come from files (for
// example from cert-manager), watched and hot reloaded by the webhook.
//
// The package reads the clock (certificate validity) and writes files; it is
// not on the admission path.
package certs
