export { ConsumerOffset1763800000200, ConsumerOffsetStore } from './consumer-offset.store';
export { DeadLetterOriginal1763800000600, DeadLetterWriter } from './dead-letter-writer';
export type { DeadLetter, DeadLetterWriterOptions } from './dead-letter-writer';
export type { SqlExecutor } from './consumer-offset.store';
export { EventProducer } from './event-producer';
export { KeyHashPartitioner, murmur2 } from './partitioner';
export { replayDeadLetters } from './dead-letter-replay';
export type { ReplaySelection } from './dead-letter-replay';
export { createKafka, kafkaSaslFromEnv } from './kafka-client';
export type { KafkaLogSink } from './kafka-client';
export { TransactionalConsumer, describe as describeError } from './transactional-consumer';
export type {
  ConsumedEvent,
  ConsumedRecord,
  ConsumerHealth,
  ConsumerLogger,
  ConsumerStats,
  HandlerRejection,
  HandlerTools,
  OffsetNotice,
  TransactionalConsumerOptions,
} from './transactional-consumer';
export {
  TransactionalBatchContext,
  TransactionalKafkaServer,
} from './nest/transactional-kafka.server';
export type { TransactionalKafkaOptions } from './nest/transactional-kafka.server';
export { rewindConsumer } from './rewind';
export type { RewindRequest } from './rewind';
