export { ConsumerOffset1763800000200, ConsumerOffsetStore } from './consumer-offset.store';
export type { SqlExecutor } from './consumer-offset.store';
export { EventProducer } from './event-producer';
export { createKafka } from './kafka-client';
export type { KafkaLogSink } from './kafka-client';
export { TransactionalConsumer } from './transactional-consumer';
export type {
  ConsumedEvent,
  ConsumerStats,
  TransactionalConsumerOptions,
} from './transactional-consumer';
export {
  TransactionalBatchContext,
  TransactionalKafkaServer,
} from './nest/transactional-kafka.server';
export type { TransactionalKafkaOptions } from './nest/transactional-kafka.server';
