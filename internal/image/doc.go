// Package image builds wisp's release artifacts without Docker: the
// multi-platform OCI image index laid out as the Dockerfile's final stage
// says (its files, user, entrypoint, labels and build flags), a CycloneDX
// SBOM per platform image attached as an OCI referrer, an OCI layout folder
// holding both, the Helm chart as an OCI artifact, and the push of all of
// them to a registry.
//
// Builds are reproducible: file times, the image's creation time and the
// SBOM's timestamp are a fixed epoch (the caller's SOURCE_DATE_EPOCH, or
// zero), the layers are written in a fixed order with fixed owners, and the
// SBOM carries no random serial number, so the same sources and toolchain
// give the same index digest.
//
// image is a leaf: it imports go-containerregistry, cyclonedx-go and the
// standard library, none of wisp's packages. It reads no environment (the
// caller passes go build's environment and the epoch); it runs `go build`
// and reads and writes only the folders its caller names. Values are
// immutable once built and safe for concurrent use.
package image
