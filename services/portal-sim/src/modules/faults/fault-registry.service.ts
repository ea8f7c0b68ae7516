import { Injectable } from '@nestjs/common';
import type { PortalApi } from '../effects/effects.store';
import { TokenBucket, decide } from './fault-profile';
import type { FaultDecision, FaultProfile } from './fault-profile';

export const PORTAL_APIS: readonly PortalApi[] = ['dvcqg', 'civil-status', 'land'];

/** Current fault profile of each API, and each client's rate-limit bucket. In memory by design:
 * a restart returns to the start-up profile (PORTAL_SIM_FAULTS). */
@Injectable()
export class FaultRegistry {
  private readonly profiles = new Map<PortalApi, FaultProfile>();
  private readonly buckets = new Map<string, TokenBucket>();
  /** Requests decided per API and decision kind since start (pass, rate-limited, …). */
  private readonly decided = new Map<PortalApi, Record<string, number>>();

  constructor(initial: Partial<Record<PortalApi, FaultProfile>> = {}) {
    for (const api of PORTAL_APIS) this.profiles.set(api, initial[api] ?? {});
  }

  get(api: PortalApi): FaultProfile {
    return this.profiles.get(api) ?? {};
  }

  set(api: PortalApi, profile: FaultProfile): void {
    this.profiles.set(api, profile);
    for (const key of [...this.buckets.keys()])
      if (key.startsWith(`${api}|`)) this.buckets.delete(key);
  }

  decide(api: PortalApi, client: string, now = Date.now()): FaultDecision {
    const profile = this.get(api);
    let bucket: TokenBucket | undefined;
    if (profile.rateLimit) {
      const key = `${api}|${client}`;
      bucket = this.buckets.get(key);
      if (!bucket) {
        bucket = new TokenBucket(
          profile.rateLimit.perSecond,
          profile.rateLimit.burst ?? profile.rateLimit.perSecond,
          now,
        );
        this.buckets.set(key, bucket);
      }
    }
    const decision = decide(profile, now, Math.random, bucket);
    const counts = this.decided.get(api) ?? {};
    counts[decision.kind] = (counts[decision.kind] ?? 0) + 1;
    this.decided.set(api, counts);
    return decision;
  }

  /** How many requests each API got, by what the fault profile decided for them. */
  requests(): Record<string, Record<string, number>> {
    return Object.fromEntries(PORTAL_APIS.map((api) => [api, { ...this.decided.get(api) }]));
  }

  /** Whether to drift a record just written (the drift fault). */
  shouldDrift(api: PortalApi): 'alter' | 'delete' | undefined {
    const drift = this.get(api).drift;
    return drift && Math.random() < drift.rate ? drift.mode : undefined;
  }
}
