# wisp: the project's commands. `make test` is what CI runs.
SHELL := /usr/bin/env bash
GO ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# The flags the Dockerfile builds with.
BUILD_FLAGS := -trimpath -ldflags "-s -w -X main.version=$(VERSION)"
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME ?= 30s
BENCH_DURATION ?= 8s
BENCH_C ?= 8,64
BENCH_COUNT ?= 3
BENCH_NODE_N ?= 20
BENCH_NODE_ROLLOUT ?= 100
# Release: the chart's version is VERSION without its v (v1.2.3 -> 1.2.3), or
# 0.0.0-dev-VERSION for an untagged commit; the image's tag is v<that>, the
# tag the chart's default image.tag names. Dates in the image are the last
# commit's (reproducible builds); REGISTRY is HOST/PATH for push.
CHART_VERSION ?= $(shell v='$(VERSION)'; case "$$v" in (v[0-9]*) echo "$${v#v}";; (*) echo "0.0.0-dev-$$v";; esac)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)
IMAGE_DIR ?= bin/image
CHART_DIR ?= bin/chart
REGISTRY ?=

.PHONY: all build image chart push tools test lint bench bench-node scale fuzz demo clean

all: build

## build: the binaries into bin/, static, as in the Dockerfile
build:
	CGO_ENABLED=0 $(GO) build $(BUILD_FLAGS) -o bin/ ./cmd/wisp ./cmd/wisp-webhook ./cmd/wisp-fetch

## image: the image index (linux/amd64, linux/arm64) built without Docker from
## the Dockerfile's packages and flags, with a CycloneDX SBOM per platform,
## as an OCI layout in IMAGE_DIR (bin/image); same commit, same digest
image:
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) run ./cmd/wisp-release image --out $(IMAGE_DIR) \
	  --version $(VERSION) --tag v$(CHART_VERSION) --revision "$(REVISION)"

## chart: the chart packaged by helm ($$HELM, or the one
## test/scripts/ensure-helm.sh builds) into CHART_DIR (bin/chart), version and
## appVersion CHART_VERSION
chart:
	helm="$${HELM:-$$(test/scripts/ensure-helm.sh)/helm}" && "$$helm" package charts/wisp \
	  --version $(CHART_VERSION) --app-version $(CHART_VERSION) --destination $(CHART_DIR)

## push: what `make image chart` built (same VERSION): the index and its SBOMs
## to REGISTRY/wisp:v$$CHART_VERSION, the chart to oci://REGISTRY/charts/wisp
push:
	@test -n "$(REGISTRY)" || { echo "push: set REGISTRY=host/path"; exit 2; }
	@test -f $(CHART_DIR)/wisp-$(CHART_VERSION).tgz || { echo "push: no $(CHART_DIR)/wisp-$(CHART_VERSION).tgz: run make image chart VERSION=$(VERSION) first"; exit 2; }
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) run ./cmd/wisp-release push --registry $(REGISTRY) \
	  --layout $(IMAGE_DIR) --chart $(CHART_DIR)/wisp-$(CHART_VERSION).tgz

## tools: the real components of the end-to-end tests, built from the Go module
## proxy once and cached under $${XDG_CACHE_HOME:-~/.cache}/wisp, and the node's
## Debian packages (containerd, runc, CNI plugins) installed when missing
## (cold: about 35-45 min on 2 cores; warm: instant)
tools:
	@for t in k8s node kubectl csi vault spire helm; do \
	  start=$$(date +%s); test/scripts/ensure-$$t.sh >/dev/null || exit 1; \
	  echo "tools: $$t ready ($$(( $$(date +%s) - start ))s)"; done

## test: everything CI runs: lint, then every test (unit, fuzz seeds, end-to-end
## against a real kube-apiserver + etcd, SPIRE, Vault and PostgreSQL)
test: lint build tools
	KUBEBUILDER_ASSETS="$$(test/scripts/ensure-k8s.sh)" $(GO) test -race -count=1 -timeout 30m ./...

## lint: gofmt, go vet, staticcheck, and the house rules (test/arch: imports
## point down, short functions)
lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	$(GO) test -count=1 ./test/arch

## bench: the admission path's benchmarks, then wisp-webhook against a no-op
## webhook (the floor) over HTTPS, interleaved in one run, ending with one
## table of ratios to the floor and RSS (test/load): scenarios injected,
## plain, denied, large at BENCH_C (8,64), BENCH_DURATION (8s) a run after 2 s
## of warm-up; about 4 min
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCH_COUNT) ./mutate ./policy ./webhook
	$(GO) run ./test/load -duration $(BENCH_DURATION) -c $(BENCH_C)

## bench-node: pod start as users feel it, on the real node of test/node (root;
## not part of test): a plain pod, a wisp-injected pod and a Vault Agent init
## container, BENCH_NODE_N (20) of each interleaved, p50/p95 and the split;
## init containers' memory and CPU; a rollout of BENCH_NODE_ROLLOUT (100)
## replicas with the sidecar and Vault's logins, reads and leases per pod; one
## table, then one JSON line; about 10 min
bench-node:
	$(GO) run ./test/node/bench -n $(BENCH_NODE_N) -rollout $(BENCH_NODE_ROLLOUT) -v

## soak: the attack first (ATTACK, 60s, a phase: an ordinary injected pod at
## 100/s alone, then beside 8 connections of hostile requests, then the same
## with one lane; wisp-webhook at GOMAXPROCS=2 and the chart's memory limit),
## then wisp-webhook at c=64 under valid and hostile requests for SOAK (5m)
soak:
	$(GO) run ./test/load -attack $(or $(ATTACK),60s) -soak $(or $(SOAK),5m)

## scale: wisp scan against a kube-apiserver holding 10,000 workloads and
## 30,000 pods: wall time and peak RSS (a few minutes; not part of test)
scale:
	KUBEBUILDER_ASSETS="$$(test/scripts/ensure-k8s.sh)" $(GO) test -count=1 -timeout 30m -run TestScanScale ./test/scan -scale -v

## fuzz: run each fuzz target for FUZZTIME (seed corpora live in testdata/fuzz)
fuzz:
	$(GO) test ./plan -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2000x
	$(GO) test ./fetch -run '^$$' -fuzz '^FuzzRenderNoLeak$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2000x
	$(GO) test ./fetch/envshim -run '^$$' -fuzz '^FuzzEnvRoundTrip$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2000x
	$(GO) test ./mutate -run '^$$' -fuzz '^FuzzParseAnnotations$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2000x
	$(GO) test ./mutate -run '^$$' -fuzz '^FuzzVaultTemplate$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2000x
	$(GO) test ./policy -run '^$$' -fuzz '^FuzzParseSpec$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2000x
	$(GO) test ./policy -run '^$$' -fuzz '^FuzzMaySecretName$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2000x
	$(GO) test ./policy -run '^$$' -fuzz '^FuzzEvaluate$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2000x
	$(GO) test ./policy -run '^$$' -fuzz '^FuzzLimits$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2000x
	$(GO) test ./internal/workload -run '^$$' -fuzz '^FuzzByShape$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2000x
	$(GO) test ./webhook -run '^$$' -fuzz '^FuzzMutateRequest$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2000x
	$(GO) test ./webhook -run '^$$' -fuzz '^FuzzInjectionPatch$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2000x
	$(GO) test ./webhook -run '^$$' -fuzz '^FuzzAppendValue$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2000x
	$(GO) test ./webhook -run '^$$' -fuzz '^FuzzPodDecoder$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2000x

## demo: the whole mission on one machine: a real node (kubelet, containerd,
## SPIFFE CSI driver), wisp installed with helm, SPIRE, Vault, PostgreSQL; a
## static secret denied, a pod injected and run, its dynamic database
## credential fetched, used and revoked (needs root)
demo:
	@echo "demo: compiling (the first run takes a few minutes)"
	$(GO) run ./test/demo

clean:
	rm -rf bin
