import Ajv from 'ajv';
import type { JSONSchemaType } from 'ajv';
import addFormats from 'ajv-formats';

/** A configuration problem found at boot: names every bad variable and the rule it breaks. */
export class ConfigError extends Error {
  constructor(
    readonly service: string,
    readonly problems: string[],
  ) {
    super(`${service}: invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const ajv = new Ajv({
  allErrors: true,
  coerceTypes: true,
  useDefaults: true,
  removeAdditional: true,
});
addFormats(ajv);

/**
 * Reads a service's configuration from environment variables and validates it against a JSON
 * Schema whose property names are the variable names. Types are coerced (PORT=8080 → 8080),
 * defaults applied, and every violation reported at once, naming the variable: a service fails
 * fast at boot instead of misbehaving later.
 */
export function loadConfig<T extends object>(
  service: string,
  schema: JSONSchemaType<T>,
  env: NodeJS.ProcessEnv = process.env,
): Readonly<T> {
  const validate = ajv.compile(schema);
  const candidate: Record<string, unknown> = {};
  for (const key of Object.keys(schema.properties as object)) {
    const value = env[key];
    if (value !== undefined && value !== '') candidate[key] = value;
  }
  if (!validate(candidate)) {
    const problems = (validate.errors ?? []).map((e) => {
      const variable =
        e.keyword === 'required'
          ? String((e.params as { missingProperty: string }).missingProperty)
          : e.instancePath.replace(/^\//, '');
      return `${variable}: ${e.message ?? e.keyword}${e.keyword === 'enum' ? ` (${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')})` : ''}`;
    });
    throw new ConfigError(service, problems);
  }
  return Object.freeze(candidate as T);
}
