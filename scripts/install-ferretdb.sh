#!/usr/bin/env bash
# Builds FerretDB v1.24.2 (MongoDB wire protocol over SQLite) from the Go module proxy into .tools/bin.
# A plain `go install github.com/FerretDB/FerretDB/cmd/ferretdb@v1.24.2` builds, but the binary panics at start
# ("Invalid build/version/version.txt file content"): release builds get that file from FerretDB's own build
# task. So we take the same module from the proxy, add the version file, and build it ourselves.
set -euo pipefail
VERSION=v1.24.2
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN_DIR="$ROOT/.tools/bin"
BIN="$BIN_DIR/ferretdb"
# Outputs are captured rather than piped: with pipefail, `ferretdb --version | head` dies of SIGPIPE (exit 141).
if [ -x "$BIN" ]; then
  have="$("$BIN" --version 2>/dev/null || true)"
  case "$have" in *"${VERSION}"*) echo "ferretdb ${VERSION} already at $BIN"; exit 0 ;; esac
fi
command -v go >/dev/null || { echo "install-ferretdb: Go toolchain not found (needed to build FerretDB)" >&2; exit 1; }
SRC_DIR="$(GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@${VERSION}" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -d "$SRC_DIR" ] || { echo "install-ferretdb: go mod download gave no source dir" >&2; exit 1; }
WORK="$(mktemp -d)"
trap 'chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT
cp -r "$SRC_DIR/." "$WORK/"
chmod -R u+w "$WORK"
echo "${VERSION}" > "$WORK/build/version/version.txt"
mkdir -p "$BIN_DIR"
(cd "$WORK" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -o "$BIN" ./cmd/ferretdb)
built="$("$BIN" --version)"
echo "built ferretdb: ${built%%$'\n'*}"
