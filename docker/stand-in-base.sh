#!/usr/bin/env bash
# Builds a local stand-in for the image's base, node:20-bookworm-slim, on a machine that
# cannot reach Docker Hub (CI here reaches only npm and Debian): Debian bookworm (minbase,
# from Debian's mirror with debootstrap) plus this machine's Node 20 and npm under
# /usr/local, and the user `node` (uid 1000), as in the official image. Does nothing when
# an image of that name is already present. Needs root, debootstrap and a Docker engine.
#   bash docker/stand-in-base.sh [image-name]
set -euo pipefail
image=${1:-node:20-bookworm-slim}
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "stand-in-base: $image is already present"
  exit 0
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" != 20 ]; then
  echo "stand-in-base: this machine has Node $(node -v); the image's base is Node 20" >&2
  exit 1
fi
npm_dir=$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")
root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >/dev/null
mkdir -p "$root/usr/local/bin" "$root/usr/local/lib/node_modules"
cp "$(readlink -f "$(command -v node)")" "$root/usr/local/bin/node"
cp -a "$npm_dir" "$root/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
chroot "$root" sh -c 'groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node'
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
changes=(-c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' -c "ENV NODE_VERSION=$(node -p process.versions.node)" -c 'CMD ["node"]')
# Where this machine's network re-signs TLS with its own authority (NODE_EXTRA_CA_CERTS
# set), npm inside the build needs that authority too: the stand-in trusts what the host trusts.
if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
  mkdir -p "$root/etc/ssl/certs"
  cp "$NODE_EXTRA_CA_CERTS" "$root/etc/ssl/certs/host-ca-certificates.crt"
  changes+=(-c 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/host-ca-certificates.crt' -c 'ENV npm_config_cafile=/etc/ssl/certs/host-ca-certificates.crt')
fi
tar -C "$root" -c . | docker import "${changes[@]}" - "$image" >/dev/null
echo "stand-in-base: built $image (Debian bookworm, Node $(node -v))"
