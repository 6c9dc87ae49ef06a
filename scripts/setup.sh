#!/usr/bin/env bash
# Installs what a fresh Debian machine with only rustup/cargo lacks, and nothing when it is
# already there: the Rust targets of rust-toolchain.toml, QEMU, and (with --debugger)
# gdb-multiarch. Idempotent and quiet when everything is present.
set -euo pipefail
cd "$(dirname "$0")/.."

want_debugger=no
[ "${1:-}" = "--debugger" ] && want_debugger=yes

# rust-toolchain.toml names the targets; rustup installs missing ones on `target add`.
targets=$(sed -n 's/^targets *= *\[\(.*\)\]/\1/p' rust-toolchain.toml | tr -d '",')
installed=$(rustup target list --installed)
missing=()
for target in $targets; do
    grep -qx "$target" <<<"$installed" || missing+=("$target")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: adding Rust targets ${missing[*]}"
    rustup target add "${missing[@]}"
fi

packages=()
command -v qemu-system-aarch64 >/dev/null || packages+=(qemu-system-arm)
[ "$want_debugger" = yes ] && ! command -v gdb-multiarch >/dev/null && packages+=(gdb-multiarch)
if [ ${#packages[@]} -gt 0 ]; then
    echo "setup: installing ${packages[*]}"
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${packages[@]}" >/dev/null
fi
