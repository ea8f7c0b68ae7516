import { Controller, Get } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import type { HealthCheckResult, HealthIndicatorResult } from '@nestjs/terminus';
import { TransactionalKafkaServer } from '@lienthong/messaging';
import { PortalGateway, PostgresExchangeRecorder } from '@lienthong/resilience';
import { KafkaProbe } from './kafka-probe';

const TIMEOUT_MS = 2000;

function within<T>(ms: number, work: Promise<T>): Promise<T> {
  return Promise.race([
    work,
    new Promise<never>((_, fail) =>
      setTimeout(() => fail(new Error(`no answer within ${ms} ms`)), ms).unref(),
    ),
  ]);
}

@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly gateway: PortalGateway,
    private readonly recorder: PostgresExchangeRecorder,
    private readonly server: TransactionalKafkaServer,
    private readonly kafkaProbe: KafkaProbe,
  ) {}

  /** Liveness: the process answers. Restarting it would not help with Kafka, Postgres or the portal down. */
  @Get('live')
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /**
   * Readiness: what this instance itself needs to do its work — the broker, Postgres, a writable
   * DLQ, a database that accepts the consumed batches. The portal is reported (breaker, hold,
   * exchange records) but never makes the service unready: in a portal outage every instance
   * going unready would stall deployments and help nobody; the ledger holds the backlog.
   */
  @Get(['', 'ready'])
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.db.pingCheck('postgres', { timeout: TIMEOUT_MS }),
      () => this.kafka(),
      () => this.consumer(),
      () => this.portal(),
    ]);
  }

  private async kafka(): Promise<HealthIndicatorResult> {
    const check = this.indicators.check('kafka');
    try {
      return check.up({ brokers: await within(TIMEOUT_MS, this.kafkaProbe.brokers()) });
    } catch (err) {
      return check.down({ message: err instanceof Error ? err.message : String(err) });
    }
  }

  private consumer(): HealthIndicatorResult {
    const check = this.indicators.check('consumer');
    const h = this.server.health();
    const details = {
      ...(h?.deadLetterFailing ? { deadLetterFailing: h.deadLetterFailing } : {}),
      ...(h?.databaseFailing ? { databaseFailing: h.databaseFailing } : {}),
      offsetNotices: h?.offsetNotices ?? [],
    };
    return h?.deadLetterFailing || h?.databaseFailing ? check.down(details) : check.up(details);
  }

  /** Reported, never a reason to be unready. */
  private portal(): HealthIndicatorResult {
    const hold = this.gateway.targetHold();
    return this.indicators.check(this.gateway.target).up({
      breaker: this.gateway.targetState(),
      ...(hold
        ? {
            held: {
              code: hold.code,
              message: hold.message,
              since: hold.since.toISOString(),
              nextProbeAt: hold.until.toISOString(),
            },
          }
        : {}),
      exchangeRecords: {
        pending: this.recorder.pending,
        lost: this.recorder.lost,
        writeFailing: this.recorder.failing,
      },
    });
  }
}
