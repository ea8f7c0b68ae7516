import {
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
  Req,
  applyDecorators,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBearerAuth,
  ApiBody,
  ApiForbiddenResponse,
  ApiOkResponse,
  ApiOperation,
  ApiQuery,
  ApiTags,
  ApiUnauthorizedResponse,
} from '@nestjs/swagger';
import type { Request } from 'express';
import type { Reconcile } from '@lienthong/contracts';
import type { Account, Principal } from '../auth/accounts';
import { covers, provinceFilter, verifyPassword } from '../auth/accounts';
import { Public, principalOf } from '../auth/auth.guard';
import { Sessions } from '../auth/sessions';
import { OpsCommandsPublisher } from '../commands/ops-commands.publisher';
import { RATE_DEFINITIONS } from '../read-model/indicators';
import { ReadModelQueries } from '../read-model/read-model.queries';
import { ACCOUNTS } from '../tokens';
import {
  CommandAccepted,
  CommunesActionBody,
  Discarded,
  GroupActionBody,
  PausedCommunesView,
  ProblemView,
  ReconcileBody,
  ReplayAccepted,
  ResyncBody,
  SessionView,
  SignInBody,
  TargetActionBody,
} from './ops-api.dto';
import { Problem } from '@lienthong/observability';

const DOMAINS = ['dossier', 'civil-status', 'land'];

function domainParam(domain: string | undefined): string | undefined {
  if (domain === undefined || domain === '') return undefined;
  if (!DOMAINS.includes(domain))
    throw new Problem(400, 'Bad request', `domain: one of ${DOMAINS.join(', ')}`);
  return domain;
}

/**
 * The ops API: the same data as the dashboard, as JSON, for the CLI and other tools. Every route
 * but the sign-in needs a session; what it returns is scoped to the operator's provinces.
 */
/** A route that needs a session: documented with the bearer scheme and its 401. */
const Guarded = () =>
  applyDecorators(
    ApiBearerAuth(),
    ApiUnauthorizedResponse({ type: ProblemView, description: 'no valid session' }),
  );

@ApiTags('ops')
@Controller('api')
export class OpsApiController {
  constructor(
    private readonly queries: ReadModelQueries,
    private readonly sessions: Sessions,
    private readonly commands: OpsCommandsPublisher,
    @Inject(ACCOUNTS) private readonly accounts: Account[],
  ) {}

  /** Signs in: a bearer token (and the dashboard's cookie is the same token). */
  @Public()
  @Post('session')
  @HttpCode(200)
  @ApiOperation({ summary: 'Sign in: a bearer token for the other routes' })
  @ApiBody({ type: SignInBody })
  @ApiOkResponse({ type: SessionView })
  async signIn(
    @Body() body: { username?: unknown; password?: unknown } | undefined,
  ): Promise<{ token: string; username: string; role: Principal['role'] }> {
    const principal = await signIn(this.accounts, body?.username, body?.password);
    return { token: await this.sessions.issue(principal), ...principal };
  }

  @Get('me')
  @Guarded()
  @ApiOperation({ summary: 'Who is signed in, with which role' })
  me(@Req() req: Request): Principal {
    return principalOf(req);
  }

  /** Province → commune → domain: entities, backlog by state, ages, drift, dead letters. */
  @Get('communes')
  @Guarded()
  @ApiOperation({
    summary:
      'Province → commune → domain: entities, synced, backlog by state, oldest waiting change, last SYNCED, drift, open dead letters',
  })
  @ApiQuery({ name: 'domain', required: false, enum: DOMAINS })
  @ApiQuery({ name: 'province', required: false, description: '2-digit province code' })
  @ApiForbiddenResponse({ type: ProblemView, description: 'a province outside yours' })
  async communes(
    @Req() req: Request,
    @Query('domain') domain?: string,
    @Query('province') province?: string,
  ): Promise<{ communes: Awaited<ReturnType<ReadModelQueries['communes']>> }> {
    const role = principalOf(req).role;
    if (province !== undefined && !/^[0-9]{2}$/.test(province))
      throw new Problem(400, 'Bad request', 'province: a 2-digit province code');
    if (province !== undefined && !covers(role, province))
      throw new Problem(403, 'Not allowed', `province ${province} is outside your provinces`);
    const d = domainParam(domain);
    return {
      communes: await this.queries.communes(provinceFilter(role), {
        ...(d ? { domain: d } : {}),
        ...(province ? { provinceCode: province } : {}),
      }),
    };
  }

  /** What happened to one entity: its state and its whole timeline. */
  @Get('entities/:domain/:key')
  @Guarded()
  @ApiOperation({ summary: "One entity's state, timeline and dead letters" })
  @ApiForbiddenResponse({ type: ProblemView, description: 'an entity of a province outside yours' })
  async entity(@Req() req: Request, @Param('domain') domain: string, @Param('key') key: string) {
    const d = domainParam(domain) as string;
    const found = await this.queries.entity(d, key);
    if (!found) throw new Problem(404, 'Not found', `no ${d} entity ${key} has been seen`);
    if (!covers(principalOf(req).role, found.provinceCode))
      throw new Problem(403, 'Not allowed', `this ${d} belongs to a province outside yours`);
    return found;
  }

  @Get('dead-letters')
  @Guarded()
  @ApiOperation({ summary: 'Dead letters grouped by signature (topic, code, field, rule)' })
  async deadLetters(@Req() req: Request) {
    return { groups: await this.queries.deadLetterGroups(provinceFilter(principalOf(req).role)) };
  }

  @Get('reconcile-runs')
  @Guarded()
  @ApiOperation({ summary: 'Reconciliation runs, newest first, with their progress or summary' })
  async runs() {
    return { runs: await this.queries.reconcileRuns() };
  }

  @Get('targets')
  @Guarded()
  @ApiOperation({ summary: "Each sync service instance's latest health towards its portal" })
  async targets() {
    return { targets: await this.queries.targets() };
  }

  /** Decision 766's indicators per commune, with how each rate is computed. */
  @Get('indicators')
  @Guarded()
  @ApiOperation({
    summary:
      "Each commune's Decision-766 counts for the running month (from its sync service) and rates: sync, on-time, online, digitised — with their definitions",
  })
  async indicators(@Req() req: Request) {
    return {
      definitions: RATE_DEFINITIONS,
      communes: await this.queries.indicators(provinceFilter(principalOf(req).role)),
    };
  }

  /** Each portal's calls per minute: counts by outcome, latency percentiles, breaker outages. */
  @Get('portals')
  @Guarded()
  @ApiOperation({
    summary:
      "Each portal's calls per minute over the last hours: calls, errors, 429s, deferred, latency p50/p95/p99, breaker outages",
  })
  @ApiQuery({ name: 'hours', required: false, description: '1 to 72 (default 6)' })
  async portals(@Query('hours') hours?: string) {
    const h = hours === undefined ? 6 : Number(hours);
    if (!Number.isInteger(h) || h < 1 || h > 72)
      throw new Problem(400, 'Bad request', 'hours: an integer from 1 to 72');
    return { minutes: await this.queries.portalMinutes(h) };
  }

  /** Commands and their answers, newest first (the audit log). */
  @Get('commands')
  @Guarded()
  @ApiOperation({ summary: "The audit log with the services' answers, newest first" })
  async history(@Req() req: Request) {
    return {
      commands: await this.queries.commands(principalOf(req).username, principalOf(req).role),
    };
  }

  /** Sends a dead-letter group's open letters back to their topic (after fixing their cause). */
  @Post('commands/replay-dead-letters')
  @Guarded()
  @HttpCode(202)
  @ApiOperation({
    summary: "Send a group's open letters back to their topic (after fixing the cause)",
  })
  @ApiBody({ type: GroupActionBody })
  @ApiAcceptedResponse({ type: ReplayAccepted })
  @ApiForbiddenResponse({
    type: ProblemView,
    description: 'a viewer, or letters outside your provinces',
  })
  replay(@Req() req: Request, @Body() body: { signature?: unknown; reason?: unknown } | undefined) {
    const { signature, reason } = groupAction(body);
    return this.commands.replayDeadLetters(principalOf(req), signature, reason);
  }

  /** Discards a dead-letter group's open letters, with a reason (audited; nothing is sent). */
  @Post('commands/discard-dead-letters')
  @Guarded()
  @HttpCode(200)
  @ApiOperation({ summary: "Discard a group's open letters, with a reason" })
  @ApiBody({ type: GroupActionBody })
  @ApiOkResponse({ type: Discarded })
  @ApiForbiddenResponse({ type: ProblemView, description: 'a viewer' })
  discard(
    @Req() req: Request,
    @Body() body: { signature?: unknown; reason?: unknown } | undefined,
  ) {
    const { signature, reason } = groupAction(body);
    return this.commands.discardDeadLetters(principalOf(req), signature, reason);
  }

  /** Pauses a portal target for every province (a national operator's act). */
  @Post('commands/pause-target')
  @Guarded()
  @HttpCode(202)
  @ApiOperation({
    summary: 'Pause pushes, polls and lookups to a portal target (national operators)',
  })
  @ApiBody({ type: TargetActionBody })
  @ApiAcceptedResponse({ type: CommandAccepted })
  @ApiForbiddenResponse({ type: ProblemView, description: 'not a national operator' })
  pause(@Req() req: Request, @Body() body: { target?: unknown; reason?: unknown } | undefined) {
    return this.targetAction(req, 'pause-target', body);
  }

  /** Resumes a paused portal target. */
  @Post('commands/resume-target')
  @Guarded()
  @HttpCode(202)
  @ApiOperation({ summary: 'Resume a paused portal target (national operators)' })
  @ApiBody({ type: TargetActionBody })
  @ApiAcceptedResponse({ type: CommandAccepted })
  @ApiForbiddenResponse({ type: ProblemView, description: 'not a national operator' })
  resume(@Req() req: Request, @Body() body: { target?: unknown; reason?: unknown } | undefined) {
    return this.targetAction(req, 'resume-target', body);
  }

  private targetAction(
    req: Request,
    action: 'pause-target' | 'resume-target',
    body: { target?: unknown; reason?: unknown } | undefined,
  ) {
    if (typeof body?.target !== 'string' || typeof body.reason !== 'string')
      throw new Problem(400, 'Bad request', 'target and reason: strings');
    return this.commands.pauseOrResume(principalOf(req), action, body.target, body.reason);
  }

  /** Pushes a scope again in full (after a portal lost data, or fixed what refused it). */
  @Post('commands/resync')
  @Guarded()
  @HttpCode(202)
  @ApiOperation({
    summary:
      "Re-sync a scope: its entities pushed again in full by their sync service (rejected ones get a new try; pushes in flight and registrations awaiting the registry's answer are left alone)",
  })
  @ApiBody({ type: ResyncBody })
  @ApiAcceptedResponse({ type: CommandAccepted })
  @ApiForbiddenResponse({
    type: ProblemView,
    description: 'a viewer, or communes outside your provinces',
  })
  resync(
    @Req() req: Request,
    @Body() body: { scope?: Reconcile['scope']; reason?: string } | undefined,
  ): Promise<{ commandId: string }> {
    if (!body || typeof body !== 'object')
      throw new Problem(400, 'Bad request', 'a JSON body is required');
    return this.commands.resync(principalOf(req), {
      scope: body.scope as Reconcile['scope'],
      reason: body.reason as string,
    });
  }

  /** Communes paused now (per domain), in your provinces. */
  @Get('paused-communes')
  @Guarded()
  @ApiOperation({ summary: 'Communes whose pushes an operator paused, per domain' })
  @ApiOkResponse({ type: PausedCommunesView })
  async pausedCommunes(@Req() req: Request) {
    return {
      communes: await this.queries.pausedCommunes(provinceFilter(principalOf(req).role)),
    };
  }

  /** Pauses communes' pushes (their changes still arrive and wait), in your provinces. */
  @Post('commands/pause-communes')
  @Guarded()
  @HttpCode(202)
  @ApiOperation({
    summary: "Pause communes' pushes to their portal (changes still arrive and wait, coalesced)",
  })
  @ApiBody({ type: CommunesActionBody })
  @ApiAcceptedResponse({ type: CommandAccepted })
  @ApiForbiddenResponse({
    type: ProblemView,
    description: 'a viewer, or communes outside your provinces',
  })
  pauseCommunes(@Req() req: Request, @Body() body: CommunesBody | undefined) {
    return this.commands.pauseOrResumeCommunes(
      principalOf(req),
      'pause-communes',
      communesAction(body),
    );
  }

  /** Resumes paused communes: their waiting changes are pushed. */
  @Post('commands/resume-communes')
  @Guarded()
  @HttpCode(202)
  @ApiOperation({ summary: "Resume paused communes' pushes" })
  @ApiBody({ type: CommunesActionBody })
  @ApiAcceptedResponse({ type: CommandAccepted })
  @ApiForbiddenResponse({
    type: ProblemView,
    description: 'a viewer, or communes outside your provinces',
  })
  resumeCommunes(@Req() req: Request, @Body() body: CommunesBody | undefined) {
    return this.commands.pauseOrResumeCommunes(
      principalOf(req),
      'resume-communes',
      communesAction(body),
    );
  }

  /** Starts a reconciliation (dry run or repair) through ops.commands.v1. */
  @Post('commands/reconcile')
  @Guarded()
  @HttpCode(202)
  @ApiOperation({ summary: 'Start a reconciliation (dry run or repair) through ops.commands.v1' })
  @ApiBody({ type: ReconcileBody })
  @ApiAcceptedResponse({ type: CommandAccepted })
  @ApiForbiddenResponse({
    type: ProblemView,
    description: 'a viewer, or communes outside your provinces',
  })
  async reconcile(
    @Req() req: Request,
    @Body()
    body:
      | {
          scope?: Reconcile['scope'];
          dryRun?: boolean;
          reason?: string;
          ratePerSecond?: number;
          sampleSize?: number;
        }
      | undefined,
  ): Promise<{ commandId: string }> {
    if (!body || typeof body !== 'object')
      throw new Problem(400, 'Bad request', 'a JSON body is required');
    return this.commands.reconcile(principalOf(req), {
      scope: body.scope as Reconcile['scope'],
      dryRun: body.dryRun as boolean,
      reason: body.reason as string,
      ...(body.ratePerSecond !== undefined ? { ratePerSecond: body.ratePerSecond } : {}),
      ...(body.sampleSize !== undefined ? { sampleSize: body.sampleSize } : {}),
    });
  }
}

type CommunesBody = { communeCodes?: unknown; domain?: unknown; reason?: unknown };

/**
 * Communes, a domain and a reason, from a request body: shapes only (the command contract checks
 * codes, the domain's values and the reason's length, with the field and the rule).
 */
function communesAction(body: CommunesBody | undefined): {
  communeCodes: string[];
  domain?: string;
  reason: string;
} {
  if (!Array.isArray(body?.communeCodes) || !body.communeCodes.every((c) => typeof c === 'string'))
    throw new Problem(400, 'Bad request', 'communeCodes: an array of 5-digit commune codes');
  if (body.domain !== undefined && typeof body.domain !== 'string')
    throw new Problem(400, 'Bad request', 'domain: one of dossier, civil-status, land');
  if (typeof body.reason !== 'string')
    throw new Problem(400, 'Bad request', 'reason: a string of at least 10 characters');
  return {
    communeCodes: body.communeCodes,
    ...(body.domain !== undefined ? { domain: body.domain } : {}),
    reason: body.reason,
  };
}

/** A reason and a dead-letter group, from a request body. */
function groupAction(body: { signature?: unknown; reason?: unknown } | undefined): {
  signature: string;
  reason: string;
} {
  if (typeof body?.signature !== 'string' || !/^[0-9a-f]{64}$/.test(body.signature))
    throw new Problem(400, 'Bad request', 'signature: the 64-hex signature of a dead-letter group');
  if (typeof body.reason !== 'string')
    throw new Problem(400, 'Bad request', 'reason: a string of at least 10 characters');
  return { signature: body.signature, reason: body.reason };
}

/** Checks a sign-in; the same answer for an unknown user and a wrong password. */
export async function signIn(
  accounts: Account[],
  username: unknown,
  password: unknown,
): Promise<Principal> {
  if (typeof username !== 'string' || typeof password !== 'string' || password.length > 1024)
    throw new Problem(400, 'Bad request', 'username and password: strings');
  const account = accounts.find((a) => a.username === username);
  if (!account || !(await verifyPassword(password, account.passwordHash)))
    throw new Problem(401, 'Unauthorized', 'unknown user or wrong password');
  return { username: account.username, role: account.role };
}
