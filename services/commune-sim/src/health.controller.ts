import { Controller, Get, ServiceUnavailableException } from '@nestjs/common';
import { CommuneTrafficRunner } from './traffic/commune-traffic.runner';

@Controller('health')
export class HealthController {
  constructor(private readonly runner: CommuneTrafficRunner) {}

  /** Up while the process runs. */
  @Get('live')
  live() {
    return { status: 'ok' };
  }

  /** Ready while Kafka takes the events (503 with the reason while sends fail; nothing is dropped). */
  @Get('ready')
  ready() {
    const { lastError, unpublished } = this.runner.stats;
    if (lastError)
      throw new ServiceUnavailableException({ status: 'error', lastError, unpublished });
    return { status: 'ok', unpublished };
  }
}
