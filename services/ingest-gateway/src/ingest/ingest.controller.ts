import { Controller, Get, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiOperation,
  ApiProduces,
  ApiQuery,
  ApiResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import getRawBody from 'raw-body';
import { Problem } from '@lienthong/observability';
import { CommuneCredentials } from '../auth/commune-credentials';
import type { Caller } from '../auth/commune-credentials';
import type { IngestGatewayConfig } from '../config/ingest-gateway.config';
import { GATEWAY_CONFIG } from '../tokens';
import { IngestService } from './ingest.service';
import type { EventReceipt } from './ingest.service';
import { ResultsClient } from './results.client';
import { Statuses } from './statuses';
import type { EntityStatus } from './statuses';

const SINGLE = 'application/cloudevents+json';
const BATCH = 'application/cloudevents-batch+json';

/**
 * The commune systems' API: post CloudEvents (structured JSON, one or a batch) with an OAuth2
 * access token; read back what was taken. Every error is application/problem+json.
 */
@ApiTags('events')
@ApiBearerAuth()
@Controller('v1')
export class IngestController {
  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: IngestGatewayConfig,
    private readonly credentials: CommuneCredentials,
    private readonly ingest: IngestService,
    private readonly results: ResultsClient,
    private readonly statuses: Statuses,
  ) {}

  @Post('events')
  @HttpCode(202)
  @ApiOperation({
    summary: 'Publish commune events',
    description:
      'One CloudEvent (application/cloudevents+json) or a batch (application/cloudevents-batch+json, a JSON array); application/json takes either. The commune is the credential’s: an event may omit `communecode`, and one naming a commune the credential does not cover is refused (403). All or nothing: any event breaking its contract refuses the request (422, each event’s problem under `errors`). Idempotent on source + id: an event taken before is answered `duplicate` and not sent again; the same id with other content is refused (409). 202 means the events are on Kafka.',
  })
  @ApiConsumes(SINGLE, BATCH, 'application/json')
  @ApiBody({
    schema: { oneOf: [{ type: 'object' }, { type: 'array', items: { type: 'object' } }] },
  })
  @ApiResponse({ status: 202, description: 'on Kafka: each event accepted or duplicate' })
  @ApiResponse({ status: 400, description: 'the body is not JSON' })
  @ApiResponse({ status: 401, description: 'no valid access token' })
  @ApiResponse({ status: 403, description: 'an event for a commune the credential does not cover' })
  @ApiResponse({ status: 409, description: 'an id used again with other content' })
  @ApiResponse({ status: 413, description: 'the body or the batch is too large' })
  @ApiResponse({ status: 415, description: 'not a CloudEvents or JSON content type' })
  @ApiResponse({ status: 422, description: 'an event breaks its contract' })
  @ApiResponse({ status: 429, description: 'the commune posts too fast (Retry-After)' })
  @ApiProduces('application/json', 'application/problem+json')
  async publish(
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ accepted: number; duplicates: number; events: EventReceipt[] }> {
    const caller = await this.caller(req);
    const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
    if (![SINGLE, BATCH, 'application/json'].includes(type)) {
      throw new Problem(
        415,
        'Unsupported content type',
        `Content-Type: must be ${SINGLE}, ${BATCH} or application/json`,
        { code: 'UNSUPPORTED_MEDIA_TYPE' },
      );
    }
    const body = await this.json(req);
    if (type === BATCH && !Array.isArray(body)) {
      throw new Problem(400, 'Not a batch', `${BATCH}: the body must be a JSON array of events`, {
        code: 'NOT_A_BATCH',
      });
    }
    const single = !Array.isArray(body);
    try {
      const events = await this.ingest.ingest(
        caller,
        single ? [body] : (body as unknown[]),
        single,
      );
      const accepted = events.filter((e) => e.status === 'accepted').length;
      return { accepted, duplicates: events.length - accepted, events };
    } catch (err) {
      const retry = (err as Problem).getResponse?.() as { retryAfterSeconds?: number } | undefined;
      if (retry?.retryAfterSeconds) res.setHeader('Retry-After', String(retry.retryAfterSeconds));
      throw err;
    }
  }

  @Get('receipts')
  @ApiOperation({
    summary: 'What became of an event',
    description:
      'The receipt of an event taken before (CloudEvents source + id), if the credential covers its commune; 404 otherwise (another commune’s events are not disclosed).',
  })
  @ApiQuery({ name: 'source', required: true })
  @ApiQuery({ name: 'id', required: true })
  @ApiResponse({ status: 200, description: 'the receipt' })
  @ApiResponse({ status: 404, description: 'no receipt the credential may see' })
  async receipt(
    @Req() req: Request,
    @Query('source') source?: string,
    @Query('id') id?: string,
  ): Promise<object> {
    const caller = await this.caller(req);
    if (!source || !id) {
      throw new Problem(400, 'Missing query parameters', 'source and id: both are required', {
        code: 'BAD_QUERY',
      });
    }
    const receipt = await this.ingest.receipt(caller, source, id);
    if (!receipt) throw new Problem(404, 'Not found', 'no such event for this credential');
    return receipt;
  }

  @Get('results')
  @ApiOperation({
    summary: 'A result with personal data, for its own commune',
    description:
      'sync.status.v2 carries a result’s non-personal part and a `resultRef`; the commune that owns the entity (or its province system) resolves the reference here to the whole result (a newborn’s personal ID number included). 404 to anyone else.',
  })
  @ApiQuery({ name: 'ref', required: true, description: 'the resultRef of a SYNCED status' })
  @ApiResponse({ status: 200, description: 'the whole result' })
  @ApiResponse({ status: 404, description: 'no result the credential may see' })
  @ApiResponse({ status: 503, description: 'the service holding the result does not answer' })
  async result(@Req() req: Request, @Query('ref') ref?: string): Promise<object> {
    const caller = await this.caller(req);
    if (!ref) {
      throw new Problem(400, 'Missing query parameter', 'ref: is required', { code: 'BAD_QUERY' });
    }
    return this.results.result(caller, ref);
  }

  @Get('statuses')
  @ApiOperation({
    summary: 'What became of the caller’s entities',
    description:
      'The latest sync status (sync.status.v2) of each entity of the caller’s commune (a province system: of every commune of its province) that changed after `since`, oldest first, at most `limit`; the last `changedAt` is the next `since`.',
  })
  @ApiQuery({ name: 'since', required: false, description: 'RFC 3339; default: the beginning' })
  @ApiQuery({ name: 'limit', required: false, description: '1–1000, default 100' })
  @ApiResponse({ status: 200, description: 'the statuses, oldest change first' })
  async changedStatuses(
    @Req() req: Request,
    @Query('since') since?: string,
    @Query('limit') limit?: string,
  ): Promise<{ statuses: EntityStatus[] }> {
    const caller = await this.caller(req);
    const from = since === undefined ? new Date(0) : new Date(since);
    if (
      Number.isNaN(from.getTime()) ||
      (since !== undefined && !/(Z|[+-]\d{2}:\d{2})$/.test(since))
    ) {
      throw new Problem(
        400,
        'Bad query parameter',
        'since: must be an RFC 3339 timestamp with an offset',
        {
          code: 'BAD_QUERY',
        },
      );
    }
    const n = limit === undefined ? 100 : Number(limit);
    if (!Number.isInteger(n) || n < 1 || n > 1000) {
      throw new Problem(400, 'Bad query parameter', 'limit: must be an integer from 1 to 1000', {
        code: 'BAD_QUERY',
      });
    }
    return { statuses: await this.statuses.changed(caller, from, n) };
  }

  @Get('statuses/:domain/:key')
  @ApiOperation({
    summary: 'One entity’s latest sync status',
    description:
      'For the commune the entity belongs to (or its province system); 404 to anyone else.',
  })
  @ApiResponse({ status: 200, description: 'the latest status' })
  @ApiResponse({ status: 404, description: 'no status the credential may see' })
  async status(
    @Req() req: Request,
    @Param('domain') domain: string,
    @Param('key') key: string,
  ): Promise<EntityStatus> {
    const caller = await this.caller(req);
    const found = await this.statuses.one(caller, domain, key);
    if (!found) throw new Problem(404, 'Not found', 'no status of this entity for this credential');
    return found;
  }

  private async caller(req: Request): Promise<Caller> {
    const got = await this.credentials.verify(req.headers.authorization);
    if ('refused' in got) {
      throw new Problem(401, 'Not authenticated', got.refused, { code: 'UNAUTHENTICATED' });
    }
    return got;
  }

  /** The body as JSON, read here (Nest's body parser is off) so every failure is a problem. */
  private async json(req: Request): Promise<unknown> {
    let text: string;
    try {
      text = await getRawBody(req, {
        limit: this.config.MAX_BODY_BYTES,
        length: req.headers['content-length'],
        encoding: 'utf8',
      });
    } catch (err) {
      const e = err as { type?: string };
      if (e.type === 'entity.too.large') {
        throw new Problem(
          413,
          'The body is too large',
          `a request body holds at most ${this.config.MAX_BODY_BYTES} bytes`,
          { code: 'BODY_TOO_LARGE' },
        );
      }
      throw new Problem(
        400,
        'The body could not be read',
        'the request body was cut short or is not UTF-8',
        {
          code: 'BAD_BODY',
        },
      );
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      // V8's message quotes the body; only where it broke is kept (the body may hold personal data).
      const at = /position (\d+)/.exec((err as Error).message)?.[1];
      throw new Problem(
        400,
        'The body is not JSON',
        `body: not valid JSON${at ? ` (at character ${at})` : ''}`,
        { code: 'MALFORMED_JSON' },
      );
    }
  }
}
