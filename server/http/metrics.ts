/** Prometheus metrics at GET /metrics. */
import type { RequestHandler } from "express";
import { Counter, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface Metrics {
  registry: Registry;
  observe: RequestHandler;
  bytesIn: Counter;
  bytesOut: Counter;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "ferry_" });
  const duration = new Histogram({
    name: "ferry_http_request_duration_seconds",
    help: "HTTP request duration by route and status",
    labelNames: ["method", "route", "status"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
    registers: [registry],
  });
  const bytesIn = new Counter({ name: "ferry_blob_bytes_in_total", help: "Bytes written to the blob store", registers: [registry] });
  const bytesOut = new Counter({ name: "ferry_blob_bytes_out_total", help: "Bytes served from the blob store", registers: [registry] });
  const observe: RequestHandler = (req, res, next) => {
    const end = duration.startTimer();
    res.on("finish", () => {
      // The route pattern, never the raw path: raw paths would explode label cardinality.
      const route = typeof res.locals.routePattern === "string" ? res.locals.routePattern : "unmatched";
      end({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };
  return { registry, observe, bytesIn, bytesOut };
}
