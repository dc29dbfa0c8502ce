import { createHash, randomUUID } from "node:crypto";
import type { InfrastructureError, SqlDatabase, SqlListener } from "@proj/ports";
import { sql } from "@proj/ports";
import { cancelLocally, recheckWorkers, wakeWorkers } from "./wakeups.js";

/**
 * Marks notifications sent by this module instance (this process): its own workers were woken
 * already, in-process, so they skip the echo instead of claiming twice.
 */
const ORIGIN = randomUUID();
/** Back-off of a listener that could not be set up: 1 s doubling to 30 s, jittered. */
const LISTEN_RETRY_INITIAL_MS = 1_000;
const LISTEN_RETRY_MAX_MS = 30_000;
/** PostgreSQL truncates channel names past 63 bytes. */
const MAX_CHANNEL_BYTES = 63;

/**
 * The channel of a queue (`<schema>.<queue>`) or of the schema's cancels (`<schema>:cancel`):
 * neither a schema nor a queue name may hold `.` or `:`, so no two meet. A name past 63 bytes
 * becomes a hash of it.
 */
export function channelName(schema: string, queue: string | undefined): string {
  const name = queue === undefined ? `${schema}:cancel` : `${schema}.${queue}`;
  if (Buffer.byteLength(name) <= MAX_CHANNEL_BYTES) return name;
  return `pjq.${createHash("sha256").update(name).digest("hex").slice(0, 40)}`;
}

type Report = (error: unknown, operation: string, queue: string | undefined) => void;

/** One channel this instance listens on while some worker needs it. */
interface Subscription {
  users: number;
  listener: SqlListener | undefined;
  /** Listening, and no loss reported since: a notification sent now will arrive. */
  live: boolean;
  retry: NodeJS.Timeout | undefined;
  failures: number;
  /** Set when the last user left: a listener that comes up afterwards is closed at once. */
  dropped: boolean;
}

/** A worker's hold on the wake-ups of its queue. */
export interface WakeSubscription {
  /**
   * Wake-ups from other processes reach the worker now (listening, no loss since): it need not
   * look for their jobs by polling fast.
   */
  live(): boolean;
  stop(): void;
}

/** What an in-flight wake notification of one queue owes: another round once it is done. */
interface Pending {
  again: boolean;
}

/**
 * Wake-ups across processes with PostgreSQL LISTEN/NOTIFY, on top of the in-process ones:
 * `enqueue` and `redrive` notify `<schema>.<queue>`, `cancel` of a running job notifies
 * `<schema>:cancel` with its id. Workers of an instance whose database offers `listen()`
 * (`capabilities.notifications`) listen on their queue's channel and on the cancels. A notification
 * is a nudge, never the only way a job is found: workers still poll, so one missed while a listening
 * connection was down (reported through `onBackgroundError`, operation `listen`) costs at most one
 * poll interval.
 */
export class QueueNotifications {
  readonly #db: SqlDatabase;
  readonly #schema: string;
  readonly #send: boolean;
  readonly #timeoutMs: number;
  readonly #report: Report;
  readonly #subscriptions = new Map<string, Subscription>();
  readonly #pending = new Map<string, Pending>();
  readonly #inFlight = new Set<Promise<void>>();
  #closed = false;

  constructor(
    db: SqlDatabase,
    schema: string,
    options: { send: boolean; timeoutMs: number; report: Report },
  ) {
    this.#db = db;
    this.#schema = schema;
    this.#send = options.send;
    this.#timeoutMs = options.timeoutMs;
    this.#report = options.report;
  }

  /** Workers can be woken across processes: the database offers `listen()`. */
  get listening(): boolean {
    return this.#db.capabilities.notifications === true && typeof this.#db.listen === "function";
  }

  /**
   * The notification an enqueue may send within its own insert (`insertJob`), or `undefined` when
   * this instance does not notify. See `PostgresJobQueueImpl.enqueue` for when it does.
   */
  inline(queue: string): { channel: string; payload: string } | undefined {
    if (!this.#send || this.#closed) return undefined;
    return { channel: channelName(this.#schema, queue), payload: ORIGIN };
  }

  /**
   * A job of `queue` became due: wake this process's workers now, and the others' by NOTIFY unless
   * the statement that made it due sent one already (`notified`).
   */
  wake(queue: string, notified = false): void {
    wakeWorkers(this.#schema, queue);
    if (notified || !this.#send || this.#closed) return;
    const channel = channelName(this.#schema, queue);
    const pending = this.#pending.get(channel);
    // One notification in flight per queue: jobs enqueued meanwhile are covered by one more after
    // it, sent once their rows are committed. A busy queue sends one NOTIFY per round trip, not per job.
    if (pending !== undefined) {
      pending.again = true;
      return;
    }
    this.#pending.set(channel, { again: false });
    this.#track(this.#notifyRounds(channel, queue));
  }

  async #notifyRounds(channel: string, queue: string): Promise<void> {
    for (;;) {
      try {
        await this.#db.query(sql`SELECT pg_notify(${channel}, ${ORIGIN}) AS sent`, {
          timeoutMs: this.#timeoutMs,
        });
      } catch (error) {
        this.#report(error, "notify", queue);
      }
      const pending = this.#pending.get(channel);
      if (pending === undefined || !pending.again || this.#closed) break;
      pending.again = false;
    }
    this.#pending.delete(channel);
  }

  /** A running job was cancelled: stop its handler here now, and elsewhere by NOTIFY. */
  cancelled(id: string): void {
    cancelLocally(this.#schema, id);
    if (!this.#send || this.#closed) return;
    const notify = this.#db
      .query(sql`SELECT pg_notify(${channelName(this.#schema, undefined)}, ${`${ORIGIN} ${id}`}) AS sent`, {
        timeoutMs: this.#timeoutMs,
      })
      .then(
        () => undefined,
        (error: unknown) => this.#report(error, "notify", undefined),
      );
    this.#track(notify);
  }

  #track(promise: Promise<void>): void {
    this.#inFlight.add(promise);
    void promise.finally(() => this.#inFlight.delete(promise));
  }

  /**
   * A worker of `queue` starts: listen on its channel and on the cancels while it runs. Without
   * `listen()` on the database, nothing (workers poll).
   */
  subscribe(queue: string): WakeSubscription {
    if (!this.listening || this.#closed) return { live: () => false, stop: () => undefined };
    const wakes = channelName(this.#schema, queue);
    const channels = [wakes, channelName(this.#schema, undefined)];
    for (const channel of channels) this.#use(channel, queue);
    let left = false;
    return {
      live: () => !left && this.#subscriptions.get(wakes)?.live === true,
      stop: () => {
        if (left) return;
        left = true;
        for (const channel of channels) this.#leave(channel);
      },
    };
  }

  #use(channel: string, queue: string): void {
    const existing = this.#subscriptions.get(channel);
    if (existing !== undefined) {
      existing.users += 1;
      return;
    }
    const subscription: Subscription = {
      users: 1,
      listener: undefined,
      live: false,
      retry: undefined,
      failures: 0,
      dropped: false,
    };
    this.#subscriptions.set(channel, subscription);
    this.#start(channel, queue, subscription);
  }

  #start(channel: string, queue: string, subscription: Subscription): void {
    const isCancel = channel === channelName(this.#schema, undefined);
    const onNotification = (payload: string): void => {
      if (payload.startsWith(ORIGIN)) return;
      if (isCancel) {
        const id = payload.slice(payload.indexOf(" ") + 1);
        cancelLocally(this.#schema, id);
      } else {
        wakeWorkers(this.#schema, queue);
      }
    };
    const listen = this.#db.listen?.bind(this.#db);
    if (listen === undefined) return;
    const setUp = listen(channel, onNotification, {
      timeoutMs: this.#timeoutMs,
      // Reported, never silent: until onResume, this process's workers find jobs by polling.
      onError: (error: InfrastructureError) => {
        subscription.live = false;
        this.#report(error, "listen", isCancel ? undefined : queue);
      },
      // What was sent during the gap is unknown: look now rather than at the next poll (or, for
      // cancels, the next lease renewal).
      onResume: () => {
        subscription.live = true;
        if (isCancel) recheckWorkers(this.#schema);
        else wakeWorkers(this.#schema, queue);
      },
    }).then(
      (listener) => {
        subscription.failures = 0;
        if (subscription.dropped || this.#closed) {
          void listener.close();
          return;
        }
        subscription.listener = listener;
        subscription.live = true;
        // Workers start before their listener is up: a cancel sent meanwhile reached nobody.
        if (isCancel) recheckWorkers(this.#schema);
      },
      (error: unknown) => {
        this.#report(error, "listen", isCancel ? undefined : queue);
        if (subscription.dropped || this.#closed) return;
        subscription.failures += 1;
        const ceiling = Math.min(
          LISTEN_RETRY_MAX_MS,
          LISTEN_RETRY_INITIAL_MS * 2 ** Math.min(subscription.failures - 1, 16),
        );
        subscription.retry = setTimeout(
          () => {
            subscription.retry = undefined;
            if (!subscription.dropped && !this.#closed) this.#start(channel, queue, subscription);
          },
          ceiling / 2 + Math.random() * (ceiling / 2),
        );
        subscription.retry.unref();
      },
    );
    this.#track(setUp);
  }

  #leave(channel: string): void {
    const subscription = this.#subscriptions.get(channel);
    if (subscription === undefined) return;
    subscription.users -= 1;
    if (subscription.users > 0) return;
    this.#subscriptions.delete(channel);
    this.#drop(subscription);
  }

  #drop(subscription: Subscription): void {
    subscription.dropped = true;
    clearTimeout(subscription.retry);
    const { listener } = subscription;
    subscription.listener = undefined;
    if (listener !== undefined)
      this.#track(listener.close().catch((error: unknown) => this.#report(error, "listen", undefined)));
  }

  /** Stops listening and waits for notifications in flight. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const subscription of this.#subscriptions.values()) this.#drop(subscription);
    this.#subscriptions.clear();
    while (this.#inFlight.size > 0) await Promise.all([...this.#inFlight]);
  }
}
