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
import { Problem } from '../api/problem';
import type { Principal } from '../auth/accounts';
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
      commandId: randomUUID(),
      command: 'reconcile',
      operator: { id: who.username },
      reason: request.reason,
      requestedAt: new Date().toISOString(),
      scope: request.scope,
      dryRun: request.dryRun,
      ...(request.ratePerSecond !== undefined ? { ratePerSecond: request.ratePerSecond } : {}),
      ...(request.sampleSize !== undefined ? { sampleSize: request.sampleSize } : {}),
    };
    return this.send(who, 'reconcile', command);
  }

  private async send(
    who: Principal,
    action: string,
    command: Record<string, unknown> & { commandId: string; scope?: { communeCodes?: string[] } },
  ): Promise<{ commandId: string }> {
    const valid = this.validator.validate(EVENT_TYPES.OpsCommand, command);
    if (!valid.ok) {
      const p = toProblemDetails(valid.failure);
      await this.audit(who, action, command, 'invalid', p.detail);
      throw new Problem(400, 'The command breaks its contract', p.detail, { issues: p.issues });
    }
    const refused = refusal(who.role, command.scope ?? {}, (c) => this.communes.provinceOf(c));
    if (refused) {
      await this.audit(who, action, command, 'refused', refused);
      throw new Problem(403, 'Not allowed', refused);
    }
    const record = encodeEvent(EVENT_TYPES.OpsCommand, valid.value, {
      source: '/lienthong/sync-monitor',
    });
    await this.producer.send(this.config.OPS_COMMANDS_TOPIC, [record]);
    await this.audit(who, action, command, 'sent');
    return { commandId: command.commandId };
  }

  private async audit(
    who: Principal,
    action: string,
    command: { commandId: string; scope?: unknown },
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
        JSON.stringify(command.scope ?? {}),
        command.commandId,
        outcome,
        detail ?? null,
      ],
    );
  }
}
