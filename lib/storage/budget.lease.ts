import type { CallRecord } from '../core/call-record.js';
import { newId } from '../core/ids.js';
import { usdToString, type Usd } from '../core/money.js';
import type { LeaseHolds } from './batch.sql.js';
import type { ResolvedLease } from './budget.options.js';
import type { TelemetryItem } from './record.codec.js';

/** What the database answered a lease request: admitted or not, and the room left to others (limit − spent − reserved, the least over the budgets). */
export interface LeaseAnswer {
  admitted: boolean;
  room: Usd;
}

/** The ledger's side: the two statements a lease needs, with its timeouts, alerts and error handling. */
export interface LeaseDatabase<T> {
  /** One `kostrack_budget_admit()` of `amount`, held under `id` for `ttlMs`. Rejects as a call's admission would. */
  request(target: T, amount: Usd, id: string, ttlMs: number): Promise<LeaseAnswer>;
  /** Lowers the hold `id` to `hold` (0 deletes it); resolves to the room left, or null when the hold is gone (it expired). */
  trim(target: T, id: string, hold: Usd): Promise<Usd | null>;
  /**
   * Reads the scopes after rows under their leases landed, for the alerts their spending crossed
   * (no other statement about a scope may follow them). Never rejects.
   */
  look(targets: T[]): Promise<void>;
}

/**
 * One lease: a hold in `llm_budget_reservations` keyed by a random id, admitted like a call's.
 * `hold` is what it holds once the trims sent so far apply; `inUse` the worst cases of its calls
 * in flight plus the costs of its settled calls whose rows have not landed. Calls fit while
 * `inUse` stays within `hold`, so everything its calls may cost is covered by the hold or, once
 * their rows land, by `spent` (the statement that stores a row moves its cost from the hold to
 * spent): the database never counts less than the calls can cost.
 */
class Lease<T> {
  inUse = 0n;
  /** Calls admitted under it whose rows have not landed. */
  calls = 0;
  retired = false;
  /** What the database holds for it as far as this process knows (lowered by each trim that succeeded and each batch that landed). */
  synced: Usd;
  /**
   * Its hold row is gone (a trim to 0 deleted it, or it expired). Until then a retired lease with
   * no calls left sends that trim even when `synced` reads 0: a trim sent before a batch landed
   * but applied after it sets the hold above what `synced` then says.
   */
  deleted = false;
  syncing: Promise<void> | null = null;
  dirty = false;
  /** Trims sent so far (see {@link Entry.trimsBefore}). */
  trimsSent = 0;

  constructor(
    readonly scope: LeaseScope<T>,
    readonly id: string,
    public hold: Usd,
    /** After this (local clock), no more calls: a fresh lease is taken. */
    readonly usableUntil: number,
    /** When the database lets it expire (no later than this, by the local clock; used to forget it). */
    readonly expiresBy: number,
  ) {
    this.synced = hold;
  }

  get available(): Usd {
    return this.hold - this.inUse;
  }

  /** What the database should hold: a retired lease whose calls all landed holds nothing. */
  get target(): Usd {
    return this.retired && this.calls === 0 ? 0n : this.hold;
  }

  /** Whether the database's hold may be above {@link target}. */
  get stale(): boolean {
    const target = this.target;
    return target < this.synced || (target === 0n && !this.deleted);
  }
}

/** The budgets (with their scope values and periods) a set of calls falls under, and its lease. */
class LeaseScope<T> {
  active: Lease<T> | null = null;
  /** A lease being asked for; callers that do not fit the current one wait for it. */
  renewing: Promise<Renewal> | null = null;
  /** Calls in {@link BudgetLeases.admit} on this scope: the sweep keeps a busy scope (a lease it took later would be lost). */
  busy = 0;
  /** The room others left, from the last answer about this scope; null until one came. */
  room: Usd | null = null;

  constructor(
    readonly key: string,
    readonly target: T,
  ) {}
}

/** How a lease request ended: admitted (and usable), refused, or admitted but past its usable time on arrival (given back at once). */
type Renewal = 'admitted' | 'refused' | 'late';

/** A call asks for at most this many leases itself (each refused); then the database admits it on its own. */
const MAX_OWN_RENEWALS = 2;

interface Entry<T> {
  lease: Lease<T>;
  /** The call's worst case until it settles, then its cost. */
  value: Usd;
  /**
   * `lease.trimsSent` when a statement first carried the call's row, -1 if a trim was in flight
   * then, null before. A trim sets the hold to a target; one that applies after the row's statement
   * lowered the hold undoes that lowering. So the row's landing lowers `synced` only when no trim
   * was in flight or sent since; otherwise `synced` stays where it was (an upper bound) and the next
   * trim sets the hold to what the calls not landed need.
   */
  trimsBefore: number | null;
}

export interface LeaseCounts {
  /** Leases asked of the database (`kostrack_budget_admit()` calls). */
  requested: number;
  /** Calls admitted in memory, under a lease. */
  leased: number;
  /** Hold changes sent (trims, returns). */
  trims: number;
}

/**
 * Local leases of durable budgets for one process. A call whose budgets are leasable takes its
 * worst case from the scope's lease in memory; when it does not fit, one caller asks for a fresh
 * lease (the others wait for it) after giving back what the old one does not need. A call that
 * fits no lease worth taking (near the limit, where a lease would be smaller than the call) is
 * admitted by the database on its own, as without leases.
 *
 * The statement that stores a leased call's row adds its cost to `spent` and lowers the lease's
 * hold by as much ({@link holdsOf} names the calls to it), so a landed call is not also counted as
 * held; {@link landed} then brings this process's view in line (see {@link Entry.trimsBefore} for
 * a trim that crosses the statement).
 */
export class BudgetLeases<T> {
  private readonly scopes = new Map<string, LeaseScope<T>>();
  private readonly entries = new Map<string, Entry<T>>();
  private readonly live = new Set<Lease<T>>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;
  readonly counts: LeaseCounts = { requested: 0, leased: 0, trims: 0 };

  constructor(
    private readonly options: ResolvedLease,
    /** How long a call may run after its admission: a lease's hold outlives its last admission by this. */
    private readonly holdTtlMs: number,
    private readonly db: LeaseDatabase<T>,
    private readonly warn: (message: string) => void,
  ) {
    this.timer = setInterval(() => this.sweep(Date.now()), Math.max(50, Math.floor(options.ttlMs / 2)));
    this.timer.unref();
  }

  /** Whether these budgets are leased (by name, when the options name them). */
  covers(names: readonly string[]): boolean {
    const only = this.options.budgets;
    return !this.closed && (only === null || names.every((n) => only.has(n)));
  }

  /**
   * Admits a call of worst case `estimate` under the lease of `key`: true when it was (in memory),
   * false when the database must admit it on its own. Rejects when a lease could not be asked for
   * (an outage, a deleted budget): the caller treats that as it treats its own admission failing.
   */
  async admit(key: string, target: T, estimate: Usd, spanId: string): Promise<boolean> {
    // A call larger than a whole lease is admitted on its own; the lease stays for the calls it fits.
    if (this.closed || estimate > this.options.amount) return false;
    let scope = this.scopes.get(key);
    if (!scope) this.scopes.set(key, (scope = new LeaseScope(key, target)));
    scope.busy++;
    try {
      return await this.admitIn(scope, estimate, spanId);
    } finally {
      scope.busy--;
    }
  }

  /**
   * Waits as long as leases keep coming (a burst takes several in turn: each renewal admits its
   * own caller first, and the others wait in order, so every wait moves the queue on). A call falls
   * back to its own admission after two refused leases (the scope is nearly used up), after asking
   * for {@link MAX_OWN_RENEWALS} itself, or when a lease arrived already past its usable time (the
   * database answered slower than `ttlMs`): never an endless loop.
   */
  private async admitIn(scope: LeaseScope<T>, estimate: Usd, spanId: string): Promise<boolean> {
    let refused = 0;
    let own = 0;
    for (;;) {
      if (this.take(scope, estimate, spanId)) return true;
      if (refused >= 2 || this.closed) return false;
      if (!scope.renewing) {
        if (this.sizeFor(scope, estimate) === null) {
          // Near the limit, the call's own admission decides; what the lease has left goes back
          // first (so that admission counts it), and the answer may show room for a lease after all.
          if (!scope.active) return false;
          await this.retire(scope);
          continue;
        }
        if (own >= MAX_OWN_RENEWALS) return false;
        own++;
        const s = scope;
        const mine = this.renew(s, estimate, spanId);
        s.renewing = mine.then((r) => r.outcome).finally(() => (s.renewing = null));
        // Its failure reaches this call through `mine` and the waiters through `renewing`.
        s.renewing.catch(() => undefined);
        const r = await mine;
        if (r.took) return true;
        if (r.outcome === 'late') return false;
        if (r.outcome === 'refused') refused++;
        continue;
      }
      const outcome = await scope.renewing;
      if (outcome === 'late') return false;
      if (outcome === 'refused') refused++;
    }
  }

  /** The room seen by a call's own admission (the database's answer), for the size of the next lease. */
  observe(key: string, room: Usd): void {
    const scope = this.scopes.get(key);
    if (scope) scope.room = room;
  }

  /** A leased call settled: its worst case becomes its cost, in memory. False: not a leased call. */
  settle(spanId: string, cost: Usd): boolean {
    const entry = this.entries.get(spanId);
    if (!entry) return false;
    entry.lease.inUse += cost - entry.value;
    entry.value = cost;
    return true;
  }

  /** Of a batch about to be written, the calls admitted under a lease: the statement moves their cost out of their leases' holds. */
  holdsOf(calls: readonly CallRecord[]): LeaseHolds | null {
    if (this.entries.size === 0) return null;
    const holds: LeaseHolds = { spanIds: [], leaseIds: [], held: [] };
    const seen = new Set<string>();
    for (const call of calls) {
      const entry = this.entries.get(call.spanId);
      // Once per call: the statement would lower the hold once per listing.
      if (!entry || seen.has(call.spanId)) continue;
      seen.add(call.spanId);
      entry.trimsBefore ??= entry.lease.syncing ? -1 : entry.lease.trimsSent;
      holds.spanIds.push(call.spanId);
      holds.leaseIds.push(entry.lease.id);
      holds.held.push(usdToString(entry.value));
    }
    return holds.spanIds.length > 0 ? holds : null;
  }

  /**
   * These rows were committed by a statement that moved each leased call's cost from its lease's
   * hold into spent ({@link holdsOf}); this process's view of the hold follows.
   */
  landed(items: readonly TelemetryItem[]): void {
    const touched = new Set<Lease<T>>();
    for (const item of items) {
      if (item.kind !== 'call') continue;
      const row = item.record as CallRecord;
      const entry = this.entries.get(row.spanId);
      if (!entry) continue;
      this.entries.delete(row.spanId);
      const { lease, value } = entry;
      const cost = row.costUsd ?? 0n;
      // As the statement counted it (batch.sql.ts): a call billed for what could not be read (no
      // usage, a stream stopped early) counts at its worst case.
      const residual = row.status !== 'blocked' && (row.costUsd === null || row.status === 'aborted') && value > cost ? value - cost : 0n;
      lease.inUse -= value;
      lease.calls--;
      const counted = cost + residual;
      lease.hold = lease.hold > counted ? lease.hold - counted : 0n;
      if (entry.trimsBefore === lease.trimsSent) lease.synced = lease.synced > counted ? lease.synced - counted : 0n;
      touched.add(lease);
    }
    for (const lease of touched) {
      this.sync(lease);
      this.toLook.set(lease.scope.key, lease.scope.target);
    }
    this.look();
  }

  /** Scopes whose rows landed since the last read was sent. */
  private readonly toLook = new Map<string, T>();
  private looking = false;

  /** One read at a time for the whole process, of every scope touched since the last one. */
  private look(): void {
    if (this.looking || this.toLook.size === 0) return;
    this.looking = true;
    void (async () => {
      while (this.toLook.size > 0 && !this.closed) {
        const targets = [...this.toLook.values()];
        this.toLook.clear();
        await this.db.look(targets);
      }
      this.looking = false;
    })();
  }

  /**
   * Stops leasing, and gives back what the leases hold beyond their calls not landed (those stay
   * held until their rows land or the hold expires). Resolves once the database was told, or failed.
   */
  async returnAll(): Promise<void> {
    this.closed = true;
    for (const scope of this.scopes.values()) await scope.renewing?.catch(() => undefined);
    // Every lease, not only the scopes' current ones: one on a scope no longer listed is given back too.
    for (const lease of this.live) this.retireLease(lease);
    this.scopes.clear();
    await Promise.all([...this.live].map((l) => l.syncing));
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  private take(scope: LeaseScope<T>, estimate: Usd, spanId: string): boolean {
    const lease = scope.active;
    if (!lease || this.closed || Date.now() >= lease.usableUntil || lease.available < estimate) return false;
    lease.inUse += estimate;
    lease.calls++;
    this.entries.set(spanId, { lease, value: estimate, trimsBefore: null });
    this.counts.leased++;
    return true;
  }

  /** The configured amount, at most its share of the room last seen; null when that would not hold this call. */
  private sizeFor(scope: LeaseScope<T>, estimate: Usd): Usd | null {
    if (this.closed) return null;
    let size = this.options.amount;
    if (scope.room !== null) {
      const part = (scope.room * this.options.sharePpm) / 1_000_000n;
      if (part < size) size = part;
    }
    return size >= estimate && size > 0n ? size : null;
  }

  /**
   * Asks for a fresh lease after giving back what the old one does not need; its caller's call is
   * taken from it before anyone else's, so each lease admitted admits at least that call. A lease
   * that arrives past its usable time (the answer took longer than `ttlMs`) is given back at once.
   */
  private async renew(scope: LeaseScope<T>, estimate: Usd, spanId: string): Promise<{ outcome: Renewal; took: boolean }> {
    // What the old lease holds beyond its calls goes back first, so the new one can take it; the
    // answer to that says what is left, which sizes the new one.
    await this.retire(scope);
    const size = this.sizeFor(scope, estimate);
    if (size === null) return { outcome: 'refused', took: false };
    const id = newId();
    // Measured before asking: the database's expiry starts later, so this process stops using the lease first.
    const asked = Date.now();
    const ttl = this.options.ttlMs + this.holdTtlMs;
    this.counts.requested++;
    const answer = await this.db.request(scope.target, size, id, ttl);
    scope.room = answer.room;
    if (!answer.admitted) return { outcome: 'refused', took: false };
    const lease = new Lease(scope, id, size, asked + this.options.ttlMs, asked + ttl);
    this.live.add(lease);
    scope.active = lease;
    // Closed while it was asked for (shutdown), or too late to use: given back at once.
    if (this.closed || Date.now() >= lease.usableUntil) {
      this.retireLease(lease);
      return { outcome: this.closed ? 'refused' : 'late', took: false };
    }
    return { outcome: 'admitted', took: this.take(scope, estimate, spanId) };
  }

  /** The scope's lease admits no more calls; its hold drops to what its calls not landed may still cost. */
  private retire(scope: LeaseScope<T>): Promise<void> | null {
    return scope.active ? this.retireLease(scope.active) : null;
  }

  private retireLease(lease: Lease<T>): Promise<void> | null {
    if (lease.scope.active === lease) lease.scope.active = null;
    if (lease.retired) return lease.syncing;
    lease.retired = true;
    if (lease.hold > lease.inUse) lease.hold = lease.inUse > 0n ? lease.inUse : 0n;
    this.sync(lease);
    return lease.syncing;
  }

  /**
   * Brings the database's hold down to the lease's target, one statement at a time per lease (a
   * change arriving meanwhile is sent after it). A failure leaves the hold larger than needed
   * (safe); it is tried again at the next change or sweep.
   */
  private sync(lease: Lease<T>): void {
    if (lease.syncing) {
      lease.dirty = true;
      return;
    }
    if (!lease.stale) return this.forgetIfDone(lease);
    lease.syncing = (async () => {
      do {
        lease.dirty = false;
        const target = lease.target;
        if (!lease.stale) continue;
        this.counts.trims++;
        lease.trimsSent++;
        try {
          const room = await this.db.trim(lease.scope.target, lease.id, target);
          if (room !== null) lease.scope.room = room;
          if (target < lease.synced) lease.synced = target;
          if (target === 0n) lease.deleted = true;
          // The hold expired and was freed by an admission: nothing left to give back.
          if (room === null) {
            lease.synced = 0n;
            lease.deleted = true;
          }
        } catch (e) {
          this.warn(`Kostrack could not lower a budget lease's hold (${(e as Error)?.constructor?.name ?? 'error'}); it stays held until it is lowered or expires`);
          break;
        }
      } while (lease.dirty);
      lease.syncing = null;
      this.forgetIfDone(lease);
    })();
  }

  private forgetIfDone(lease: Lease<T>): void {
    if (lease.retired && lease.calls === 0 && lease.deleted) this.live.delete(lease);
  }

  /** Retires leases past their time, retries holds not yet lowered, forgets what the database let expire. */
  private sweep(now: number): void {
    for (const [key, scope] of this.scopes) {
      if (scope.active && now >= scope.active.usableUntil) this.retire(scope);
      if (!scope.active && !scope.renewing && scope.busy === 0) this.scopes.delete(key);
    }
    for (const lease of this.live) {
      // Any lease past its time, or not its scope's current one (nothing else would give it back).
      if (!lease.retired && (now >= lease.usableUntil || lease.scope.active !== lease || this.scopes.get(lease.scope.key) !== lease.scope)) this.retireLease(lease);
      if (now >= lease.expiresBy) {
        // The database freed the hold (at the next admission on the scope); its calls no longer count against it.
        this.live.delete(lease);
        for (const [spanId, entry] of this.entries) if (entry.lease === lease) this.entries.delete(spanId);
      } else if (!lease.syncing) this.sync(lease);
    }
  }
}
