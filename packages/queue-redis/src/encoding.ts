import { InfrastructureError } from "@proj/ports";

/**
 * The port's job id is `<queue>:<BullMQ job id>`: `cancel` and `redrive` find the queue in it. A
 * queue name never holds `:` (the port's rule), nor does a BullMQ id this adapter makes (a UUID).
 */
export function encodeJobId(queue: string, bullId: string): string {
  return `${queue}:${bullId}`;
}

const QUEUE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const BULL_ID = /^[A-Za-z0-9_-]{1,128}$/;

/** The queue and BullMQ id in a port job id, or `undefined` for a string this adapter never made. */
export function decodeJobId(id: string): { queue: string; bullId: string } | undefined {
  const colon = id.indexOf(":");
  if (colon < 0) return undefined;
  const queue = id.slice(0, colon);
  const bullId = id.slice(colon + 1);
  if (!QUEUE_NAME.test(queue) || !BULL_ID.test(bullId)) return undefined;
  return { queue, bullId };
}

/** What `cancel` leaves in BullMQ's deduplication key of a cancelled job: its id and this mark. */
export const CANCELLED_DEDUP_SUFFIX = "~c";

/** The BullMQ id of the job that holds an idempotency key (BullMQ returns the key's value). */
export function jobIdOfDedupValue(value: string): string {
  return value.endsWith(CANCELLED_DEDUP_SUFFIX) ? value.slice(0, -CANCELLED_DEDUP_SUFFIX.length) : value;
}

/** A dead letter's last error, as the failure reason BullMQ stores: JSON, so the code survives. */
export interface FailureRecord {
  code: string;
  message: string;
  /** Attempts made when the job was dead-lettered. */
  attempts: number;
}

export function encodeFailure(record: FailureRecord): string {
  return JSON.stringify(record);
}

/** Reads a failure reason back; one written by BullMQ itself (not JSON) becomes `INTERNAL`. */
export function decodeFailure(
  reason: string | undefined,
): Partial<FailureRecord> & { code: string; message: string } {
  if (reason?.startsWith("{")) {
    try {
      const parsed = JSON.parse(reason) as Partial<FailureRecord>;
      if (typeof parsed.code === "string" && typeof parsed.message === "string") {
        return {
          code: parsed.code,
          message: parsed.message,
          ...(typeof parsed.attempts === "number" ? { attempts: parsed.attempts } : {}),
        };
      }
    } catch {
      // Not ours: reported as is below.
    }
  }
  return { code: "INTERNAL", message: reason ?? "" };
}

/** Where a dead-letter page ended: the last item's failure time and BullMQ id. */
export interface DeadLetterCursor {
  failedAt: number;
  bullId: string;
}

export function encodeCursor(cursor: DeadLetterCursor): string {
  return Buffer.from(`${cursor.failedAt}:${cursor.bullId}`, "utf8").toString("base64url");
}

export function decodeCursor(text: unknown): DeadLetterCursor {
  const invalid = () =>
    new InfrastructureError("INVALID_ARGUMENT", "after must be a nextCursor from listDeadLetters", {
      retryable: false,
    });
  if (typeof text !== "string" || text === "" || text.length > 400) throw invalid();
  const plain = Buffer.from(text, "base64url").toString("utf8");
  const colon = plain.indexOf(":");
  const failedAt = Number(plain.slice(0, colon));
  const bullId = plain.slice(colon + 1);
  if (colon <= 0 || !Number.isSafeInteger(failedAt) || failedAt < 0 || !BULL_ID.test(bullId)) throw invalid();
  return { failedAt, bullId };
}
