# syntax=docker/dockerfile:1
# One image, both binaries: wisp-webhook (the admission webhook) and
# wisp-fetch (the init container). Static, on distroless static as nonroot.
#
#   docker build -t wisp:dev --build-arg VERSION=v0.1.0 .
#   webhook:      command ["/wisp-webhook"]
#   init container: command ["/wisp-fetch"]
# The flags match `make build` (checked by the test command).

ARG GO_VERSION=1.26
FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ ./cmd/wisp-webhook ./cmd/wisp-fetch

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="wisp" \
      org.opencontainers.image.description="wisp: workload identity secrets provisioner for Kubernetes (webhook and fetcher)" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/wisp-webhook /out/wisp-fetch /
USER 65532:65532
ENTRYPOINT ["/wisp-webhook"]
