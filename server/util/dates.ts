/** Dates in what clients send (agent reports, SQL history rows), read leniently. */

/** `text` as a date, or `fallback` when it is missing or not a date. */
export function dateOr(text: string | undefined, fallback: Date): Date {
  const date = text ? new Date(text) : null;
  return date && !Number.isNaN(date.getTime()) ? date : fallback;
}
