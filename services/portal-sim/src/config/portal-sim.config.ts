import type { JSONSchemaType } from 'ajv';
import { loadConfig } from '@lienthong/config';

export interface PortalSimConfig {
  PORT: number;
  HOST: string;
  DATABASE_URL: string;
  /** The schema portal-sim owns; its state survives restarts there. */
  PORTAL_SIM_SCHEMA: string;
}

const schema: JSONSchemaType<PortalSimConfig> = {
  type: 'object',
  properties: {
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 8090 },
    HOST: { type: 'string', default: '127.0.0.1' },
    DATABASE_URL: { type: 'string', pattern: '^postgres(ql)?://' },
    PORTAL_SIM_SCHEMA: {
      type: 'string',
      pattern: '^[a-z_][a-z0-9_]{0,62}$',
      default: 'portal_sim',
    },
  },
  required: ['PORT', 'HOST', 'DATABASE_URL', 'PORTAL_SIM_SCHEMA'],
  additionalProperties: false,
};

export function loadPortalSimConfig(env: NodeJS.ProcessEnv = process.env): PortalSimConfig {
  return loadConfig('portal-sim', schema, env);
}
