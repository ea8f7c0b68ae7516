import { Kafka, logLevel } from 'kafkajs';

/** The two levels of a pino-like logger kafkajs's warnings and errors go to. */
export interface KafkaLogSink {
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/**
 * A service's Kafka client: kafkajs's own logging (warnings and errors only) goes into the
 * service's JSON log instead of kafkajs's console format.
 */
export function createKafka(options: {
  clientId: string;
  /** Comma-separated host:port list, as the services' KAFKA_BROKERS. */
  brokers: string;
  logger: KafkaLogSink;
}): Kafka {
  const { logger } = options;
  return new Kafka({
    clientId: options.clientId,
    brokers: options.brokers.split(','),
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
