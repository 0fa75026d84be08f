// Package stack starts the real components wisp-fetch talks to, for tests
// and demos: PostgreSQL 15, a SPIRE server and agent (join token, unix
// workload attestor) with the OIDC discovery provider, and a Vault dev
// server configured with JWT auth trusting SPIRE (jwks_url at the OIDC
// provider's /keys), KV v2 at secret/ and the database secrets engine
// against the PostgreSQL. With Options.NoJWTAuth the JWT auth method is
// left to the caller: test/node configures it with `wisp setup vault
// --apply`, the command docs/setup-vault.md shows.
//
// Everything listens on 127.0.0.1 (free ports) or on unix sockets under one
// short folder in /tmp (socket paths must stay under 108 bytes), and runs in
// its own process group with a parent-death signal, so a crashed test leaves
// nothing behind; Stop ends every process and removes the folder.
//
// Binaries: Vault and SPIRE come from test/scripts/ensure-vault.sh and
// ensure-spire.sh (built once, cached), unless Options name their folders;
// PostgreSQL from /usr/lib/postgresql/15/bin. PostgreSQL refuses to run as
// root, so when the caller is root it runs as the "postgres" OS user.
//
// Workload identity: SPIRE's unix workload attestor selects by the calling
// process's uid. Tests run as root, so a workload registered with uid 0 is
// what a wisp-fetch child process gets; register another uid and run the
// child with syscall.Credential to test a second identity. Entries given in
// Options.Workloads are registered before the agent starts and are issued
// at once; RegisterWorkload afterwards takes the agent's sync (about 5 s).
//
// With Options.Kubelet the agent also runs the k8s workload attestor
// against that kubelet (test/node), so pods get SVIDs by namespace and
// service account (Workload.Selectors k8s:ns:<ns>, k8s:sa:<sa>); StopAgent
// and StartAgent restart the agent on the same socket.
//
// Faults: with Options.PersistentVault, Vault keeps its state in files
// (initialised and unsealed by Start), so StopVault/StartVault restart it
// and SealVault/UnsealVault seal it without losing the configuration, the
// tokens or the leases; Leases lists Vault's own leases under a prefix.
// StopServer/StartServer restart the SPIRE server, whose keys are on disk.
//
// Spawn, Proc, WaitFor and FreePorts are exported for test/node, which
// starts its processes the same way.
//
// Imports: the standard library, vault/api and go-spiffe. A Stack's methods
// are safe for concurrent use.
package stack
