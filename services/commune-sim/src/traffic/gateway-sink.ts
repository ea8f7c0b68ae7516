import type { EncodedRecord } from '@lienthong/contracts';
import { recordToStructured } from '@lienthong/contracts';
import type { Logger } from 'pino';
import type { RecordSink } from './commune-traffic.runner';

export interface GatewaySinkOptions {
  /** ingest-gateway's base URL. */
  gatewayUrl: string;
  /** The identity provider's token endpoint (OAuth2 client credentials). */
  tokenUrl: string;
  /** Each commune's client secret: the client is `commune-<code>`. */
  secretOf(client: string): string;
  /** Most events per request (ingest-gateway's MAX_BATCH_EVENTS). */
  maxBatch: number;
}

interface Answer {
  status: number;
  body: {
    errors?: Array<{
      index: number;
      code?: string;
      issues?: Array<{ field: string; rule: string }>;
    }>;
  };
  retryAfter: string | null;
}

/**
 * Publishes as each simulated commune's own system would: through ingest-gateway, with that
 * commune's OAuth2 client (a token per commune, renewed before it expires), one batch per commune.
 * Events the gateway refuses for their content (422: the data-entry mistakes the simulator makes)
 * are the commune's to fix: logged with their rule and dropped, the rest of the batch sent again.
 * Anything else (the gateway down, 429) fails the send, so the runner keeps the records and
 * retries them; events taken before are answered as duplicates, never published twice.
 */
export class GatewaySink implements RecordSink {
  private readonly tokens = new Map<string, { token: string; until: number }>();
  /** Events the gateway refused for their content. */
  refused = 0;

  constructor(
    private readonly options: GatewaySinkOptions,
    private readonly logger: Pick<Logger, 'warn' | 'info'>,
  ) {}

  async send(_topic: string, records: EncodedRecord[]): Promise<void> {
    const byCommune = new Map<string, EncodedRecord[]>();
    for (const r of records) {
      const commune = r.headers.ce_communecode ?? '';
      const own = byCommune.get(commune);
      if (own) own.push(r);
      else byCommune.set(commune, [r]);
    }
    for (const [commune, own] of byCommune) {
      for (let i = 0; i < own.length; i += this.options.maxBatch) {
        await this.post(commune, own.slice(i, i + this.options.maxBatch).map(recordToStructured));
      }
    }
  }

  private async post(commune: string, events: Array<Record<string, unknown>>): Promise<void> {
    let answer = await this.request(commune, events);
    if (answer.status === 422 && answer.body.errors) {
      const bad = new Set(answer.body.errors.map((e) => e.index));
      this.refused += bad.size;
      this.logger.warn(
        {
          commune,
          refused: answer.body.errors.map((e) => ({
            code: e.code,
            issues: e.issues?.map((i) => `${i.field} ${i.rule}`),
          })),
        },
        'ingest-gateway refused events for their content; sending the rest',
      );
      const rest = events.filter((_, index) => !bad.has(index));
      if (rest.length === 0) return;
      answer = await this.request(commune, rest);
    }
    if (answer.status !== 202) {
      throw new Error(
        `ingest-gateway answered ${answer.status}${answer.retryAfter ? ` (Retry-After ${answer.retryAfter} s)` : ''}`,
      );
    }
  }

  private async request(commune: string, events: Array<Record<string, unknown>>): Promise<Answer> {
    const res = await fetch(new URL('/v1/events', this.options.gatewayUrl), {
      method: 'POST',
      headers: {
        'content-type': 'application/cloudevents-batch+json',
        authorization: `Bearer ${await this.token(commune)}`,
      },
      body: JSON.stringify(events),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    let body: Answer['body'] = {};
    try {
      body = text ? (JSON.parse(text) as Answer['body']) : {};
    } catch {
      // Not JSON: the status says enough.
    }
    if (res.status === 401) this.tokens.delete(commune);
    return { status: res.status, body, retryAfter: res.headers.get('retry-after') };
  }

  private async token(commune: string): Promise<string> {
    const cached = this.tokens.get(commune);
    if (cached && cached.until > Date.now()) return cached.token;
    const client = `commune-${commune}`;
    const res = await fetch(this.options.tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: client,
        client_secret: this.options.secretOf(client),
      }),
      signal: AbortSignal.timeout(10_000),
    });
    if (res.status !== 200)
      throw new Error(`the identity provider refused ${client} (${res.status})`);
    const got = (await res.json()) as { access_token: string; expires_in: number };
    // Renewed a little before it expires.
    this.tokens.set(commune, {
      token: got.access_token,
      until: Date.now() + Math.max(1, got.expires_in - 30) * 1000,
    });
    return got.access_token;
  }
}
