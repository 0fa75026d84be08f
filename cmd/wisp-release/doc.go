// Command wisp-release builds and publishes wisp's release artifacts
// without Docker (package internal/image does the work). The Makefile's
// image, chart and push targets run it:
//
//	wisp-release image --out bin/image --version V --tag T [--revision R]
//	wisp-release push --registry HOST/PATH --layout bin/image --chart bin/chart/wisp-X.tgz
//
// image cross-compiles the Dockerfile's packages with its flags for
// linux/amd64 and linux/arm64 and writes an OCI layout: the image index
// (tagged T) and one CycloneDX SBOM per platform image, attached as a
// referrer. Every date in it is $SOURCE_DATE_EPOCH (default 0), so the same
// sources and Go toolchain give the same index digest.
//
// push writes the index to HOST/PATH/wisp:T, the SBOMs beside it, and the
// chart archive (helm package's) to HOST/PATH/charts/<chart>:<version>, as
// `helm push` would. Credentials come from the Docker config
// (~/.docker/config.json, credential helpers), as for docker and crane.
//
// wisp-release is a tool of the project's own build, not part of the image
// (the Dockerfile builds ./cmd/wisp-webhook, ./cmd/wisp-fetch and ./cmd/wisp).
package main
