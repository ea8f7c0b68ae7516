import { Inject, Injectable } from '@nestjs/common';
import type { BeforeApplicationShutdown, OnApplicationBootstrap } from '@nestjs/common';
import { Kafka } from 'kafkajs';
import type { Logger } from 'pino';
import { DataSource } from 'typeorm';
import { ContractValidator, TOPICS } from '@lienthong/contracts';
import type { OpsCommand } from '@lienthong/contracts';
import { EventProducer, TransactionalConsumer } from '@lienthong/messaging';
import { PushTarget } from '@lienthong/sync-engine';
import type { SyncServiceConfig } from './sync-service.config';
import { SyncWorkers } from './sync-workers.service';
import { ROOT_LOGGER, SYNC_CONFIG } from './tokens';

/**
 * The operators' commands (`ops.commands.v1`) this service acts on, through the same
 * transactional consumer as domain events (an invalid command goes to the DLQ with its reason):
 * today `reconcile`, for the scope's domain (or every domain when the scope names none). Starting
 * a run is idempotent by the command's id, so a command delivered twice starts one run.
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
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    const runs = this.workers.reconcileRuns;
    if (!runs) return;
    this.consumer = new TransactionalConsumer({
      kafka: this.kafka,
      groupId: `${this.config.KAFKA_GROUP_ID}.ops`,
      topic: this.config.OPS_COMMANDS_TOPIC,
      contractTopic: TOPICS.opsCommands,
      dataSource: this.dataSource,
      validator: this.validator,
      producer: this.producer,
      logger: this.logger,
      handle: async (events) => {
        for (const { event } of events) {
          const command = event.data as OpsCommand;
          if (command.command !== 'reconcile') continue;
          if (command.scope.domain && command.scope.domain !== this.pushTarget.domain) continue;
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
        }
      },
    });
    await this.consumer.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }
}
