import { Body, Controller, Get, HttpCode, Param, Post, Query, Req } from '@nestjs/common';
import type { Request } from 'express';
import type { Reconcile } from '@lienthong/contracts';
import type { Account, Principal } from '../auth/accounts';
import { covers, provinceFilter, verifyPassword } from '../auth/accounts';
import { Public, principalOf } from '../auth/auth.guard';
import { Sessions } from '../auth/sessions';
import { OpsCommandsPublisher } from '../commands/ops-commands.publisher';
import { ReadModelQueries } from '../read-model/read-model.queries';
import { ACCOUNTS } from '../tokens';
import { Problem } from './problem';
import { Inject } from '@nestjs/common';

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
  async signIn(
    @Body() body: { username?: unknown; password?: unknown } | undefined,
  ): Promise<{ token: string; username: string; role: Principal['role'] }> {
    const principal = await signIn(this.accounts, body?.username, body?.password);
    return { token: await this.sessions.issue(principal), ...principal };
  }

  @Get('me')
  me(@Req() req: Request): Principal {
    return principalOf(req);
  }

  /** Province → commune → domain: entities, backlog by state, ages, drift, dead letters. */
  @Get('communes')
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
  async entity(@Req() req: Request, @Param('domain') domain: string, @Param('key') key: string) {
    const d = domainParam(domain) as string;
    const found = await this.queries.entity(d, key);
    if (!found) throw new Problem(404, 'Not found', `no ${d} entity ${key} has been seen`);
    if (!covers(principalOf(req).role, found.provinceCode))
      throw new Problem(403, 'Not allowed', `this ${d} belongs to a province outside yours`);
    return found;
  }

  @Get('dead-letters')
  async deadLetters(@Req() req: Request) {
    return { groups: await this.queries.deadLetterGroups(provinceFilter(principalOf(req).role)) };
  }

  @Get('reconcile-runs')
  async runs() {
    return { runs: await this.queries.reconcileRuns() };
  }

  @Get('targets')
  async targets() {
    return { targets: await this.queries.targets() };
  }

  /** Commands and their answers, newest first (the audit log). */
  @Get('commands')
  async history(@Req() req: Request) {
    return {
      commands: await this.queries.commands(principalOf(req).username, principalOf(req).role),
    };
  }

  /** Sends a dead-letter group's open letters back to their topic (after fixing their cause). */
  @Post('commands/replay-dead-letters')
  @HttpCode(202)
  replay(@Req() req: Request, @Body() body: { signature?: unknown; reason?: unknown } | undefined) {
    const { signature, reason } = groupAction(body);
    return this.commands.replayDeadLetters(principalOf(req), signature, reason);
  }

  /** Discards a dead-letter group's open letters, with a reason (audited; nothing is sent). */
  @Post('commands/discard-dead-letters')
  @HttpCode(200)
  discard(
    @Req() req: Request,
    @Body() body: { signature?: unknown; reason?: unknown } | undefined,
  ) {
    const { signature, reason } = groupAction(body);
    return this.commands.discardDeadLetters(principalOf(req), signature, reason);
  }

  /** Starts a reconciliation (dry run or repair) through ops.commands.v1. */
  @Post('commands/reconcile')
  @HttpCode(202)
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
