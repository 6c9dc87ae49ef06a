#!/usr/bin/env bash
# Fetches busybox for arm64 from Debian's busybox-static package into <output-dir> (the
# Makefile passes target/downloads), once: when the verified binary and its applet list are
# already there it does nothing, so every later build uses the same bytes, works offline and
# costs nothing. Nothing fetched is ever committed (target/ is ignored).
#
# Leaves in <output-dir>:
#   busybox-static_<version>_arm64.deb  the package as apt downloaded it (apt checks it against
#                                       the signed package index)
#   busybox                             bin/busybox from it: a static aarch64 executable
#   busybox.applets                     `busybox --list-full`: every applet's install path
#   busybox.version                     the package version
#
# Why the applet list comes from running the binary: `--list-full` is the one source that
# gives each applet's directory (bin, sbin, usr/bin, usr/sbin) as busybox's own
# `make install` places it. The host is x86, so it runs under qemu-user (qemu-aarch64),
# installed here when missing: one 12 MB package whose libraries qemu-system-arm already
# brought, against a parser of busybox's internal tables that would break silently when
# their layout changes. Running it is also the strongest check that the download is right.
# Only a cold cache pays for any of it (apt-get update for arm64 is about 9 MB).
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: scripts/fetch-busybox.sh <output-dir>" >&2
    exit 2
fi
output=$1
binary=$output/busybox
applets=$output/busybox.applets
version_file=$output/busybox.version

fail() {
    echo "fetch-busybox: $*" >&2
    exit 1
}

# Checks that $1 is a static aarch64 ELF64 executable: readelf comes with binutils, which
# gcc (on every machine of this project) depends on.
is_static_aarch64() {
    local header
    header=$(LC_ALL=C readelf --file-header "$1" 2>/dev/null) || return 1
    grep -Eq '^ *Class: *ELF64$' <<<"$header" || return 1
    grep -Eq '^ *Machine: *AArch64$' <<<"$header" || return 1
    grep -Eq '^ *Type: *(EXEC|DYN) ' <<<"$header" || return 1
    ! LC_ALL=C readelf --program-headers --wide "$1" | grep -Eq '^ *INTERP '
}

command -v readelf >/dev/null || fail "readelf is missing: apt-get install binutils"
if [ -s "$applets" ] && [ -s "$version_file" ] && is_static_aarch64 "$binary"; then
    echo "fetch-busybox: busybox-static $(cat "$version_file") (cached in $output)"
    exit 0
fi

started=$SECONDS
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || fail "dpkg and apt-get need root, and there is no sudo"
    sudo="sudo"
fi

if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "fetch-busybox: adding the arm64 architecture to dpkg"
    $sudo dpkg --add-architecture arm64
fi

updated=no
apt_update() {
    [ "$updated" = yes ] && return 0
    echo "fetch-busybox: updating apt's package lists"
    # A third-party source that cannot be reached makes apt-get update fail as a whole; what
    # matters is whether Debian's lists arrived, which the next step finds out.
    $sudo apt-get update -qq || echo "fetch-busybox: apt-get update reported errors" >&2
    updated=yes
}

mkdir -p "$output"
work=$(mktemp -d "$output/fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT

# As root apt drops to its _apt user to download, which cannot write into our directory.
download_options=()
[ "$(id -u)" -eq 0 ] && download_options=(-o APT::Sandbox::User=root)
download() {
    (cd "$work" && apt-get download -qq "${download_options[@]}" busybox-static:arm64)
}
# The arm64 lists are missing until the first update after --add-architecture; an old list
# may also name a version the mirror no longer has. Either way: update once, try again.
if ! apt-cache show busybox-static:arm64 >/dev/null 2>&1; then
    apt_update
fi
download || { apt_update && download; } || fail "apt-get download busybox-static:arm64 failed"

packages=("$work"/busybox-static_*_arm64.deb)
[ ${#packages[@]} -eq 1 ] && [ -f "${packages[0]}" ] || fail "no busybox-static package was downloaded"
package=${packages[0]}
version=$(dpkg-deb --field "$package" Version)
dpkg-deb --extract "$package" "$work/extracted"
[ -f "$work/extracted/bin/busybox" ] || fail "busybox-static $version has no bin/busybox"
is_static_aarch64 "$work/extracted/bin/busybox" ||
    fail "bin/busybox of busybox-static $version is not a static aarch64 executable"

if ! command -v qemu-aarch64 >/dev/null; then
    echo "fetch-busybox: installing qemu-user to list busybox's applets"
    install_qemu() {
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq qemu-user >/dev/null
    }
    install_qemu || { apt_update && install_qemu; } || fail "cannot install qemu-user"
fi
qemu-aarch64 "$work/extracted/bin/busybox" --list-full >"$work/busybox.applets" ||
    fail "busybox $version does not run under qemu-aarch64"
[ -s "$work/busybox.applets" ] || fail "busybox $version lists no applets"

# Move into place, the applet list last: a cache that has it is complete.
rm -f "$applets" "$output"/busybox-static_*_arm64.deb
mv "$package" "$output/"
mv "$work/extracted/bin/busybox" "$binary"
echo "$version" >"$version_file"
mv "$work/busybox.applets" "$applets"
echo "fetch-busybox: busybox-static $version, $(wc -l <"$applets") applets, in $output" \
    "($((SECONDS - started)) s)"
