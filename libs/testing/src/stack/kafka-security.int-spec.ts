import { Kafka, logLevel } from 'kafkajs';
import { kafkaPrincipalSasl, testStack } from '../test-env';

/**
 * The local broker (deploy/local/kafka-security.ts) takes SASL/SCRAM-SHA-512 only and enforces
 * ACLs: who is not a principal gets nothing, and a principal gets only what it was granted.
 * A broker without authentication (testcontainers) has nothing of this to check.
 */
const stack = testStack();
const local = stack.kafkaSecretsDir ? describe : describe.skip;

function client(sasl?: Parameters<typeof kafkaPrincipalSasl>[0] | { password: string }) {
  return new Kafka({
    clientId: 'security-probe',
    brokers: stack.kafkaBrokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 3000,
    retry: { retries: 0 },
    sasl:
      sasl === undefined
        ? undefined
        : typeof sasl === 'string'
          ? kafkaPrincipalSasl(sasl)
          : { mechanism: 'scram-sha-512', username: 'test', password: sasl.password },
  });
}

async function produce(kafka: Kafka, topic: string): Promise<void> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({ topic, messages: [{ key: 'probe', value: '{}' }] });
  } finally {
    await producer.disconnect();
  }
}

local(`the local Kafka broker at ${stack.kafkaBrokers.join(',')}: SASL/SCRAM and ACLs`, () => {
  it('refuses a client without credentials, and one with a wrong password', async () => {
    const anonymous = client().admin();
    await expect(anonymous.connect().then(() => anonymous.listTopics())).rejects.toThrow();
    await anonymous.disconnect();
    const forged = client({ password: 'not-the-password' }).admin();
    await expect(forged.connect()).rejects.toThrow(/SASL SCRAM SHA512 authentication failed/);
  });

  it('lets a principal write only where it was granted: no test client and no sync service publishes commune events', async () => {
    for (const principal of ['test', 'sync-monitor', 'dossier-sync']) {
      await expect(produce(client(principal), 'commune.land.events.v1')).rejects.toThrow(
        /Not authorized to access topics/,
      );
    }
    // Only sync-monitor sends operators' commands.
    await expect(produce(client('dossier-sync'), 'ops.commands.v1')).rejects.toThrow(
      /Not authorized to access topics/,
    );
  });
});
