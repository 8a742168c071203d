import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import Redis from 'ioredis';
import { FailedPreconditionError, UnavailableError } from '@tributary/core';
import { redisReason } from '../redis/redis-errors';
import { WriteLease } from '../topics/log-fence';

/** How brokers on a store that ignores conditions share it: all through the Redis fence, or one alone. */
export type LeaseMode = 'fenced' | 'exclusive';

/**
 * KEYS[1]: the store's lease hash, broker token -> `<mode>:<expires at, ms>:<who>`. ARGV: token, mode, ttl ms, who.
 * Drops expired holders, then refuses (returning the other holder's value) when either this broker or another
 * current holder is exclusive; otherwise records or refreshes this broker. Redis's clock decides expiry, so the
 * brokers' clocks need not agree.
 */
const ACQUIRE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[3])
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  local mode, expires = string.match(all[i + 1], '^(%a+):(%d+):')
  if not expires or tonumber(expires) <= now then
    redis.call('HDEL', KEYS[1], all[i])
  elseif all[i] ~= ARGV[1] and (mode == 'exclusive' or ARGV[2] == 'exclusive') then
    return all[i + 1]
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. tostring(now + ttl) .. ':' .. ARGV[4])
redis.call('PEXPIRE', KEYS[1], ttl)
return false
`;

type RedisWithLease = Redis & {
  tribLeaseAcquire(key: string, token: string, mode: string, ttlMs: string, who: string): Promise<string | null>;
};

export interface BrokerLeaseOptions {
  /** How long a holder stays registered without a refresh. Default 15 s; refreshed every third of it. */
  readonly ttlMs?: number;
  /** Told when a refresh fails (once until one goes through again) or the lease is lost. */
  readonly onProblem?: (message: string) => void;
  /** Told when a refresh goes through after failing. */
  readonly onRecovered?: (message: string) => void;
}

/**
 * A broker's registration on a store that does not enforce conditional writes, in Redis under
 * `<prefix>broker-lease`: fenced brokers share the store with each other, an exclusive broker with nobody. Held while
 * the broker runs (refreshed in the background), released on close. Writes check `assertHeld()`, so a broker whose
 * lease lapsed (Redis unreachable for a TTL) or was lost stops appending rather than race a broker that started
 * meanwhile; it appends again once a refresh succeeds.
 */
export class BrokerLease implements WriteLease {
  private readonly redis: RedisWithLease;
  private readonly token = randomBytes(12).toString('hex');
  private readonly who = `${hostname()} pid ${process.pid}`;
  private readonly ttlMs: number;
  private heldUntil = 0;
  private timer: NodeJS.Timeout | undefined;
  private lost = false;
  /** Refreshes failed since the last one that went through. */
  private failedRefreshes = 0;

  private constructor(
    redis: Redis,
    private readonly key: string,
    readonly mode: LeaseMode,
    private readonly storeUrl: string,
    private readonly options: BrokerLeaseOptions,
  ) {
    if (!(redis as unknown as Partial<RedisWithLease>).tribLeaseAcquire) {
      redis.defineCommand('tribLeaseAcquire', { numberOfKeys: 1, lua: ACQUIRE_SCRIPT });
    }
    this.redis = redis as RedisWithLease;
    this.ttlMs = options.ttlMs ?? 15_000;
  }

  /**
   * Takes the lease, or throws FailedPreconditionError naming the store and the other broker when the modes
   * cannot share it (an exclusive broker runs, or this one wants exclusivity and another broker runs).
   */
  static async acquire(redis: Redis, prefix: string, mode: LeaseMode, storeUrl: string, options: BrokerLeaseOptions = {}): Promise<BrokerLease> {
    const lease = new BrokerLease(redis, `${prefix}broker-lease`, mode, storeUrl, options);
    const other = await lease.tryAcquire();
    if (other !== undefined) throw lease.refusal(other);
    lease.timer = setInterval(() => void lease.refresh(), lease.refreshEveryMs);
    lease.timer.unref();
    return lease;
  }

  private get refreshEveryMs(): number {
    return Math.max(100, Math.floor(this.ttlMs / 3));
  }

  assertHeld(): void {
    if (this.lost || Date.now() >= this.heldUntil) {
      throw new UnavailableError(`this broker's lease on store ${this.storeUrl} lapsed; appends wait until it is renewed`, { url: this.storeUrl });
    }
  }

  /** Stops refreshing and removes this broker's registration. */
  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.heldUntil = 0;
    await this.redis.hdel(this.key, this.token).catch(() => undefined);
  }

  private async refresh(): Promise<void> {
    let other: string | undefined;
    try {
      other = await this.tryAcquire();
    } catch (e) {
      // Told once per outage, not at every try (tries overlap while Redis does not answer), and once when it ends.
      if (++this.failedRefreshes === 1) {
        this.options.onProblem?.(
          `lease on store ${this.storeUrl}: refresh failed: ${redisReason(e)}; trying again every ${this.refreshEveryMs} ms (appends stop once the lease lapses)`,
        );
      }
      return;
    }
    if (this.failedRefreshes > 0) {
      const n = this.failedRefreshes;
      this.options.onRecovered?.(`lease on store ${this.storeUrl}: refreshed again after ${n} failed tr${n === 1 ? 'y' : 'ies'}`);
    }
    this.failedRefreshes = 0;
    if (other !== undefined) {
      if (!this.lost) this.options.onProblem?.(this.refusal(other).message + '; appends stop until it goes');
      this.lost = true;
    } else {
      this.lost = false;
    }
  }

  /** Undefined when held (and then valid for a TTL from before the call), else the other holder's record. */
  private async tryAcquire(): Promise<string | undefined> {
    const started = Date.now();
    const other = await this.redis.tribLeaseAcquire(this.key, this.token, this.mode, String(this.ttlMs), this.who);
    if (other) return other;
    // Counted from before the call, so this broker always believes its lease ends no later than Redis does.
    this.heldUntil = started + this.ttlMs;
    return undefined;
  }

  private refusal(other: string): FailedPreconditionError {
    const m = /^([a-z]+):\d+:(.*)$/.exec(other);
    const otherMode = m?.[1] ?? '?';
    const otherWho = m?.[2] ?? '?';
    const message =
      this.mode === 'exclusive'
        ? `store ${this.storeUrl} does not enforce conditional writes and another broker (${otherWho}) already runs on it ` +
          `(a broker that died keeps it for up to ${this.ttlMs / 1000} s); ` +
          `a broker with TRIB_TOPIC_LOG_FENCE=off must be its only broker: unset TRIB_TOPIC_LOG_FENCE (or set it to auto) on every broker of this store to share it through the Redis fence`
        : `store ${this.storeUrl} does not enforce conditional writes and a broker (${otherWho}, ${otherMode}) holds it alone with TRIB_TOPIC_LOG_FENCE=off; ` +
          `stop it, or restart it without TRIB_TOPIC_LOG_FENCE=off so both use the Redis fence`;
    return new FailedPreconditionError(message, { url: this.storeUrl });
  }
}
