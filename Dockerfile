# syntax=docker/dockerfile:1
# One image, three binaries: wisp-webhook (the admission webhook),
# wisp-fetch (the init container) and wisp (the CLI; the chart's reports
# CronJob runs `wisp scan --apply-reports`). Static, on distroless static as
# nonroot.
#
#   docker build -t wisp:dev --build-arg VERSION=v0.1.0 .
#   webhook:        command ["/wisp-webhook"]
#   init container: command ["/wisp-fetch"]
#   scan CronJob:   command ["/wisp", "scan"]
# The flags match `make build` (checked by the test command).

ARG GO_VERSION=1.26
FROM golang:${GO_VERSION} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/ ./cmd/wisp-webhook ./cmd/wisp-fetch ./cmd/wisp

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
LABEL org.opencontainers.image.title="wisp" \
      org.opencontainers.image.description="wisp: workload identity secrets provisioner for Kubernetes (webhook, fetcher and CLI)" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/wisp-webhook /out/wisp-fetch /
# The CLI (the reports CronJob runs `wisp scan`) is not at /wisp: that is the
# folder wisp-fetch writes under (/wisp/secrets, /wisp/bin).
COPY --from=build /out/wisp /usr/local/bin/
USER 65532:65532
ENTRYPOINT ["/wisp-webhook"]
