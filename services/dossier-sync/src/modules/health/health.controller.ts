import { Controller, Get } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import type { HealthCheckResult, HealthIndicatorResult } from '@nestjs/terminus';
import { PortalGateway } from '@lienthong/resilience';
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
    private readonly kafkaProbe: KafkaProbe,
  ) {}

  /** Liveness: the process answers. Restarting it would not help with Kafka, Postgres or DVCQG down. */
  @Get('live')
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  /** Readiness: the broker answers metadata, Postgres answers, and the DVCQG breaker is not open. */
  @Get(['', 'ready'])
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.db.pingCheck('postgres', { timeout: TIMEOUT_MS }),
      () => this.kafka(),
      () => this.breaker(),
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

  private breaker(): HealthIndicatorResult {
    const check = this.indicators.check('dvcqg');
    const state = this.gateway.targetState();
    return state === 'open' ? check.down({ breaker: state }) : check.up({ breaker: state });
  }
}
