import { Inject, Injectable } from '@nestjs/common';
import { authorityCovers, parseResultRef } from '@lienthong/contracts';
import { Problem } from '@lienthong/observability';
import type { Caller } from '../auth/commune-credentials';
import type { IngestGatewayConfig } from '../config/ingest-gateway.config';
import { GATEWAY_CONFIG, PROVINCE_OF } from '../tokens';

/**
 * The owning commune's channel for results that carry personal data (a newborn's personal ID):
 * sync.status.v2 publishes a reference (`resultRef`), the commune's system resolves it here with
 * its own token. The sync service that holds the result (its internal GET /results, behind
 * RESULTS_API_TOKEN) says whose it is; this answers only the commune it belongs to, or that
 * commune's province system, and 404 to anyone else (another commune's results are not even
 * confirmed to exist).
 */
@Injectable()
export class ResultsClient {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: IngestGatewayConfig,
    @Inject(PROVINCE_OF) private readonly provinceOf: (commune: string) => string | undefined,
  ) {}

  async result(caller: Caller, ref: string): Promise<{ resultRef: string; result: unknown }> {
    const base = {
      'civil-status': this.config.CIVIL_STATUS_RESULTS_URL,
      land: this.config.LAND_RESULTS_URL,
    }[parseResultRef(ref)?.domain ?? ''];
    if (!base) throw new Problem(404, 'Not found', 'no result under this reference');
    let res: Response;
    try {
      res = await fetch(new URL(`/results?ref=${encodeURIComponent(ref)}`, base), {
        headers: { authorization: `Bearer ${this.config.RESULTS_API_TOKEN}` },
        signal: AbortSignal.timeout(5000),
      });
    } catch {
      throw new Problem(
        503,
        'Results unavailable',
        'the service holding the result does not answer; try again',
      );
    }
    if (res.status === 404 || res.status === 400) {
      throw new Problem(404, 'Not found', 'no result under this reference');
    }
    if (!res.ok) {
      throw new Problem(
        503,
        'Results unavailable',
        `the service holding the result answered ${res.status}; try again`,
      );
    }
    const found = (await res.json()) as { communeCode: string; result: unknown };
    if (!authorityCovers(caller.authority, found.communeCode, this.provinceOf)) {
      throw new Problem(404, 'Not found', 'no result under this reference');
    }
    return { resultRef: ref, result: found.result };
  }
}
