#!/usr/bin/env bash
# Regenerates protos/rpc/*.pb.go from the .proto files in protos/ with pinned tool versions.
#   scripts/genproto.sh          regenerate in place
#   scripts/genproto.sh --check  regenerate into a temporary directory and fail if the committed code differs
set -euo pipefail
cd "$(dirname "$0")/.."

PROTOC_VERSION="3.21.12"               # Debian bookworm's protobuf-compiler
PROTOC_GEN_GO_VERSION="v1.36.12"       # google.golang.org/protobuf
PROTOC_GEN_GO_GRPC_VERSION="v1.5.1"    # google.golang.org/grpc/cmd/protoc-gen-go-grpc
MODULE="github.com/fbench/fbench"
GOPKG="$MODULE/protos/rpc"

tools="${FBENCH_TOOLS:-$PWD/.tools}"
mkdir -p "$tools/bin"
export PATH="$tools/bin:$PATH"

if ! command -v protoc >/dev/null || [ "$(protoc --version)" != "libprotoc $PROTOC_VERSION" ]; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "genproto: installing protobuf-compiler (protoc $PROTOC_VERSION) from Debian" >&2
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq protobuf-compiler >/dev/null
  fi
fi
have="$(protoc --version 2>/dev/null || true)"
if [ "$have" != "libprotoc $PROTOC_VERSION" ]; then
  echo "genproto: need protoc $PROTOC_VERSION, found '${have:-none}'" >&2
  exit 1
fi
if [ ! -x "$tools/bin/protoc-gen-go" ] || ! "$tools/bin/protoc-gen-go" --version | grep -q "$PROTOC_GEN_GO_VERSION"; then
  GOBIN="$tools/bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
fi
if [ ! -x "$tools/bin/protoc-gen-go-grpc" ] || ! "$tools/bin/protoc-gen-go-grpc" --version | grep -q "${PROTOC_GEN_GO_GRPC_VERSION#v}"; then
  GOBIN="$tools/bin" go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"
fi

out="protos"
if [ "${1:-}" = "--check" ]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out/rpc"

files=(FunctionRpc.proto identity/ClaimsIdentityRpc.proto shared/NullableTypes.proto)
maps=""
for f in "${files[@]}"; do maps="$maps,M$f=$GOPKG"; done
maps="${maps#,}"

protoc -I protos -I /usr/include \
  --go_out="$out/rpc" --go_opt=paths=source_relative,"$maps" \
  --go-grpc_out="$out/rpc" --go-grpc_opt=paths=source_relative,"$maps" \
  "${files[@]}"
# Everything lands in one Go package: flatten the identity/ and shared/ subdirectories.
for sub in identity shared; do
  if [ -d "$out/rpc/$sub" ]; then mv "$out/rpc/$sub"/*.pb.go "$out/rpc/"; rmdir "$out/rpc/$sub"; fi
done

if [ "${1:-}" = "--check" ]; then
  # protos/rpc/doc.go holds the package comment, written by hand.
  if ! diff -r -q -x doc.go "$out/rpc" protos/rpc >/dev/null; then
    diff -r -x doc.go "$out/rpc" protos/rpc | head -40 >&2
    echo "genproto: protos/rpc is out of date with the .proto files; run scripts/genproto.sh" >&2
    exit 1
  fi
  echo "genproto: protos/rpc matches the .proto files"
fi
