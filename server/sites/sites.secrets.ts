/**
 * Site secrets at rest: secret variables are one AES-256-GCM envelope over a JSON object,
 * the SSH private key another; both sealed with FERRY_SECRET_KEY and opened only inside
 * the server (bundle and deployment code), never for an API response.
 */
import { createRequire } from "node:module";
import type ssh2Module from "ssh2";
import { badRequest } from "../errors.js";
import { open, seal } from "../secrets/envelope.js";

export function sealVariables(key: Buffer, variables: Record<string, string>): string | null {
  return Object.keys(variables).length ? seal(key, JSON.stringify(variables)) : null;
}

export function openVariables(key: Buffer, envelope: string | null): Record<string, string> {
  return envelope ? (JSON.parse(open(key, envelope)) as Record<string, string>) : {};
}

/**
 * Checks that a private key is one an SSH client can use (OpenSSH, PKCS#1 or PKCS#8, not
 * passphrase-protected), so a bad key is refused at registration rather than at the
 * first deployment.
 */
export function assertUsablePrivateKey(pem: string): void {
  // ssh2 (~16 MiB loaded) is only needed when an SSH site is registered or edited.
  const ssh2 = createRequire(import.meta.url)("ssh2") as typeof ssh2Module;
  const parsed = ssh2.utils.parseKey(pem);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) {
    const reason = key instanceof Error ? key.message : "unreadable";
    throw badRequest("invalid_private_key", `ssh.privateKey is not a usable private key (${reason}); give an unencrypted OpenSSH key (ssh-keygen) or a PEM RSA/ECDSA key`);
  }
  if (!key.isPrivateKey()) throw badRequest("invalid_private_key", "ssh.privateKey is a public key, not a private key");
}
