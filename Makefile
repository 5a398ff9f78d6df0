# kguard — the two commands a fresh machine needs:
#   make demo   runs kguard on the bundled examples
#   make test   runs every test (installs what it needs)
GO ?= go
BIN := bin/kguard

.PHONY: all build demo test test-unit test-upstream fuzz bench clean

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

bench:
	@bash hack/bench.sh

clean:
	rm -rf bin
