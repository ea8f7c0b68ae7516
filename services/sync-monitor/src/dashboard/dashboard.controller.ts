import { join } from 'node:path';
import {
  Body,
  Controller,
  Get,
  Header,
  HttpCode,
  Inject,
  Param,
  Post,
  Query,
  Req,
  Res,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { Eta } from 'eta';
import type { Account, Principal } from '../auth/accounts';
import { covers, provinceFilter } from '../auth/accounts';
import { Public, SESSION_COOKIE, principalOf } from '../auth/auth.guard';
import { Sessions } from '../auth/sessions';
import { signIn } from '../api/ops-api.controller';
import { Problem } from '@lienthong/observability';
import { OpsCommandsPublisher } from '../commands/ops-commands.publisher';
import type { ResyncRequest } from '../commands/ops-commands.publisher';
import type { SyncMonitorConfig } from '../config/sync-monitor.config';
import { Communes } from '../read-model/communes';
import { RATE_DEFINITIONS } from '../read-model/indicators';
import { ReadModelQueries } from '../read-model/read-model.queries';
import type { CommuneRow, PortalMinute } from '../read-model/read-model.queries';
import { ACCOUNTS, MONITOR_CONFIG } from '../tokens';
import { age, describeDetail } from './present';

/** Templates live next to the sources (services/sync-monitor/views), for dist and for tests. */
const VIEWS = join(__dirname, '..', '..', 'views');
/** htmx, served from the installed package: no CDN at run time. */
const HTMX = require.resolve('htmx.org/dist/htmx.min.js');
/** uPlot (the portal charts), from the installed package too. */
const UPLOT = {
  'uPlot.iife.min.js': require.resolve('uplot/dist/uPlot.iife.min.js'),
  'uPlot.min.css': require.resolve('uplot/dist/uPlot.min.css'),
  'portals.js': join(VIEWS, 'portals.js'),
};

/**
 * The dashboard: server-rendered pages (Eta) that refresh their live parts with htmx. It shows
 * the same data as the ops API, scoped the same way, and acts through the same publisher.
 */
@Controller()
export class DashboardController {
  private readonly eta = new Eta({ views: VIEWS, cache: true });

  constructor(
    private readonly queries: ReadModelQueries,
    private readonly sessions: Sessions,
    private readonly commands: OpsCommandsPublisher,
    private readonly communes: Communes,
    @Inject(ACCOUNTS) private readonly accounts: Account[],
    @Inject(MONITOR_CONFIG) private readonly config: SyncMonitorConfig,
  ) {}

  private page(
    title: string,
    nav: string,
    who: Principal | undefined,
    view: string,
    data: object,
  ): string {
    const body = this.eta.render(`./${view}`, data);
    return this.eta.render('./layout', { title, nav, who, body });
  }

  @Public()
  @Get('assets/htmx.min.js')
  htmx(@Res() res: Response): void {
    res.type('application/javascript').sendFile(HTMX, { maxAge: '1d' });
  }

  @Public()
  @Get('assets/:file')
  asset(@Param('file') file: string, @Res() res: Response): void {
    const path = (UPLOT as Record<string, string>)[file];
    if (!path) throw new Problem(404, 'Not found', `no asset ${file}`);
    res.type(file.endsWith('.css') ? 'text/css' : 'application/javascript');
    res.sendFile(path, { maxAge: '1h' });
  }

  /** Decision 766's indicators per commune, each rate with how it is computed. */
  @Get('indicators')
  @Header('content-type', 'text/html; charset=utf-8')
  async indicators(@Req() req: Request): Promise<string> {
    const who = principalOf(req);
    const rows = await this.queries.indicators(provinceFilter(who.role));
    return this.page('Indicators', 'indicators', who, 'indicators', {
      definitions: RATE_DEFINITIONS,
      rows: rows.map((r) => ({ ...r, communeName: this.communes.communeName(r.communeCode) })),
      rate: (v: number | null) => (v === null ? 'N/A' : `${v.toFixed(2)} %`),
    });
  }

  /** The portals over time: latency percentiles, calls by outcome, breaker outages (uPlot). */
  @Get('portals')
  @Header('content-type', 'text/html; charset=utf-8')
  async portals(@Req() req: Request, @Query('hours') hours?: string): Promise<string> {
    const h = [1, 6, 24, 72].includes(Number(hours)) ? Number(hours) : 6;
    const minutes = await this.queries.portalMinutes(h);
    return this.page('Portals', 'portals', principalOf(req), 'portals', {
      hours: h,
      summary: portalSummary(minutes, Date.now() - 3_600_000),
      // Inside a <script> element: no "</" may end it early.
      json: JSON.stringify(minutes).replace(/</g, '\\u003c'),
    });
  }

  @Public()
  @Get('login')
  @Header('content-type', 'text/html; charset=utf-8')
  loginPage(): string {
    return this.page('Sign in', '', undefined, 'login', { error: undefined });
  }

  @Public()
  @Post('login')
  @HttpCode(200)
  async login(
    @Body() body: { username?: unknown; password?: unknown } | undefined,
    @Res() res: Response,
  ): Promise<void> {
    try {
      const principal = await signIn(this.accounts, body?.username, body?.password);
      res.cookie(SESSION_COOKIE, await this.sessions.issue(principal), {
        httpOnly: true,
        sameSite: 'strict',
        maxAge: this.config.MONITOR_SESSION_TTL_SECONDS * 1000,
        path: '/',
      });
      res.redirect(303, '/');
    } catch (err) {
      if (!(err instanceof Problem)) throw err;
      res
        .status(err.getStatus())
        .type('text/html')
        .send(
          this.page('Sign in', '', undefined, 'login', {
            error: 'Unknown user or wrong password.',
          }),
        );
    }
  }

  @Public()
  @Post('logout')
  logout(@Res() res: Response): void {
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.redirect(303, '/login');
  }

  @Get()
  @Header('content-type', 'text/html; charset=utf-8')
  async overview(@Req() req: Request, @Query('domain') domain?: string): Promise<string> {
    const who = principalOf(req);
    return this.page('Overview', 'overview', who, 'overview', {
      domain,
      ...(await this.overviewData(who, domain)),
    });
  }

  @Get('partials/overview')
  @Header('content-type', 'text/html; charset=utf-8')
  async overviewLive(@Req() req: Request, @Query('domain') domain?: string): Promise<string> {
    return this.eta.render('./overview-live', await this.overviewData(principalOf(req), domain));
  }

  private async overviewData(who: Principal, domain: string | undefined) {
    const d = ['dossier', 'civil-status', 'land'].includes(domain ?? '') ? domain : undefined;
    const rows = await this.queries.communes(provinceFilter(who.role), d ? { domain: d } : {});
    const now = Date.now();
    const shown = rows.map((r: CommuneRow) => {
      const oldestAgeSeconds = r.oldestUnsyncedAt
        ? (now - Date.parse(r.oldestUnsyncedAt)) / 1000
        : 0;
      return {
        ...r,
        provinceName: this.communes.provinceName(r.provinceCode),
        communeName: this.communes.communeName(r.communeCode),
        oldestAgeSeconds,
        oldestAge: r.oldestUnsyncedAt ? age(oldestAgeSeconds) : undefined,
        freshness: r.lastSyncedAt
          ? `${age((now - Date.parse(r.lastSyncedAt)) / 1000)} ago`
          : undefined,
      };
    });
    const backlogOf = (r: CommuneRow) => Object.values(r.backlog).reduce((a, b) => a + b, 0);
    const oldest = Math.max(0, ...shown.map((r) => r.oldestAgeSeconds));
    const targets = (await this.queries.targets()).filter(
      (t) => Date.now() - Date.parse(t.reportedAt) < 10 * 60_000,
    );
    return {
      rows: shown,
      targets,
      canPause: who.role.kind === 'operator' && who.role.provinces === '*',
      canAct: who.role.kind === 'operator',
      now: new Date(now).toISOString(),
      totals: {
        entities: rows.reduce((n, r) => n + r.entities, 0),
        synced: rows.reduce((n, r) => n + r.synced, 0),
        backlog: rows.reduce((n, r) => n + backlogOf(r), 0),
        oldestAgeSeconds: oldest,
        oldestAge: oldest > 0 ? age(oldest) : undefined,
        driftOpen: rows.reduce((n, r) => n + r.driftOpen, 0),
        deadLetters: rows.reduce((n, r) => n + r.deadLetters, 0),
      },
    };
  }

  /** Pause or resume a portal target from the overview (national operators). */
  @Post('targets/action')
  async targetAction(
    @Req() req: Request,
    @Body() body: { target?: string; reason?: string; action?: string },
    @Res() res: Response,
  ): Promise<void> {
    const who = principalOf(req);
    const action = body.action === 'resume-target' ? 'resume-target' : 'pause-target';
    await this.act(res, who, async () => {
      const { commandId } = await this.commands.pauseOrResume(
        who,
        action,
        body.target ?? '',
        body.reason ?? '',
      );
      return `${action} ${body.target ?? ''} requested (command ${commandId}).`;
    });
  }

  /** Re-sync, pause or resume communes from the overview (operators, in their provinces). */
  @Post('communes/action')
  async communesAction(
    @Req() req: Request,
    @Body() body: { communeCodes?: string; domain?: string; reason?: string; action?: string },
    @Res() res: Response,
  ): Promise<void> {
    const who = principalOf(req);
    const communeCodes = (body.communeCodes ?? '').split(/[\s,;]+/).filter((c) => c.length > 0);
    const domain = body.domain ? body.domain : undefined;
    const reason = body.reason ?? '';
    const action =
      body.action === 'pause-communes' || body.action === 'resume-communes'
        ? body.action
        : 'resync';
    await this.act(res, who, async () => {
      const { commandId } =
        action === 'resync'
          ? await this.commands.resync(who, {
              scope: { communeCodes, ...(domain ? { domain } : {}) } as ResyncRequest['scope'],
              reason,
            })
          : await this.commands.pauseOrResumeCommunes(who, action, {
              communeCodes,
              ...(domain ? { domain } : {}),
              reason,
            });
      return `${action} of ${communeCodes.join(', ')} requested (command ${commandId}).`;
    });
  }

  /** Runs an operator's action and answers with the overview and what came of it. */
  private async act(res: Response, who: Principal, run: () => Promise<string>): Promise<void> {
    let message: string;
    let messageClass = 'ok';
    try {
      message = await run();
    } catch (err) {
      if (!(err instanceof Problem)) throw err;
      message = `Refused: ${(err.getResponse() as { detail?: string }).detail ?? err.message}`;
      messageClass = 'error';
      res.status(err.getStatus());
    }
    res.type('text/html').send(
      this.page('Overview', 'overview', who, 'overview', {
        message,
        messageClass,
        ...(await this.overviewData(who, undefined)),
      }),
    );
  }

  /** The search form's target: the entity's timeline page. */
  @Get('entities')
  find(@Query('domain') domain: string, @Query('key') key: string, @Res() res: Response): void {
    res.redirect(303, `/entities/${encodeURIComponent(domain)}/${encodeURIComponent(key.trim())}`);
  }

  @Get('entities/:domain/:key')
  @Header('content-type', 'text/html; charset=utf-8')
  async entity(
    @Req() req: Request,
    @Param('domain') domain: string,
    @Param('key') key: string,
  ): Promise<string> {
    const who = principalOf(req);
    const entity = await this.queries.entity(domain, key);
    if (!entity) throw new Problem(404, 'Not found', `no ${domain} entity ${key} has been seen`);
    if (!covers(who.role, entity.provinceCode))
      throw new Problem(403, 'Not allowed', `this ${domain} belongs to a province outside yours`);
    return this.page(`${domain} ${key}`, 'overview', who, 'entity', {
      domain,
      key,
      entity,
      communeName: this.communes.communeName(String(entity.state.communeCode)),
      describe: describeDetail,
    });
  }

  @Get('dead-letters')
  @Header('content-type', 'text/html; charset=utf-8')
  async deadLetters(@Req() req: Request): Promise<string> {
    return this.deadLettersPage(principalOf(req));
  }

  /** Replay or discard a group from the page; the outcome (or the refusal) is shown on it. */
  @Post('dead-letters/action')
  async deadLetterAction(
    @Req() req: Request,
    @Body() body: { signature?: string; reason?: string; action?: string },
    @Res() res: Response,
  ): Promise<void> {
    const who = principalOf(req);
    const signature = body.signature ?? '';
    const reason = body.reason ?? '';
    try {
      const message =
        body.action === 'discard'
          ? `${(await this.commands.discardDeadLetters(who, signature, reason)).discarded} dead letters discarded.`
          : await this.commands
              .replayDeadLetters(who, signature, reason)
              .then(
                (r) => `Replay of ${r.letters} dead letters requested (command ${r.commandId}).`,
              );
      res.type('text/html').send(await this.deadLettersPage(who, message, 'ok'));
    } catch (err) {
      if (!(err instanceof Problem)) throw err;
      const problem = err.getResponse() as { detail?: string };
      res
        .status(err.getStatus())
        .type('text/html')
        .send(
          await this.deadLettersPage(who, `Refused: ${problem.detail ?? err.message}`, 'error'),
        );
    }
  }

  private async deadLettersPage(
    who: Principal,
    message?: string,
    messageClass?: string,
  ): Promise<string> {
    const groups = await this.queries.deadLetterGroups(provinceFilter(who.role));
    return this.page('Dead letters', 'dlq', who, 'dead-letters', {
      groups,
      canAct: who.role.kind === 'operator',
      message,
      messageClass,
    });
  }

  @Get('runs')
  @Header('content-type', 'text/html; charset=utf-8')
  async runs(@Req() req: Request): Promise<string> {
    return this.runsPage(principalOf(req));
  }

  @Get('partials/runs')
  @Header('content-type', 'text/html; charset=utf-8')
  async runsLive(): Promise<string> {
    return this.eta.render('./runs-live', { runs: await this.queries.reconcileRuns() });
  }

  /** Starts a reconciliation from the form; a refusal is shown on the page with its reason. */
  @Post('runs')
  async startRun(
    @Req() req: Request,
    @Body() body: { domain?: string; communeCodes?: string; dryRun?: string; reason?: string },
    @Res() res: Response,
  ): Promise<void> {
    const who = principalOf(req);
    const communeCodes = (body.communeCodes ?? '').split(/[\s,]+/).filter((c) => c.length > 0);
    try {
      const { commandId } = await this.commands.reconcile(who, {
        scope: {
          domain: body.domain as 'dossier',
          ...(communeCodes.length > 0
            ? { communeCodes: communeCodes as [string, ...string[]] }
            : {}),
        },
        dryRun: body.dryRun === 'true',
        reason: body.reason ?? '',
      });
      res
        .type('text/html')
        .send(await this.runsPage(who, `Reconciliation requested (command ${commandId}).`, 'ok'));
    } catch (err) {
      if (!(err instanceof Problem)) throw err;
      const problem = err.getResponse() as { detail?: string };
      res
        .status(err.getStatus())
        .type('text/html')
        .send(await this.runsPage(who, `Refused: ${problem.detail ?? err.message}`, 'error'));
    }
  }

  private async runsPage(who: Principal, message?: string, messageClass?: string): Promise<string> {
    return this.page('Reconciliation', 'runs', who, 'runs', {
      runs: await this.queries.reconcileRuns(),
      canAct: who.role.kind === 'operator',
      national: who.role.provinces === '*',
      message,
      messageClass,
    });
  }
}

/** Each target's last hour, summed from its minutes (the percentiles: the worst minute's). */
export function portalSummary(minutes: PortalMinute[], since: number) {
  const byTarget = new Map<string, PortalMinute[]>();
  for (const m of minutes)
    if (Date.parse(m.minute) >= since)
      byTarget.set(m.target, [...(byTarget.get(m.target) ?? []), m]);
  const share = (n: number, of: number) => (of > 0 ? `${((100 * n) / of).toFixed(1)} %` : '—');
  const worst = (xs: Array<number | null>) => {
    const v = xs.filter((x): x is number => x !== null);
    return v.length > 0 ? Math.max(...v) : null;
  };
  return [...byTarget].map(([target, ms]) => {
    const sum = (k: 'calls' | 'errors' | 'rateLimited' | 'deferred') =>
      ms.reduce((n, m) => n + m[k], 0);
    const calls = sum('calls');
    return {
      target,
      calls,
      errors: sum('errors'),
      errorRate: share(sum('errors'), calls),
      rateLimited: sum('rateLimited'),
      rateLimitedRate: share(sum('rateLimited'), calls),
      deferred: sum('deferred'),
      p50Ms: worst(ms.map((m) => m.p50Ms)),
      p95Ms: worst(ms.map((m) => m.p95Ms)),
      p99Ms: worst(ms.map((m) => m.p99Ms)),
      outageMinutes: ms.filter((m) => m.outage).length,
    };
  });
}
