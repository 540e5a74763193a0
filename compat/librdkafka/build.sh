#!/usr/bin/env bash
# Gets librdkafka's regression suite from Debian's source package and builds the library and its
# tests/test-runner, with the package's own Debian build dependencies. Nothing of it enters the
# repository: it lands in the work directory (default compat/librdkafka/.work/, git-ignored; set
# BROOK_RDKAFKA_WORK to put it elsewhere). A finished build is reused, so running this twice
# costs nothing the second time.
#
# Needs root (or sudo) for apt-get: it adds a `deb-src` entry for the suites and mirror of the
# machine's existing `deb` entry (/etc/apt/sources.list.d/brook-librdkafka-src.sources), installs
# the build dependencies (`apt-get build-dep librdkafka`) and runs `apt-get source librdkafka`.
#
# Usage: compat/librdkafka/build.sh          prints the path of the built source tree last
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
work="${BROOK_RDKAFKA_WORK:-$here/.work}"
jobs="${BROOK_RDKAFKA_JOBS:-2}"
mkdir -p "$work"

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)

log() { echo "[librdkafka build] $*" >&2; }

find_tree() { find "$work" -maxdepth 1 -type d -name 'librdkafka-*' | sort | tail -n 1; }

tree="$(find_tree)"
if [ -n "$tree" ] && [ -x "$tree/tests/test-runner" ] && [ -f "$tree/.brook-build-ok" ]; then
  log "reusing $tree"
  echo "$tree"
  exit 0
fi

start=$(date +%s)

# 1. A deb-src entry mirroring the machine's deb entry (deb822 or one-line format).
if ! apt-get indextargets --format '$(CREATED_BY)' 2>/dev/null | grep -qx 'Sources'; then
  src_file=/etc/apt/sources.list.d/brook-librdkafka-src.sources
  uris="" suites=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    # The first stanza with Types: deb (not the security one): its URIs and Suites.
    read -r uris suites < <(awk '
      BEGIN { RS = ""; FS = "\n" }
      /(^|\n)Types:[^\n]*deb([ \n]|$)/ && !/security/ {
        u = ""; s = ""
        for (i = 1; i <= NF; i++) {
          if ($i ~ /^URIs:/) { sub(/^URIs:[ \t]*/, "", $i); u = $i }
          if ($i ~ /^Suites:/) { sub(/^Suites:[ \t]*/, "", $i); s = $i }
        }
        if (u != "" && s != "") { gsub(/[ \t]+/, ",", s); print u, s; exit }
      }' /etc/apt/sources.list.d/debian.sources)
    suites="${suites//,/ }"
  fi
  if [ -z "$uris" ] && [ -f /etc/apt/sources.list ]; then
    line="$(grep -E '^deb[[:space:]]' /etc/apt/sources.list | grep -v security | head -n 1 || true)"
    uris="$(awk '{print $2}' <<<"$line")"
    suites="$(awk '{print $3}' <<<"$line")"
  fi
  if [ -z "$uris" ]; then
    log "no deb entry found to mirror as deb-src"
    exit 1
  fi
  log "adding deb-src $uris $suites"
  "${sudo[@]}" tee "$src_file" >/dev/null <<EOF
Types: deb-src
URIs: $uris
Suites: $suites
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  "${sudo[@]}" apt-get update -qq
fi

# 2. Build dependencies (and dpkg-dev for dpkg-source).
log "installing build dependencies"
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
  dpkg-dev build-essential >/dev/null
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get build-dep -y -qq librdkafka >/dev/null

# 3. The source package (orig tarball plus Debian's patches).
rm -rf "$work"/librdkafka-* "$work"/librdkafka_*
log "apt-get source librdkafka"
(cd "$work" && apt-get source -qq librdkafka >/dev/null 2>&1)
tree="$(find_tree)"
[ -n "$tree" ] || { log "apt-get source produced no librdkafka-* directory"; exit 1; }

# 4. The library (static and shared) and the test runner. GSSAPI is not needed (no Kerberos).
log "building $tree with make -j$jobs"
(
  cd "$tree"
  ./configure --disable-gssapi >"$work/configure.log" 2>&1
  make -j"$jobs" libs >"$work/make-libs.log" 2>&1
  make -j"$jobs" -C tests test-runner >"$work/make-tests.log" 2>&1
) || { log "build failed: see $work/*.log"; exit 1; }
touch "$tree/.brook-build-ok"
log "built in $(($(date +%s) - start)) s"
echo "$tree"
