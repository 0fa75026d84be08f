// Package certs provides wisp-webhook's serving certificates, behind one
// consumer-side shape, Source: GetCertificate for tls.Config, Start(ctx) to
// keep the certificate current, Ready for the readiness probe.
//
// Three modes (see Mode):
//   - auto (Auto): generate a CA and a serving certificate (ECDSA P-256) and
//     keep both in one Secret, so that every replica serves the same chain;
//     renew the serving certificate after a fraction of its life and the CA
//     before it expires, with an overlap during which caBundle trusts both;
//     write the CA bundle into caBundle of every webhook of wisp's
//     MutatingWebhookConfiguration and ValidatingWebhookConfiguration.
//     Replicas need no leader: every write is conditional (create if absent,
//     update and patch with the resourceVersion) and the loser adopts the
//     winner's chain. RBAC.md lists the permissions.
//   - files (Files): a certificate and key written by someone else, such as
//     cert-manager, watched (fsnotify plus a poll) and hot reloaded; caBundle
//     is left to its owner.
//   - dev (NewDev, Static): an ephemeral CA and certificate made in memory,
//     for local use and tests.
//
// Every source swaps certificates behind an atomic pointer: GetCertificate
// does no I/O and takes no lock, a rotation never restarts the listener and
// established connections are not dropped. A bad new certificate (a corrupt
// Secret, a half-written file) is reported by Status, logged and counted in
// wisp_cert_reload_failing, and the previous certificate keeps serving.
//
// Imports: the standard library, client-go, apimachinery, k8s.io/api,
// fsnotify, the Prometheus client and logr (to hand client-go the slog
// logger). GetCertificate is the only part on the request path, and it does
// no I/O. Certificate validity is judged by the Clock options (only the
// reconcile loop's timers use real time); there are no globals.
//
// Concurrency: GetCertificate, Ready and Status are safe for concurrent use
// with each other and with Start; Start may be called once.
package certs
