#!/usr/bin/env bash
# Builds the Debian package from debian/ (dpkg-buildpackage -us -uc -b),
# checks it (tests/package/check_deb.sh, then lintian), and prints the folder
# holding the .deb files: build/package/ unless KEYWARDEN_PACKAGE_DIR says
# otherwise. Installs the packaging tools it needs (debhelper, dpkg-dev,
# lintian) when run as root. Jobs: KEYWARDEN_PACKAGE_JOBS (default 2).
#
# Usage: package.sh                  compile everything again, with Debian's
#                                    hardening flags (dpkg-buildflags)
#        package.sh --reuse-build    package the binary of ./build (scripts/build.sh's,
#                                    the one CI tests), compiling only what is stale
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd)"
out="${KEYWARDEN_PACKAGE_DIR:-$root/build/package}"
jobs="${KEYWARDEN_PACKAGE_JOBS:-2}"
reuse=""
case "${1:-}" in
  "") ;;
  --reuse-build) reuse="$root/build" ;;
  *) echo "usage: $0 [--reuse-build]" >&2; exit 2 ;;
esac

./scripts/install-deps.sh
tools=(debhelper dpkg-dev fakeroot lintian)
missing=()
for p in "${tools[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "package: missing ${missing[*]}; run as root (or with sudo) to install them" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# dpkg-buildpackage writes its results next to the source folder; build from
# a copy of the tree so that they land in a folder of ours, and so that the
# worktree is left as it was (debian/build, debian/keywarden ...). The copy's
# path is fixed, so that ccache serves a second package build.
stage="$root/build/package-stage"
rm -rf "$stage"
mkdir -p "$stage/keywarden"
git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf - | tar -xf - -C "$stage/keywarden"
# debhelper 13 points HOME at a scratch folder while it builds, where ccache
# would find neither its configuration nor its cache: name both.
if command -v ccache >/dev/null 2>&1; then
  export CCACHE_DIR="${CCACHE_DIR:-$(ccache -k cache_dir)}"
  base_dir="$(ccache -k base_dir)"
  [[ -n "$base_dir" ]] && export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$base_dir}"
fi
if [[ -n "$reuse" ]]; then
  [[ -f "$reuse/CMakeCache.txt" ]] ||
    cmake -S . -B "$reuse" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  export KEYWARDEN_REUSE_BUILD="$reuse"
fi
(cd "$stage/keywarden" && dpkg-buildpackage -us -uc -b "-j$jobs")

rm -rf "$out"
mkdir -p "$out"
find "$stage" -maxdepth 1 -type f \( -name '*.deb' -o -name '*.ddeb' -o -name '*.changes' -o -name '*.buildinfo' \) \
  -exec cp {} "$out/" \;

bash tests/package/check_deb.sh "$out"
changes="$(ls "$out"/*.changes)"
# No error; warnings are printed (docs/packaging.md explains each one left).
lintian --fail-on error --tag-display-limit 0 --display-info "$changes"
rm -rf "$stage"
echo "package: built into $out"
ls -1 "$out"
