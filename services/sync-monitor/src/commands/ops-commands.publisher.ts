import { randomUUID } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import {
  ContractValidator,
  EVENT_TYPES,
  encodeEvent,
  toProblemDetails,
} from '@lienthong/contracts';
import type { Reconcile } from '@lienthong/contracts';
import { EventProducer } from '@lienthong/messaging';
import { Problem } from '@lienthong/observability';
import type { Principal } from '../auth/accounts';
import { provinceFilter } from '../auth/accounts';
import { domainOfTopic } from '../read-model/read-model.queries';
import type { SyncMonitorConfig } from '../config/sync-monitor.config';
import { Communes } from '../read-model/communes';
import { MONITOR_CONFIG } from '../tokens';
import { refusal } from './scope-authorization';

/** What an operator asks for a reconciliation (the command without what sync-monitor adds). */
export interface ReconcileRequest {
  scope: Reconcile['scope'];
  dryRun: boolean;
  reason: string;
  ratePerSecond?: number;
  sampleSize?: number;
}

/** What an operator asks for a re-sync: the entities to push again in full. */
export interface ResyncRequest {
  scope: Reconcile['scope'];
  reason: string;
}

/** Communes to pause or resume, in one domain's service or (domain left out) in every one. */
export interface CommunesRequest {
  communeCodes: string[];
  domain?: string;
  reason: string;
}

/**
 * Operators' actions become `ops.commands.v1` events, consumed by the sync services. Each is
 * checked against the operator's role (scoped to provinces) and the command contract before it
 * is sent, and recorded in the audit log whatever came of it — refused ones too.
 */
@Injectable()
export class OpsCommandsPublisher {
  constructor(
    @Inject(MONITOR_CONFIG) private readonly config: SyncMonitorConfig,
    private readonly producer: EventProducer,
    private readonly validator: ContractValidator,
    private readonly dataSource: DataSource,
    private readonly communes: Communes,
  ) {}

  async reconcile(who: Principal, request: ReconcileRequest): Promise<{ commandId: string }> {
    const command = {
      ...commandHeader(who, 'reconcile', request.reason),
      scope: request.scope,
      dryRun: request.dryRun,
      ...(request.ratePerSecond !== undefined ? { ratePerSecond: request.ratePerSecond } : {}),
      ...(request.sampleSize !== undefined ? { sampleSize: request.sampleSize } : {}),
    };
    return this.send(who, 'reconcile', command);
  }

  /** Re-sync: the scope's entities pushed again in full by their sync service. */
  async resync(who: Principal, request: ResyncRequest): Promise<{ commandId: string }> {
    const command = { ...commandHeader(who, 'resync', request.reason), scope: request.scope };
    return this.send(who, 'resync', command);
  }

  /**
   * Pauses or resumes communes' pushes: a province operator's act for their own communes (the
   * scope check of every command), a national operator's for any.
   */
  async pauseOrResumeCommunes(
    who: Principal,
    action: 'pause-communes' | 'resume-communes',
    request: CommunesRequest,
  ): Promise<{ commandId: string }> {
    const command = {
      ...commandHeader(who, action, request.reason),
      scope: {
        communeCodes: request.communeCodes,
        ...(request.domain !== undefined ? { domain: request.domain } : {}),
      },
    };
    return this.send(who, action, command);
  }

  /**
   * Sends a dead-letter group back to its topic (after its cause was fixed): the open letters of
   * the group in the operator's provinces, by event id, through the owning sync service. Letters
   * without an event id (not even a CloudEvent) cannot be picked out one by one: discard them.
   */
  async replayDeadLetters(
    who: Principal,
    signature: string,
    reason: string,
  ): Promise<{ commandId: string; letters: number }> {
    const letters = await this.openLetters(who, signature);
    const ids = letters.flatMap((l) => (l.event_id ? [l.event_id] : []));
    const domain = domainOfTopic(letters[0]?.source_topic ?? '');
    if (ids.length === 0 || !domain)
      throw new Problem(
        409,
        'Nothing to replay',
        'no open dead letter of this group in your provinces has an event id to replay by',
      );
    const communeCodes = [
      ...new Set(letters.flatMap((l) => (l.commune_code ? [l.commune_code] : []))),
    ];
    const command = {
      ...commandHeader(who, 'replay-dead-letters', reason),
      selection: { topic: `commune.${domain}.events.v1.dlq.v1`, eventIds: ids.slice(0, 10_000) },
    };
    const { commandId } = await this.send(who, 'replay-dead-letters', command, {
      ...(communeCodes.length > 0 ? { communeCodes } : {}),
    });
    return { commandId, letters: ids.length };
  }

  /**
   * Pauses or resumes a portal target for every province: a national operator's act (a province
   * operator would stop every other province's sync too).
   */
  async pauseOrResume(
    who: Principal,
    action: 'pause-target' | 'resume-target',
    target: string,
    reason: string,
  ): Promise<{ commandId: string }> {
    const command = { ...commandHeader(who, action, reason), target };
    if (who.role.kind === 'operator' && who.role.provinces !== '*') {
      const why = `${action}: a national operator's act (a target serves every province)`;
      await this.audit(who, action, command, 'refused', why);
      throw new Problem(403, 'Not allowed', why);
    }
    return this.send(who, action, command, {});
  }

  /** Discards a dead-letter group (open letters in the operator's provinces) with a reason. */
  async discardDeadLetters(
    who: Principal,
    signature: string,
    reason: string,
  ): Promise<{ discarded: number }> {
    const commandId = randomUUID();
    const refused =
      who.role.kind !== 'operator' ? 'a viewer cannot act: ask an operator' : undefined;
    if (refused || reason.trim().length < 10) {
      const why = refused ?? 'reason: at least 10 characters';
      await this.audit(
        who,
        'discard-dead-letters',
        { commandId, scope: { signature } },
        'refused',
        why,
      );
      throw new Problem(refused ? 403 : 400, refused ? 'Not allowed' : 'Bad request', why);
    }
    const letters = await this.openLetters(who, signature);
    await this.dataSource.query(
      `update dead_letter set status = 'discarded', resolved_at = now(), resolved_by = $2, resolution = $3
       where id = any($1::bigint[]) and status = 'open'`,
      [letters.map((l) => l.id), who.username, reason],
    );
    await this.audit(
      who,
      'discard-dead-letters',
      { commandId, scope: { signature } },
      'done',
      `${letters.length} discarded: ${reason}`,
    );
    return { discarded: letters.length };
  }

  private async openLetters(
    who: Principal,
    signature: string,
  ): Promise<
    Array<{
      id: string;
      event_id: string | null;
      commune_code: string | null;
      source_topic: string;
    }>
  > {
    const provinces = provinceFilter(who.role);
    return this.dataSource.query(
      `select id, event_id, commune_code, source_topic from dead_letter
       where signature = $1 and status = 'open' and ($2::text[] is null or province_code = any($2))
       order by id`,
      [signature, provinces ?? null],
    );
  }

  private async send(
    who: Principal,
    action: string,
    command: Record<string, unknown> & { commandId: string; scope?: { communeCodes?: string[] } },
    /** Where the command acts, when it is not its `scope` (a replay acts on its letters' communes). */
    place: { communeCodes?: string[] } = command.scope ?? {},
  ): Promise<{ commandId: string }> {
    const valid = this.validator.validate(EVENT_TYPES.OpsCommand, command);
    if (!valid.ok) {
      const p = toProblemDetails(valid.failure);
      await this.audit(who, action, command, 'invalid', p.detail);
      throw new Problem(400, 'The command breaks its contract', p.detail, { issues: p.issues });
    }
    const refused = refusal(who.role, place, (c) => this.communes.provinceOf(c));
    if (refused) {
      await this.audit(who, action, command, 'refused', refused);
      throw new Problem(403, 'Not allowed', refused);
    }
    const record = encodeEvent(EVENT_TYPES.OpsCommand, valid.value, {
      source: '/lienthong/sync-monitor',
    });
    await this.producer.send(this.config.OPS_COMMANDS_TOPIC, [record]);
    await this.audit(who, action, command, 'sent', valid.value.reason);
    return { commandId: command.commandId };
  }

  private async audit(
    who: Principal,
    action: string,
    command: { commandId: string; scope?: unknown; selection?: unknown; target?: unknown },
    outcome: string,
    detail?: string,
  ): Promise<void> {
    await this.dataSource.query(
      `insert into audit_log (operator, role, action, scope, command_id, outcome, detail)
       values ($1, $2, $3, $4, $5, $6, $7)`,
      [
        who.username,
        JSON.stringify(who.role),
        action,
        JSON.stringify(
          command.scope ??
            command.selection ??
            (command.target !== undefined ? { target: command.target } : {}),
        ),
        command.commandId,
        outcome,
        detail ?? null,
      ],
    );
  }
}

/** What every command says of itself: its id, its kind, who asks, why and when. */
function commandHeader(who: Principal, command: string, reason: string) {
  return {
    commandId: randomUUID(),
    command,
    operator: { id: who.username },
    reason,
    requestedAt: new Date().toISOString(),
  };
}
