/**
 * Domain events that leave Ferry (webhooks). Services emit them after the change they
 * describe is committed; delivery (signing, retries) is the webhooks domain's concern.
 */
export const EVENT_NAMES = [
  "sql.submitted",
  "sql.approved",
  "sql.rejected",
  "release.sealed",
  "bundle.ready",
  "deployment.finished",
  "deployment.stalled",
] as const;
export type EventName = (typeof EVENT_NAMES)[number];

export interface EventSink {
  emit(event: EventName, payload: Record<string, unknown>): Promise<void>;
}
