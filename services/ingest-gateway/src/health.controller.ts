import { Controller, Get } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import type { HealthCheckResult, HealthIndicatorResult } from '@nestjs/terminus';
import { Statuses } from './ingest/statuses';

/** Liveness and readiness (PostgreSQL, where the receipts are; the statuses' consumer). */
@ApiExcludeController()
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly statuses: Statuses,
  ) {}

  @Get('health/live')
  @HealthCheck()
  live(): Promise<HealthCheckResult> {
    return this.health.check([]);
  }

  @Get(['health', 'health/ready'])
  @HealthCheck()
  ready(): Promise<HealthCheckResult> {
    return this.health.check([
      () => this.db.pingCheck('postgres', { timeout: 2000 }),
      () => this.statusesConsumer(),
    ]);
  }

  private statusesConsumer(): HealthIndicatorResult {
    const check = this.indicators.check('statuses');
    const health = this.statuses.health();
    const failing = health?.deadLetterFailing ?? health?.databaseFailing;
    return failing ? check.down({ failing }) : check.up();
  }
}
