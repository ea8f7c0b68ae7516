// Who may do what on the local Kafka broker: SASL/SCRAM-SHA-512 principals, their passwords (files
// under the stack's cache directory, generated once, mode 0600) and their ACLs (StandardAuthorizer,
// nothing allowed unless granted). docs/security.md explains the model; this file is its table.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import type { Admin, Kafka, KafkaConfig } from 'kafkajs';
import { paths } from './config.ts';

/** The broker's own principal (inter-broker traffic, the stack's topic and ACL set-up): a super user. */
export const ADMIN = 'admin';

type Operation = 'READ' | 'WRITE';
interface Grant {
  /** Topics, exactly as named; a name ending in `*` is a prefix. */
  topics: Record<string, Operation[]>;
}

// kafkajs is CommonJS and Node cannot see these enums as named ESM exports.
const { AclOperationTypes, AclPermissionTypes, AclResourceTypes, ResourcePatternTypes } = kafkajs;
type AclResourceType = (typeof AclResourceTypes)[keyof typeof AclResourceTypes];
type AclOperationType = (typeof AclOperationTypes)[keyof typeof AclOperationTypes];

const dlq = (topic: string) => `${topic}.dlq.v1`;

/** What a sync service does on Kafka: read its commune topic and the ops commands, publish results. */
function syncService(eventsTopic: string, extraWrites: string[] = []): Grant {
  return {
    topics: {
      // READ its events; WRITE only to send a replayed dead letter back (ops `replay-dead-letters`).
      [eventsTopic]: ['READ', 'WRITE'],
      [dlq(eventsTopic)]: ['READ', 'WRITE'],
      'ops.commands.v1': ['READ'],
      [dlq('ops.commands.v1')]: ['WRITE'],
      'ops.command-results.v1': ['WRITE'],
      'sync.status.v1': ['WRITE'],
      'sync.status.v2': ['WRITE'],
      'sync.health.v2': ['WRITE'],
      'sync.reconcile.v1': ['WRITE'],
      'sync.exchanges.v1': ['WRITE'],
      ...Object.fromEntries(extraWrites.map((t) => [t, ['WRITE'] as Operation[]])),
    },
  };
}

const MONITORED = [
  'sync.status.v2',
  'sync.health.v2',
  'sync.reconcile.v1',
  'sync.exchanges.v1',
  'sync.indicators.v1',
  'ops.command-results.v1',
];

/**
 * One principal per service. Commune events (`commune.*.events.v1`) may be written only by the
 * trusted writers that stamp the authenticated commune on each record (`lienthong-authority`
 * header, docs/security.md): ingest-gateway, and commune-sim, the simulator of commune systems.
 */
export const PRINCIPALS: Record<string, Grant> = {
  'dossier-sync': syncService('commune.dossier.events.v1', ['sync.indicators.v1']),
  'civil-status-sync': syncService('commune.civil-status.events.v1'),
  'land-sync': syncService('commune.land.events.v1'),
  'sync-monitor': {
    topics: {
      ...Object.fromEntries(MONITORED.map((t) => [t, ['READ'] as Operation[]])),
      ...Object.fromEntries(MONITORED.map((t) => [dlq(t), ['READ', 'WRITE'] as Operation[]])),
      ...Object.fromEntries(
        ['commune.dossier.events.v1', 'commune.civil-status.events.v1', 'commune.land.events.v1']
          .map(dlq)
          .map((t) => [t, ['READ'] as Operation[]]),
      ),
      'ops.commands.v1': ['WRITE'],
      [dlq('ops.commands.v1')]: ['READ'],
    },
  },
  'commune-sim': {
    topics: {
      'commune.dossier.events.v1': ['WRITE'],
      'commune.civil-status.events.v1': ['WRITE'],
      'commune.land.events.v1': ['WRITE'],
    },
  },
  'ingest-gateway': {
    topics: {
      'commune.dossier.events.v1': ['WRITE'],
      'commune.civil-status.events.v1': ['WRITE'],
      'commune.land.events.v1': ['WRITE'],
      // Each commune reads its own entities' statuses back through the gateway's API.
      'sync.status.v2': ['READ'],
      [dlq('sync.status.v2')]: ['WRITE'],
    },
  },
  // The tests' own client (libs/testing): it creates a copy of the topics per test world, under
  // `test.`, and benchmarks under `bench.`. It has no right on the product's topics.
  test: { topics: { 'test.*': ['READ', 'WRITE'], 'bench.*': ['READ', 'WRITE'] } },
};

/**
 * Local stack only: tests run the real services against per-world copies of the topics
 * (`test.<file>.<world>.<topic>`, groups likewise), so every service principal may also use the
 * `test.` and `bench.` prefixes. A deployment's ACLs (docs/security.md) have no such grant.
 */
const TEST_PREFIXES = ['test', 'bench'];

export const secretsDir = join(paths.kafkaHome, 'secrets');

export function passwordFile(principal: string): string {
  return join(secretsDir, `${principal}.password`);
}

/** A secret of the local stack, generated on first use (32 random bytes) in a 0600 file. */
export function ensureSecret(name: string): string {
  mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
  chmodSync(secretsDir, 0o700);
  const file = join(secretsDir, name);
  if (!existsSync(file))
    writeFileSync(file, randomBytes(32).toString('base64url'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

/** Every principal's password (`<principal>.password`, see ensureSecret). */
export function ensureSecrets(): Record<string, string> {
  return Object.fromEntries(
    [ADMIN, ...Object.keys(PRINCIPALS)].map((p) => [p, ensureSecret(`${p}.password`)]),
  );
}

export function adminSasl(): { mechanism: 'scram-sha-512'; username: string; password: string } {
  return {
    mechanism: 'scram-sha-512',
    username: ADMIN,
    password: readFileSync(passwordFile(ADMIN), 'utf8').trim(),
  };
}

/**
 * The stack's own client (topics, ACLs, readiness), as the admin principal once its password
 * exists (before the first start there is none, and nothing answers anyway).
 */
export function stackKafka(brokers: string, extra: Partial<KafkaConfig> = {}): Kafka {
  return new kafkajs.Kafka({
    clientId: 'lienthong-stack',
    brokers: [brokers],
    sasl: existsSync(passwordFile(ADMIN)) ? adminSasl() : undefined,
    logLevel: kafkajs.logLevel.NOTHING,
    ...extra,
  });
}

/** The SCRAM credentials `kafka-storage format --add-scram` writes into a new cluster's metadata. */
export function scramFormatArgs(): string[] {
  const secrets = ensureSecrets();
  return Object.entries(secrets).flatMap(([name, password]) => [
    '--add-scram',
    `SCRAM-SHA-512=[name=${name},password=${password}]`,
  ]);
}

function aclRows(principal: string, grant: Grant) {
  const user = `User:${principal}`;
  const rows: Parameters<Admin['createAcls']>[0]['acl'] = [];
  const add = (
    resourceType: AclResourceType,
    name: string,
    operation: AclOperationType,
    prefixed: boolean,
  ) =>
    rows.push({
      resourceType,
      resourceName: name,
      resourcePatternType: prefixed ? ResourcePatternTypes.PREFIXED : ResourcePatternTypes.LITERAL,
      principal: user,
      host: '*',
      operation,
      permissionType: AclPermissionTypes.ALLOW,
    });
  const op = (o: Operation) => (o === 'READ' ? AclOperationTypes.READ : AclOperationTypes.WRITE);
  for (const [topic, operations] of Object.entries(grant.topics)) {
    const prefixed = topic.endsWith('*');
    const name = prefixed ? topic.slice(0, -1) : topic;
    for (const o of operations) add(AclResourceTypes.TOPIC, name, op(o), prefixed);
    add(AclResourceTypes.TOPIC, name, AclOperationTypes.DESCRIBE, prefixed);
  }
  // Its own consumer groups: `lienthong-<principal>` and what it derives (`….ops`, `….status`).
  add(AclResourceTypes.GROUP, `lienthong-${principal}`, AclOperationTypes.READ, true);
  // …and removing the short-lived ones it makes (a dead-letter replay's group).
  add(AclResourceTypes.GROUP, `lienthong-${principal}`, AclOperationTypes.DELETE, true);
  for (const prefix of TEST_PREFIXES) {
    add(AclResourceTypes.TOPIC, prefix, AclOperationTypes.READ, true);
    add(AclResourceTypes.TOPIC, prefix, AclOperationTypes.WRITE, true);
    add(AclResourceTypes.TOPIC, prefix, AclOperationTypes.DESCRIBE, true);
    add(AclResourceTypes.GROUP, prefix, AclOperationTypes.READ, true);
    add(AclResourceTypes.GROUP, prefix, AclOperationTypes.DELETE, true);
    if (principal === 'test') {
      // Creating and deleting the per-world topics, reading their configuration.
      add(AclResourceTypes.TOPIC, prefix, AclOperationTypes.CREATE, true);
      add(AclResourceTypes.TOPIC, prefix, AclOperationTypes.DELETE, true);
      add(AclResourceTypes.TOPIC, prefix, AclOperationTypes.DESCRIBE_CONFIGS, true);
      add(AclResourceTypes.GROUP, prefix, AclOperationTypes.DESCRIBE, true);
    }
  }
  return rows;
}

/** Grants every principal its ACLs. Creating an ACL that exists is a no-op, so this runs on every start. */
export async function ensureAcls(admin: Admin): Promise<number> {
  const acl = Object.entries(PRINCIPALS).flatMap(([p, g]) => aclRows(p, g));
  await admin.createAcls({ acl });
  return acl.length;
}

/** server.properties lines: SASL/SCRAM for clients, SASL/PLAIN for the controller, ACLs enforced. */
export function securityProperties(host: string, port: number, controllerPort: number): string[] {
  const secrets = ensureSecrets();
  const admin = secrets[ADMIN];
  return [
    `listeners=SASL_PLAINTEXT://${host}:${port},CONTROLLER://${host}:${controllerPort}`,
    `advertised.listeners=SASL_PLAINTEXT://${host}:${port}`,
    'inter.broker.listener.name=SASL_PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT',
    // Clients and the broker itself: SCRAM (credentials live in the cluster metadata).
    'sasl.enabled.mechanisms=SCRAM-SHA-512',
    'sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512',
    `listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="${ADMIN}" password="${admin}";`,
    // The KRaft controller listener cannot use SCRAM (its credentials are in the metadata it
    // serves), so it takes PLAIN with the admin credentials from this file; never plaintext.
    'sasl.mechanism.controller.protocol=PLAIN',
    'listener.name.controller.sasl.enabled.mechanisms=PLAIN',
    `listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="${ADMIN}" password="${admin}" user_${ADMIN}="${admin}";`,
    'authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer',
    `super.users=User:${ADMIN}`,
    'allow.everyone.if.no.acl.found=false',
  ];
}
