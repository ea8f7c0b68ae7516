import { readFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import type { SASLOptions } from 'kafkajs';

/** The two levels of a pino-like logger kafkajs's warnings and errors go to. */
export interface KafkaLogSink {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/**
 * The SASL/SCRAM-SHA-512 credentials of this process's Kafka principal, from the environment:
 * `KAFKA_SASL_USERNAME` and the password in the file `KAFKA_SASL_PASSWORD_FILE` (a mounted secret;
 * or, less safely, `KAFKA_SASL_PASSWORD`). Without a username, no SASL (a broker without
 * authentication, e.g. a test container). The password is never logged.
 */
export function kafkaSaslFromEnv(env: NodeJS.ProcessEnv = process.env): SASLOptions | undefined {
  const username = env.KAFKA_SASL_USERNAME;
  if (!username) return undefined;
  let password = env.KAFKA_SASL_PASSWORD;
  const file = env.KAFKA_SASL_PASSWORD_FILE;
  if (file) {
    try {
      password = readFileSync(file, 'utf8').trim();
    } catch (err) {
      throw new Error(
        `KAFKA_SASL_PASSWORD_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
  }
  if (!password) {
    throw new Error(
      'KAFKA_SASL_USERNAME is set but neither KAFKA_SASL_PASSWORD_FILE nor KAFKA_SASL_PASSWORD gives a password',
    );
  }
  return { mechanism: 'scram-sha-512', username, password };
}

/**
 * A service's Kafka client, authenticated as the principal `kafkaSaslFromEnv` names: kafkajs's own logging (warnings and errors only) goes into the
 * service's JSON log instead of kafkajs's console format.
 */
export function createKafka(options: {
  clientId: string;
  /** Comma-separated host:port list, as the services' KAFKA_BROKERS. */
  brokers: string;
  logger: KafkaLogSink;
  /** Defaults to the environment's (kafkaSaslFromEnv). */
  sasl?: SASLOptions;
}): Kafka {
  const { logger } = options;
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers.split(','),
    sasl: options.sasl ?? kafkaSaslFromEnv(),
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }) => {
        const { message, ...rest } = log;
        if (level <= logLevel.ERROR) logger.error({ kafkajs: rest }, message);
        else logger.warn({ kafkajs: rest }, message);
      },
  });
}
