const JOB_ID = /^[A-Za-z0-9._-]{1,200}$/;

/**
 * Caller-chosen job ids become BullMQ job ids too, and BullMQ rejects ids with `:` and ids
 * that are integers; the same rule applies on both transports so a job id that works
 * embedded also works with Redis.
 */
export function validateJobId(jobId: string): void {
  if (!JOB_ID.test(jobId) || /^\d+$/.test(jobId)) {
    throw new Error(`invalid job id "${jobId}": use letters, digits, ".", "_" and "-", not only digits`);
  }
}
