#!/usr/bin/env bash
# Builds Faultline's static binary and, from it, FROM-scratch images that
# need no registry:
#   scripts/build-image.sh            ./faultline (for docker-compose build) and
#                                      faultline-demo:local, the demo httpbin target
#   scripts/build-image.sh binary     only ./faultline (and ./ca-certificates.crt)
# Then: docker-compose build && FAULTLINE_TOKEN=$(openssl rand -hex 16) docker-compose up
set -euo pipefail
cd "$(dirname "$0")/.."
export GOTOOLCHAIN=local CGO_ENABLED=0
go build -trimpath -ldflags='-s -w' -o faultline ./cmd/faultline
# CA certificates for https webhooks from the scratch image.
cp /etc/ssl/certs/ca-certificates.crt ca-certificates.crt
[ "${1:-}" = binary ] && exit 0
ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
cp faultline "$ctx/faultline"
cp scripts/demo-target.Dockerfile "$ctx/Dockerfile"
# The classic builder resolves FROM scratch without any registry.
DOCKER_BUILDKIT=0 docker build -q -t "${DEMO_IMAGE:-faultline-demo:local}" "$ctx"
