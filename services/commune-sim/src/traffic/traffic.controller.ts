import { BadRequestException, Body, Controller, Get, HttpCode, Put } from '@nestjs/common';
import Ajv from 'ajv';
import type { JSONSchemaType } from 'ajv';
import type { ValidationIssue } from '@lienthong/contracts';
import { CommuneTrafficRunner } from './commune-traffic.runner';

interface RateChange {
  dossiersPerMinute: number;
}

const validateRate = new Ajv({ allErrors: true }).compile<RateChange>({
  type: 'object',
  properties: { dossiersPerMinute: { type: 'number', minimum: 0, maximum: 60_000 } },
  required: ['dossiersPerMinute'],
  additionalProperties: false,
} satisfies JSONSchemaType<RateChange>);

/** The commune traffic, for people running the demo: what has been sent, and the rate to change. */
@Controller('traffic')
export class TrafficController {
  constructor(private readonly runner: CommuneTrafficRunner) {}

  @Get()
  status() {
    return this.runner.stats;
  }

  /** `PUT /traffic {"dossiersPerMinute": 120}`; 0 stops new dossiers (those under way play on). */
  @Put()
  @HttpCode(200)
  setRate(@Body() body: unknown) {
    if (!validateRate(body)) {
      const issues: ValidationIssue[] = (validateRate.errors ?? []).map((e) => {
        const field =
          e.keyword === 'required' || e.keyword === 'additionalProperties'
            ? String(
                (e.params as { missingProperty?: string; additionalProperty?: string })
                  .missingProperty ??
                  (e.params as { additionalProperty?: string }).additionalProperty,
              )
            : e.instancePath.slice(1) || '(body)';
        return { path: `/${field}`, field, rule: e.keyword, message: `${field}: ${e.message}` };
      });
      throw new BadRequestException({
        title: 'Invalid traffic setting',
        status: 400,
        detail: issues.map((i) => i.message).join('; '),
        issues,
      });
    }
    this.runner.setRate(body.dossiersPerMinute);
    return this.runner.stats;
  }
}
