import { Controller, Get, Header } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TypeOrmHealthIndicator,
} from '@nestjs/terminus';
import type { HealthCheckResult, HealthIndicatorResult } from '@nestjs/terminus';
import { Public } from '../auth/auth.guard';
import { ReadModelConsumers } from '../read-model/read-model.consumers';
import { MonitorMetrics } from './monitor.metrics';

/** Liveness, readiness (PostgreSQL, the read model's consumers) and Prometheus metrics. */
@Public()
@Controller()
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly db: TypeOrmHealthIndicator,
    private readonly indicators: HealthIndicatorService,
    private readonly consumers: ReadModelConsumers,
    private readonly metricsOf: MonitorMetrics,
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
      () => this.readModel(),
    ]);
  }

  private readModel(): HealthIndicatorResult {
    const check = this.indicators.check('read-model');
    const problems = this.consumers.problems();
    return problems.length > 0 ? check.down({ problems }) : check.up();
  }

  @Get('metrics')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  metrics(): Promise<string> {
    return this.metricsOf.registry.metrics();
  }
}
