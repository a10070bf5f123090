/**
 * The server's own secrets (SPEC §3): JWT secret, the key that encrypts site secrets, the
 * Ed25519 bundle-signing key. Taken from the environment when set; otherwise generated
 * once into the data directory with mode 0600 and reused on every start.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomBytes, type KeyObject } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Config } from "../config.js";

export interface ServerSecrets {
  jwtSecret: string;
  /** 32 bytes for AES-256-GCM. */
  secretKey: Buffer;
  signingKey: KeyObject;
  /** SPKI PEM of the signing key, served at GET /signing-key. */
  signingPublicKeyPem: string;
}

function readOrCreate(file: string, create: () => string): string {
  if (existsSync(file)) return readFileSync(file, "utf8").trim();
  const value = create();
  // `wx` refuses to overwrite: when two processes race on first start, one wins and both read it.
  try {
    writeFileSync(file, value + "\n", { mode: 0o600, flag: "wx" });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  return readFileSync(file, "utf8").trim();
}

export function loadServerSecrets(config: Config): ServerSecrets {
  const dir = path.join(config.dataDir, "secrets");
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const jwtSecret = config.FERRY_JWT_SECRET ?? readOrCreate(path.join(dir, "jwt-secret"), () => randomBytes(48).toString("base64url"));
  const secretKeyHex = config.FERRY_SECRET_KEY ?? readOrCreate(path.join(dir, "secret-key"), () => randomBytes(32).toString("hex"));
  const signingPem =
    config.FERRY_SIGNING_KEY ??
    readOrCreate(path.join(dir, "signing-key.pem"), () =>
      generateKeyPairSync("ed25519").privateKey.export({ format: "pem", type: "pkcs8" }).toString().trim(),
    );
  const signingKey = createPrivateKey(signingPem);
  if (signingKey.asymmetricKeyType !== "ed25519") {
    throw new Error("invalid configuration: FERRY_SIGNING_KEY must be an Ed25519 private key");
  }
  return {
    jwtSecret,
    secretKey: Buffer.from(secretKeyHex, "hex"),
    signingKey,
    signingPublicKeyPem: createPublicKey(signingKey).export({ format: "pem", type: "spki" }).toString(),
  };
}
