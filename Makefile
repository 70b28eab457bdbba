# Conveniences around the project's scripts; CI runs scripts/test.sh.
GO ?= go
BINARY ?= upstash_backup_exporter
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0-dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
BRANCH ?= $(shell git rev-parse --abbrev-ref HEAD 2>/dev/null)
PKG := github.com/prometheus/common/version
LDFLAGS := -X $(PKG).Version=$(VERSION) -X $(PKG).Revision=$(REVISION) -X $(PKG).Branch=$(BRANCH) \
	-X $(PKG).BuildUser=$(shell id -un)@$(shell hostname) -X $(PKG).BuildDate=$(shell date -u +%Y%m%d-%H:%M:%S)

.PHONY: build test lint bench image
build: ## the binary, with version, revision and branch stamped
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BINARY) .

test: ## the whole test suite, as CI runs it
	scripts/test.sh

lint: ## gofmt, go vet and golangci-lint
	scripts/test.sh fmt vet lint

bench: ## the full benchmark table of the README's Scaling section
	scripts/bench.sh full

image: ## the container image (docker, or buildah where there is no Docker engine)
	docker build -t $(BINARY):$(VERSION) --build-arg VERSION=$(VERSION) \
		--build-arg REVISION=$(REVISION) --build-arg BRANCH=$(BRANCH) .
