# Sightline. `make run` starts the server with embedded defaults (data in
# ./data); `make test` builds everything and runs every test.
GO       ?= go
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS  := -X main.version=$(VERSION) -X main.revision=$(REVISION)

.PHONY: build run test lint fmt

build:
	$(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/sightline ./cmd/sightline

run: build
	./bin/sightline -data.dir ./data

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
		if [ -n "$$out" ]; then echo "not gofmt-formatted:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test: lint build
	$(GO) test -count=1 -timeout 15m ./...

fmt:
	gofmt -w .
