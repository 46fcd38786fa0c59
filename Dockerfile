# sluice in a container: a static binary on distroless, running as nonroot.
#
#   docker build -t sluice .
#   docker run --rm -p 2055:2055/udp -v sluice-data:/var/lib/sluice sluice
#
# docker-compose.yml runs it next to Elasticsearch and Kibana.
#
# Version: the build context includes .git, so the go command stamps the
# module version (the tag, or v0.0.0-<time>-<revision>, +dirty for local
# changes), vcs.revision and vcs.time as in any build from a clone;
# `docker run --rm sluice version` prints them. --build-arg VERSION=v1.2.3
# names a release instead. Without .git (a source tarball, or a git
# worktree, whose .git is a file) there is nothing to stamp and the version
# is "dev" unless VERSION is given.

FROM golang:1.26 AS build
WORKDIR /src
# Dependencies first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=
RUN CGO_ENABLED=0 go build -trimpath -buildvcs=auto -ldflags "-s -w -X main.version=${VERSION}" -o /sluice ./cmd/sluice
RUN mkdir -p /out/var/lib/sluice

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /sluice /sluice
# The state directory belongs to the nonroot user (65532); a new named volume
# mounted here inherits that ownership.
COPY --from=build --chown=65532:65532 /out/var/lib/sluice /var/lib/sluice
WORKDIR /var/lib/sluice
# Templates (data_dir) and the daily NDJSON files live on the volume.
# /metrics listens on all interfaces because 127.0.0.1 inside the container
# is the container's own loopback: Prometheus in the same compose network (or
# a published port) could not reach it there. Publish 9155 on the host's
# 127.0.0.1 only (as docker-compose.yml does) to keep it private. That is
# why the image allows it without http.auth; publish 9155 anywhere else
# only with SLUICE_HTTP_AUTH_* set (README: Console and HTTP security).
ENV SLUICE_DATA_DIR=/var/lib/sluice \
    SLUICE_OUTPUT_FILE_DIR=/var/lib/sluice \
    SLUICE_HTTP_LISTEN=0.0.0.0:9155 \
    SLUICE_HTTP_ALLOW_UNAUTHENTICATED=true
VOLUME /var/lib/sluice
# NetFlow v5/v9/IPFIX, IPFIX, sFlow, syslog (UDP and TCP), /metrics.
EXPOSE 2055/udp 4739/udp 6343/udp 5514/udp 5514/tcp 9155
USER nonroot:nonroot
ENTRYPOINT ["/sluice"]
CMD ["run"]
