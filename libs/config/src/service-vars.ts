import { hostname } from 'node:os';

/**
 * The variables every Lienthong service with a database and Kafka reads, declared once: where it
 * listens, how much it logs, its PostgreSQL and own schema, who it is, its brokers and its
 * consumer-group prefix (its Kafka principal may use only groups under `lienthong-<service>`).
 */
export function serviceVars(d: {
  service: string;
  port: number;
  /** What its database holds, for the description. */
  holds: string;
}) {
  return {
    PORT: {
      type: 'integer',
      minimum: 0,
      maximum: 65535,
      default: d.port,
      description: 'HTTP port',
    },
    HOST: { type: 'string', default: '127.0.0.1', description: 'HTTP bind address' },
    LOG_LEVEL: {
      type: 'string',
      enum: ['debug', 'info', 'warn', 'error'],
      default: 'info',
      description: 'pino level',
    },
    DATABASE_URL: {
      type: 'string',
      pattern: '^postgres(ql)?://',
      description: `PostgreSQL of ${d.holds}`,
    },
    DB_SCHEMA: {
      type: 'string',
      pattern: '^[a-z_][a-z0-9_]{0,62}$',
      default: d.service.replace(/-/g, '_'),
      description: "the service's own PostgreSQL schema (never another service's tables)",
    },
    INSTANCE_ID: {
      type: 'string',
      minLength: 1,
      default: `${hostname()}-${process.pid}`,
      description: 'unique per instance: consumer client id, health key',
    },
    KAFKA_BROKERS: {
      type: 'string',
      pattern: '^[^,:\\s]+:\\d+(,[^,:\\s]+:\\d+)*$',
      default: '127.0.0.1:9092',
      description: 'host:port,…',
    },
    KAFKA_GROUP_ID: {
      type: 'string',
      minLength: 1,
      default: `lienthong-${d.service}`,
      description: 'consumer group (and prefix of the groups it derives)',
    },
  } as const;
}
