/**
 * A deployment's status as a badge. A running agent deployment whose agent has gone silent
 * (the server's stall watchdog sets `stalledAt`) also shows "stalled" and when the agent
 * was last heard from: it is not failed, the agent may still come back.
 */
import { Badge, StatusBadge, formatDate } from "../../components/ui";
import { isStalled, type Deployment } from "./types";

type StatusFields = Pick<Deployment, "status" | "stalledAt" | "lastContactAt">;

/** Time only when it was today, else date and time: "since 14:02" reads better than a full date. */
export function formatContact(value: string): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  if (date.toDateString() !== new Date().toDateString()) return formatDate(value);
  return date.toLocaleTimeString(undefined, { timeStyle: "short" });
}

/** "no word from the agent since 14:02" (or without a time when the agent never reported). */
export function StalledSince({ deployment: d }: { deployment: StatusFields }) {
  if (!d.lastContactAt) return <>no word from the agent</>;
  return (
    <>
      no word from the agent since{" "}
      <time dateTime={d.lastContactAt} title={formatDate(d.lastContactAt)}>
        {formatContact(d.lastContactAt)}
      </time>
    </>
  );
}

export function StalledBadge() {
  return <Badge tone="warn">stalled</Badge>;
}

/** The status badge, and for a stalled deployment "stalled — no word from the agent since …". */
export function DeploymentStatus({ deployment: d }: { deployment: StatusFields }) {
  return (
    <>
      <StatusBadge status={d.status} />
      {isStalled(d) && (
        <span className="deployment-stalled" data-testid="deployment-stalled">
          {" "}
          <StalledBadge />{" "}
          <span className="muted">
            — <StalledSince deployment={d} />
          </span>
        </span>
      )}
    </>
  );
}
