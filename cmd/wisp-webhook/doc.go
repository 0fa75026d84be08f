// Command wisp-webhook is wisp's admission webhook server. See the README for
// its flags and the webhook package for what it serves.
package main
