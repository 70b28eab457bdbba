# syntax=docker/dockerfile:1
# upstash_backup_exporter: a static binary in an empty image.
#
#   docker build -t upstash_backup_exporter \
#     --build-arg VERSION="$(git describe --tags --always)" \
#     --build-arg REVISION="$(git rev-parse HEAD)" .
#   docker run --rm -p 10035:10035 upstash_backup_exporter --demo
#
# The build stage runs go commands only, so that any Go 1.26 image on
# Debian bookworm builds it the same way.
#
# Multi-arch: the build stage runs on the builder's own platform and
# cross-compiles for the target one (no emulation), e.g.
#   docker buildx build --platform linux/amd64,linux/arm64 .
FROM --platform=$BUILDPLATFORM golang:1.26-bookworm AS build
WORKDIR /src

# Modules first: a source change does not download them again. The cache
# mount keeps them across builds too.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

COPY . .
# Shown by --version and upstash_backup_exporter_build_info.
ARG VERSION=""
ARG REVISION=unknown
ARG BRANCH=""
ARG BUILD_USER=docker
ARG BUILD_DATE=""
ARG TARGETOS=linux
ARG TARGETARCH
ENV CGO_ENABLED=0
RUN --mount=type=cache,target=/go/pkg/mod \
    GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -buildvcs=false \
      -ldflags="-s -w \
        -X 'github.com/prometheus/common/version.Version=${VERSION}' \
        -X 'github.com/prometheus/common/version.Revision=${REVISION}' \
        -X 'github.com/prometheus/common/version.Branch=${BRANCH}' \
        -X 'github.com/prometheus/common/version.BuildUser=${BUILD_USER}' \
        -X 'github.com/prometheus/common/version.BuildDate=${BUILD_DATE}'" \
      -o /out/upstash_backup_exporter . \
 && go version /out/upstash_backup_exporter

FROM scratch
ARG VERSION=""
ARG REVISION=unknown
LABEL org.opencontainers.image.title="upstash_backup_exporter" \
      org.opencontainers.image.description="Prometheus exporter that tells whether Upstash Redis backups are really happening" \
      org.opencontainers.image.source="https://github.com/upstash-backup-exporter/upstash_backup_exporter" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="Apache-2.0"
# The Upstash API is HTTPS: the exporter needs the CA bundle and nothing else.
COPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/ca-certificates.crt
COPY --from=build /out/upstash_backup_exporter /bin/upstash_backup_exporter
# nobody:nogroup, numeric so that runAsNonRoot can verify it.
USER 65534:65534
EXPOSE 10035
ENTRYPOINT ["/bin/upstash_backup_exporter"]
