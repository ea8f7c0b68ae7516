import { loadConfig } from './load-config';

/**
 * One environment variable, declared once: its JSON Schema gives both the validation at boot and
 * (through ConfigOf) the TypeScript type. Flat on purpose: environment variables are strings that
 * become integers, numbers or strings (one of a list when `enum` is given). This mapping is six
 * lines, which is why it is written here rather than pulled in as a type-level schema library.
 */
export interface EnvVar {
  type: 'integer' | 'number' | 'string';
  description?: string;
  enum?: readonly string[];
  default?: string | number;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
}

type ValueOf<V extends EnvVar> = V extends { enum: readonly (infer E)[] }
  ? E
  : V extends { type: 'integer' | 'number' }
    ? number
    : string;

/** The configuration a set of variables declares: every variable is present after loading. */
export type ConfigOf<Vars extends Record<string, EnvVar>> = {
  readonly [K in keyof Vars]: ValueOf<Vars[K]>;
};

/**
 * Reads every declared variable from `env`, coerced and defaulted; a variable without a default
 * is required. Every violation is reported at once, naming the variable and the rule.
 */
export function loadEnvConfig<Vars extends Record<string, EnvVar>>(
  service: string,
  vars: Vars,
  env: NodeJS.ProcessEnv = process.env,
): ConfigOf<Vars> {
  const properties = Object.fromEntries(
    Object.entries(vars).map(([name, { description: _d, ...rule }]) => [name, { ...rule }]),
  );
  const schema = {
    type: 'object',
    properties,
    required: Object.keys(vars),
    additionalProperties: false,
  };
  // The schema is built from the declaration, so the generic JSONSchemaType check adds nothing.
  return loadConfig(service, schema as never, env) as ConfigOf<Vars>;
}
