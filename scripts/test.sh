#!/usr/bin/env bash
# fbench's test command: what a fresh machine and CI run.
#   scripts/test.sh          vet, the generated-code check, every test (with the race detector on the
#                            engine-free packages), the Kubernetes manifest check, a short fuzz of each
#                            target, and bench.sh --short
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/go/bin"

echo "== tools"
# The HTML report is rendered in headless Chromium by report's tests; protoc checks protos/rpc.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  need=()
  command -v chromium >/dev/null || need+=(chromium)
  command -v protoc >/dev/null || need+=(protobuf-compiler)
  if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  fi
fi

echo "== gofmt, go vet"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null | grep -v '\.pb\.go$' || find . -name '*.go' -not -name '*.pb.go'))
if [ -n "$unformatted" ]; then echo "gofmt would change: $unformatted"; exit 1; fi
go vet ./...

echo "== generated protocol code matches protos/*.proto"
scripts/genproto.sh --check

echo "== tests"
# -p 1: the end-to-end tests measure latency on a 2-core machine; running packages one at a time
# keeps them from measuring each other.
go test -p 1 -count=1 -timeout 20m ./...

echo "== Kubernetes manifests (strict decoding against the API types; a module of its own)"
(cd scripts/kubernetes/manifestcheck && go vet ./... && go test -count=1 ./...)
# The image recipe is built only where a container engine answers (none can be counted on in CI).
if command -v docker >/dev/null && docker info >/dev/null 2>&1; then
  docker build -q -f scripts/kubernetes/Dockerfile -t fbench:test . >/dev/null
  docker run --rm fbench:test version
else
  echo "no container engine: scripts/kubernetes/Dockerfile not built"
fi

echo "== fuzz (short)"
# A count, not a duration: Go 1.26's fuzz coordinator can report "context deadline exceeded" as a
# failure when a duration's deadline races a busy worker (golang/go#75804, fixed in Go 1.27); a count
# has no deadline. 20000 inputs take 1 to 15 s per target on the 2-core CI machine.
while read -r pkg fuzz; do
  [ -n "$fuzz" ] || continue
  go test -run '^$' -fuzz "^${fuzz}\$" -fuzztime "${FBENCH_FUZZTIME:-20000x}" "$pkg"
done < <(for p in $(go list ./...); do for f in $(go test -list '^Fuzz' "$p" 2>/dev/null | grep '^Fuzz'); do echo "$p $f"; done; done)

if [ -x scripts/bench.sh ]; then
  echo "== bench.sh --short"
  scripts/bench.sh --short --out "$(mktemp -d)/bench.json"
fi
