/**
 * `install.sh` at the top of every bundle: checks every file against SHA256SUMS, checks
 * the manifest signature with openssl when a trusted public key is at hand, then hands
 * over to the site agent in offline mode. The key is never taken from the bundle itself:
 * a key shipped next to the signature proves nothing.
 */
export const INSTALL_SH = `#!/bin/sh
# Ferry bundle installer. Usage: ./install.sh [agent apply options, e.g. --workdir DIR --vars FILE --dry-run]
# FERRY_SIGNING_KEY_FILE: the server's public key (GET /api/v1/signing-key), default /etc/ferry/signing-key.pem
set -eu
cd "$(dirname "$0")"

echo "ferry: verifying checksums (SHA256SUMS)"
sha256sum --check --quiet --strict SHA256SUMS

key="\${FERRY_SIGNING_KEY_FILE:-/etc/ferry/signing-key.pem}"
if [ -f "$key" ] && command -v openssl >/dev/null 2>&1; then
  sig="$(mktemp)"
  trap 'rm -f "$sig"' EXIT
  openssl base64 -d -A -in manifest.json.sig -out "$sig"
  if ! openssl pkeyutl -verify -pubin -inkey "$key" -rawin -in manifest.json -sigfile "$sig" >/dev/null; then
    echo "ferry: manifest.json signature does NOT verify against $key; refusing to install" >&2
    exit 1
  fi
  echo "ferry: manifest signature verified with $key"
else
  echo "ferry: WARNING: signature not checked (set FERRY_SIGNING_KEY_FILE to the server's public key; openssl needed)" >&2
fi

if [ ! -f agent/ferry-agent.mjs ]; then
  echo "ferry: this bundle carries no agent (agent/ferry-agent.mjs)" >&2
  exit 1
fi
exec node agent/ferry-agent.mjs apply . "$@"
`;
