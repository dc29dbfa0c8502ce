/** One pending call's place in the deadline list. */
export interface DeadlineEntry {
  /** `Date.now()` value at which `expire` is due. */
  deadline: number;
  previous: DeadlineEntry | undefined;
  next: DeadlineEntry | undefined;
  /** In the list right now. */
  listed: boolean;
  /** Called once when the deadline has passed, after the entry left the list. */
  expire(): void;
}

/** setTimeout turns delays past 2^31-1 ms into 1 ms; a deadline that far is no deadline. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Every pending call's deadline in one list ordered by deadline, behind a single timer armed for
 * the earliest. A call costs a link and an unlink instead of creating and clearing its own timer;
 * each entry still expires at its own deadline, never later than a timer of its own would fire.
 * Calls share the adapter's default timeout, so a new entry almost always goes at the tail; one with
 * a shorter deadline is placed by walking back from the tail. While the list is empty the timer is
 * unref'd, so an idle adapter holds the process open no more than its sockets do.
 */
class DeadlineList {
  #head: DeadlineEntry | undefined;
  #tail: DeadlineEntry | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The deadline the timer is armed for. */
  #armedFor = Number.POSITIVE_INFINITY;
  readonly #fire = (): void => this.#expireDue();

  /** Lists `entry`; false when its deadline is too far away for a timer (then it has none). */
  add(entry: DeadlineEntry, now: number): boolean {
    if (entry.deadline - now > MAX_TIMER_MS) return false;
    let after = this.#tail;
    while (after !== undefined && after.deadline > entry.deadline) after = after.previous;
    entry.previous = after;
    entry.next = after === undefined ? this.#head : after.next;
    if (entry.next === undefined) this.#tail = entry;
    else entry.next.previous = entry;
    if (after === undefined) this.#head = entry;
    else after.next = entry;
    entry.listed = true;
    if (entry.deadline < this.#armedFor) this.#arm(entry.deadline, now);
    else if (entry.previous === undefined && entry.next === undefined) this.#timer?.ref();
    return true;
  }

  remove(entry: DeadlineEntry): void {
    if (!entry.listed) return;
    entry.listed = false;
    const { previous, next } = entry;
    if (previous === undefined) this.#head = next;
    else previous.next = next;
    if (next === undefined) this.#tail = previous;
    else next.previous = previous;
    entry.previous = undefined;
    entry.next = undefined;
    // The timer stays armed for a deadline that may now be gone: when it fires it finds nothing
    // due and re-arms for the new head, once per timeout period rather than once per call.
    if (this.#head === undefined) this.#timer?.unref();
  }

  #arm(deadline: number, now: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedFor = deadline;
    this.#timer = setTimeout(this.#fire, Math.max(0, deadline - now));
  }

  #expireDue(): void {
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    const now = Date.now();
    try {
      for (let entry = this.#head; entry !== undefined && entry.deadline <= now; entry = this.#head) {
        this.remove(entry);
        entry.expire();
      }
    } finally {
      // The loop's clock may lag Date.now(): a timer can fire a little before a deadline is due.
      if (this.#head !== undefined) this.#arm(this.#head.deadline, now);
    }
  }
}

/** One list for the process: every database and transaction of the adapter shares its timer. */
export const deadlines = new DeadlineList();
