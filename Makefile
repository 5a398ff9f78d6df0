# kguard — the two commands a fresh machine needs:
#   make demo   runs kguard on the bundled examples
#   make test   runs every test (installs what it needs)
GO ?= go
BIN := bin/kguard

.PHONY: all build demo test test-unit test-upstream e2e cluster-up cluster-down bench bench-e2e loadtest clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/kguard

demo: build
	@bash hack/demo.sh $(BIN)

test:
	@bash hack/test.sh

test-unit:
	$(GO) test -race ./...

test-upstream:
	cd test/upstream && $(GO) test -race ./...

# The end-to-end suite alone (starts and stops its own cluster).
e2e:
	bash hack/e2e-cluster.sh install
	env_file=$$(bash hack/e2e-cluster.sh up) && \
	  KGUARD_E2E_ENV=$$env_file $(GO) test -race -count=1 -tags e2e -timeout 30m ./test/e2e/...; \
	  rc=$$?; bash hack/e2e-cluster.sh down; exit $$rc

# A local control plane to try kguard by hand: source the env file it prints.
cluster-up:
	@bash hack/e2e-cluster.sh up

cluster-down:
	@bash hack/e2e-cluster.sh down

bench:
	@bash hack/bench.sh

# Pod creation through a real kube-apiserver: no webhook, no-op webhook, kguard, the
# built-in PodSecurity (docs/performance.md). Starts and stops its own clusters; a few minutes.
bench-e2e:
	@bash hack/bench-e2e.sh

clean:
	rm -rf bin

# kguard serve under load (docs/performance.md): loopback only, bounded in requests and time.
loadtest:
	@bash hack/loadtest.sh

.PHONY: release release-check

# A reproducible release in dist/: kguard for linux/amd64 and linux/arm64, the SPDX SBOM of
# each (kguard sbom), SHA256SUMS (hack/release.sh; build from a clean checkout).
release:
	@bash hack/release.sh dist

# Builds HEAD's release twice, in two clones with caches of their own, and fails unless
# every file is byte-identical (test/release; several minutes of cold builds).
release-check:
	$(GO) test -count=1 -tags release -timeout 40m -v ./test/release/...

.PHONY: image image-check

# kguard's own container image, without Docker (hack/kgimage): an OCI index for linux/amd64
# and linux/arm64 from make release's binaries, on scratch with CA certificates and the
# nonroot user 65532, every timestamp SOURCE_DATE_EPOCH (the last commit's time, as
# hack/release.sh, one value for both): the same binaries give the same digest. Writes the OCI layout
# dist/image and prints the index digest.
#   make image REGISTRY=registry.example.com/team [TAG=v0.1.0] [REGISTRY_CA=ca.pem]
# also pushes it to REGISTRY/kguard:TAG and points deploy/kustomization.yaml's `images:`
# entry at REGISTRY/kguard@DIGEST. Then sign it: hack/sign-image.sh (docs/install.md).
REGISTRY ?=
TAG ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REGISTRY_CA ?=
image:
	@epoch=$${SOURCE_DATE_EPOCH:-$$(git log -1 --format=%ct)}; \
	SOURCE_DATE_EPOCH=$$epoch bash hack/release.sh dist && \
	SOURCE_DATE_EPOCH=$$epoch $(GO) run ./hack/kgimage -dist dist -out dist/image \
	  $(if $(REGISTRY),-push $(REGISTRY)/kguard:$(TAG) -kustomization deploy/kustomization.yaml) \
	  $(if $(REGISTRY_CA),-ca-file $(REGISTRY_CA))

# Builds the image twice from the same binaries in two places and compares (seconds).
image-check:
	$(GO) test -count=1 -tags release -timeout 10m -v -run TestImageIsReproducible ./test/release/...
