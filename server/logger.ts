import { pino, type Logger } from "pino";

export type { Logger };

/** Root logger. Secrets are redacted wherever they might be logged by accident. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: "ferry" },
    redact: {
      paths: [
        "req.headers.authorization",
        "req.headers.cookie",
        "password",
        "*.password",
        "token",
        "*.token",
        "secret",
        "*.secret",
        "privateKey",
        "*.privateKey",
      ],
      censor: "[redacted]",
    },
  });
}
