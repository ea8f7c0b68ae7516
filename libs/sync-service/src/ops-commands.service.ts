import { Inject, Injectable } from '@nestjs/common';
import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { ContractValidator, TOPICS, dlqTopicFor } from '@lienthong/contracts';
import type { OpsCommand, OpsCommandResult } from '@lienthong/contracts';
import { EventProducer, TransactionalConsumer, replayDeadLetters } from '@lienthong/messaging';
import type { SqlExecutor } from '@lienthong/messaging';
import {
  PushTarget,
  pauseCommunes,
  pauseTarget,
  resumeCommunes,
  resumeTarget,
  resyncScope,
  writeCommandResult,
} from '@lienthong/sync-engine';
import type { SyncServiceConfig } from './sync-service.config';
import { SyncWorkers } from './sync-workers.service';
import type { SyncDomain } from './sync-domain';
import { SyncSignals } from './sync-signals';
import { ROOT_LOGGER, SYNC_CONFIG, SYNC_DOMAIN } from './tokens';

/**
 * The operators' commands (`ops.commands.v1`) this service acts on, through the same
 * transactional consumer as domain events (an invalid command goes to the DLQ with its reason),
 * each answered on `ops.command-results.v1` through the outbox, in the transaction that consumed
 * it — so an answer is published once the command took effect, and never without it:
 * - `reconcile`, for the scope's domain (or every domain when the scope names none): starts a run
 *   (idempotent by the command's id: a command delivered twice starts one run), answered
 *   `accepted` with the run's id; the run reports on `sync.reconcile.v1`;
 * - `replay-dead-letters` of this service's DLQ (named by its contract topic,
 *   `commune.<domain>.events.v1.dlq.v1`): the selected dead letters go back to the events topic
 *   byte for byte, answered `done` with their event ids (sent again if the command is redelivered:
 *   ingest dedupes).
 * - `pause-target` / `resume-target` of this service's target: the pause is a ledger row every
 *   instance honours (its gateway defers every call: no push, poll or lookup) until the resume.
 * - `resync` of a scope in this service's domain: its entities are made due for a full push
 *   (`resyncScope`), answered with how many and what was left alone.
 * - `pause-communes` / `resume-communes`: ledger rows every instance's dispatcher honours (none of
 *   the communes' entities is claimed; their changes still arrive and wait).
 * Commands for other domains and targets are not answered by this service. A command older than `OPS_COMMAND_MAX_AGE_MS` is answered `refused` and not
 * carried out: the topic keeps commands for weeks, and a new deployment (no committed offset) or
 * an instance back from a long outage must not pause a target or start runs nobody asked for now.
 */
@Injectable()
export class OpsCommands implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private consumer: TransactionalConsumer | undefined;

  constructor(
    @Inject(SYNC_CONFIG) private readonly config: SyncServiceConfig,
    private readonly kafka: Kafka,
    private readonly dataSource: DataSource,
    private readonly producer: EventProducer,
    private readonly validator: ContractValidator,
    private readonly workers: SyncWorkers,
    private readonly pushTarget: PushTarget,
    @Inject(ROOT_LOGGER) private readonly logger: Logger,
    @Inject(SYNC_DOMAIN) private readonly domain: SyncDomain<SyncServiceConfig>,
    private readonly signals: SyncSignals,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.consumer = new TransactionalConsumer({
      kafka: this.kafka,
      groupId: `${this.config.KAFKA_GROUP_ID}.ops`,
      topic: this.config.OPS_COMMANDS_TOPIC,
      contractTopic: TOPICS.opsCommands,
      dataSource: this.dataSource,
      validator: this.validator,
      producer: this.producer,
      logger: this.logger,
      // Its own group: a crashed instance holds this one too, and the start (this hook) waits on it.
      sessionTimeoutMs: this.config.KAFKA_SESSION_TIMEOUT_MS,
      handle: async (events, tx, tools) => {
        for (const { event } of events) await this.handle(event.data as OpsCommand, tx);
        // The answers are in the outbox: publish them now rather than at the relay's next round;
        // a pause or a resume applies here at once (the other instances within a second).
        tools.afterCommit(() => {
          this.signals.relay.notify();
          this.signals.dispatch.notify(); // a re-sync or a resume made entities due
          void this.workers.refreshPause().catch(() => undefined);
        });
      },
    });
    await this.consumer.start();
  }

  /** Whether this service carries the command out (others are left to their services). */
  private concerns(command: OpsCommand): boolean {
    switch (command.command) {
      case 'reconcile':
        return (
          this.workers.reconcileRuns !== undefined &&
          (!command.scope.domain || command.scope.domain === this.pushTarget.domain)
        );
      case 'pause-target':
      case 'resume-target':
        return command.target === this.pushTarget.target;
      case 'replay-dead-letters':
        return command.selection.topic === dlqTopicFor(this.domain.contractTopic);
      case 'resync':
      case 'pause-communes':
      case 'resume-communes':
        return !command.scope.domain || command.scope.domain === this.pushTarget.domain;
      default:
        return false;
    }
  }

  private async handle(command: OpsCommand, tx: SqlExecutor): Promise<void> {
    if (!this.concerns(command)) return;
    const age = commandAgeMs(command, Date.now());
    if (age > this.config.OPS_COMMAND_MAX_AGE_MS) {
      this.logger.warn(
        { commandId: command.commandId, command: command.command, ageMs: age },
        'command expired: not carried out',
      );
      await this.answer(
        tx,
        command,
        'refused',
        `expired: requested ${Math.round(age / 60_000)} min ago, older than the ` +
          `${Math.round(this.config.OPS_COMMAND_MAX_AGE_MS / 60_000)} min a command stays valid; ` +
          'send it again if it is still wanted',
      );
      return;
    }
    if (command.command === 'reconcile') {
      const runs = this.workers.reconcileRuns;
      if (!runs) return;
      const { domain: _domain, ...scope } = command.scope;
      // A command may ask for less than the budget, never for more.
      const budget = this.workers.reconcileBudget;
      const runId = await runs.start({
        commandId: command.commandId,
        scope,
        dryRun: command.dryRun,
        ratePerSecond: Math.min(command.ratePerSecond ?? budget, budget),
        ...(command.sampleSize ? { sampleSize: command.sampleSize } : {}),
      });
      this.workers.reconcileStarted();
      this.logger.info(
        { commandId: command.commandId, runId, dryRun: command.dryRun },
        'reconciliation requested',
      );
      await this.answer(tx, command, 'accepted', `reconciliation run ${runId}`, { runId });
      return;
    }
    if (command.command === 'pause-target' || command.command === 'resume-target') {
      const pause = command.command === 'pause-target';
      const changed = pause
        ? await pauseTarget(
            tx,
            command.target,
            command.operator.id,
            command.reason,
            command.commandId,
          )
        : await resumeTarget(tx, command.target);
      this.logger.info(
        { commandId: command.commandId, target: command.target, changed },
        command.command,
      );
      await this.answer(
        tx,
        command,
        'done',
        pause
          ? changed
            ? `${command.target} paused: nothing is sent to it until resume-target`
            : `${command.target} was already paused`
          : changed
            ? `${command.target} resumed`
            : `${command.target} was not paused`,
      );
      return;
    }
    if (command.command === 'resync') {
      const { domain: _domain, ...scope } = command.scope;
      const outcome = await resyncScope(tx, this.pushTarget, scope);
      this.logger.info({ commandId: command.commandId, ...outcome }, 'scope re-synced');
      const left = [
        outcome.inFlight > 0 ? `${outcome.inFlight} being pushed now, left to that push` : '',
        outcome.awaiting > 0 ? `${outcome.awaiting} awaiting the portal's answer, not re-sent` : '',
      ].filter(Boolean);
      await this.answer(
        tx,
        command,
        'done',
        `${outcome.resynced} entities due for a full push to ${this.pushTarget.target}` +
          (left.length > 0 ? `; ${left.join('; ')}` : ''),
      );
      return;
    }
    if (command.command === 'pause-communes' || command.command === 'resume-communes') {
      const codes = command.scope.communeCodes;
      const pause = command.command === 'pause-communes';
      const changed = pause
        ? await pauseCommunes(tx, codes, command.operator.id, command.reason, command.commandId)
        : await resumeCommunes(tx, codes);
      this.logger.info(
        { commandId: command.commandId, communes: codes.length, changed: changed.length },
        command.command,
      );
      const unchanged = codes.length - changed.length;
      await this.answer(
        tx,
        command,
        'done',
        (pause
          ? `communes paused for ${this.pushTarget.target}: ${changed.length} (their changes wait until resume-communes)`
          : `communes resumed for ${this.pushTarget.target}: ${changed.length}`) +
          (unchanged > 0 ? `; ${unchanged} already ${pause ? 'paused' : 'not paused'}` : ''),
      );
      return;
    }
    if (command.command === 'replay-dead-letters') {
      const dlq = dlqTopicFor(this.config.EVENTS_TOPIC);
      const { topic: _topic, ...selection } = command.selection;
      const replayed = await replayDeadLetters(
        this.kafka,
        this.producer,
        dlq,
        selection,
        this.config.KAFKA_GROUP_ID,
      );
      this.logger.info(
        { commandId: command.commandId, replayed: replayed.count },
        'dead letters replayed',
      );
      await this.answer(
        tx,
        command,
        'done',
        `${replayed.count} dead letters of ${command.selection.topic} sent back to their topic`,
        { replayed: { topic: command.selection.topic, ...replayed } },
      );
    }
  }

  private answer(
    tx: SqlExecutor,
    command: OpsCommand,
    outcome: OpsCommandResult['outcome'],
    detail: string,
    extra: Partial<OpsCommandResult> = {},
  ): Promise<void> {
    return writeCommandResult(tx, {
      commandId: command.commandId,
      command: command.command,
      service: this.domain.service,
      instance: this.config.INSTANCE_ID,
      outcome,
      detail,
      answeredAt: new Date().toISOString(),
      ...extra,
    });
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }
}

/**
 * How long ago the command was requested. A `requestedAt` ahead of this clock (skew between the
 * monitor's host and this one) counts as just requested.
 */
export function commandAgeMs(command: Pick<OpsCommand, 'requestedAt'>, now: number): number {
  return Math.max(0, now - Date.parse(command.requestedAt));
}
