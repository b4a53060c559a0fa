# syntax=docker/dockerfile:1
# The same build as the README and CI: a static binary from ./cmd/pdp.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/pdp ./cmd/pdp \
 && /out/pdp version

# distroless/static: no shell, no package manager; runs as uid 65532.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/pdp /usr/local/bin/pdp
# Owned by root, readable by all: the sidecar reads its policies and data and
# never writes them (nor anything else: run with readOnlyRootFilesystem; a
# --decision-log FILE needs a writable volume).
COPY policies /etc/pdp/policies
COPY data /etc/pdp/data
USER 65532:65532
# In a pod the sidecar shares the app's loopback; set PDP_ADDR=0.0.0.0:8181 only
# when the port must be published (and then set --auth-token-file).
ENV PDP_ADDR=127.0.0.1:8181 \
    PDP_POLICIES=/etc/pdp/policies \
    PDP_DATA=/etc/pdp/data
EXPOSE 8181
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s CMD ["/usr/local/bin/pdp", "health"]
ENTRYPOINT ["/usr/local/bin/pdp"]
