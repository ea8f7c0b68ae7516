import { BadRequestException, Body, Controller, Get, HttpCode, Put } from '@nestjs/common';
import Ajv from 'ajv';
import type { JSONSchemaType } from 'ajv';
import type { ValidationIssue } from '@lienthong/contracts';
import { CommuneTrafficRunner } from './commune-traffic.runner';

interface RateChange {
  dossiersPerMinute?: number;
  civilStatusPerMinute?: number;
  landPerMinute?: number;
}

const rate = { type: 'number', minimum: 0, maximum: 60_000, nullable: true } as const;
const validateRate = new Ajv({ allErrors: true }).compile<RateChange>({
  type: 'object',
  properties: { dossiersPerMinute: rate, civilStatusPerMinute: rate, landPerMinute: rate },
  minProperties: 1,
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

  /**
   * `PUT /traffic {"dossiersPerMinute": 120, "civilStatusPerMinute": 20, "landPerMinute": 10}` (any
   * of them); 0 stops new entities of that domain (those under way play on).
   */
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
    this.runner.setRates({
      ...(body.dossiersPerMinute !== undefined ? { dossier: body.dossiersPerMinute } : {}),
      ...(body.civilStatusPerMinute !== undefined
        ? { 'civil-status': body.civilStatusPerMinute }
        : {}),
      ...(body.landPerMinute !== undefined ? { land: body.landPerMinute } : {}),
    });
    return this.runner.stats;
  }
}
