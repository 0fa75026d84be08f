// Command floor is the load harness's reference: the least an admission
// webhook can do. It serves HTTPS (TLS 1.2+, HTTP/1.1, keep-alive) with
// net/http, reads the AdmissionReview, decodes it and the pod in it, and
// answers "allowed" with the request's uid. Whatever wisp-webhook costs
// beyond this is wisp's own work.
//
// It is built and started by test/load; it is not part of wisp.
package main
