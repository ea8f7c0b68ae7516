import type { JSONSchemaType } from 'ajv';
import { ConfigError, loadConfig } from './load-config';

interface SampleConfig {
  PORT: number;
  DATABASE_URL: string;
  LOG_LEVEL: 'debug' | 'info' | 'warn' | 'error';
}

const schema: JSONSchemaType<SampleConfig> = {
  type: 'object',
  properties: {
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 8080 },
    DATABASE_URL: { type: 'string', pattern: '^postgres(ql)?://' },
    LOG_LEVEL: { type: 'string', enum: ['debug', 'info', 'warn', 'error'], default: 'info' },
  },
  required: ['PORT', 'DATABASE_URL', 'LOG_LEVEL'],
  additionalProperties: false,
};

describe('loadConfig', () => {
  it('coerces types and applies defaults', () => {
    const config = loadConfig('svc', schema, {
      PORT: '9001',
      DATABASE_URL: 'postgres://h/db_test',
    });
    expect(config).toEqual({ PORT: 9001, DATABASE_URL: 'postgres://h/db_test', LOG_LEVEL: 'info' });
  });

  it('names every bad variable and its rule at once', () => {
    let error: unknown;
    try {
      loadConfig('svc', schema, { PORT: 'eighty', LOG_LEVEL: 'loud', UNRELATED: 'x' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        "DATABASE_URL: must have required property 'DATABASE_URL'",
        'PORT: must be integer',
        expect.stringMatching(
          /^LOG_LEVEL: must be equal to one of the allowed values \(debug, info, warn, error\)$/,
        ) as string,
      ]),
    );
    expect((error as Error).message).toContain('svc: invalid configuration');
  });
});
