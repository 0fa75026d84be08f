// Package config loads the platform team's policy file (kind Policy: the
// injection defaults and the secret-detection policy) into an immutable
// Snapshot, and keeps it current: Watcher reloads the file when it changes
// (a ConfigMap's symlink swap included) and, when a new version is bad, keeps
// serving the last good one and reports why.
//
// Snapshots are immutable and shared by every request; the admission path
// reads the current one with a single atomic load.
package config
