import { ServiceProcess } from './service-process';
import type { SyncWorld } from './sync-world';
import type { TestContext } from './test-context';

/**
 * ingest-gateway as a real process in a world: its own schema, the world's status topic, tokens
 * checked against the world's portal-sim (which plays the identity provider); `env` adds the
 * topic it writes and anything else. Its logs are watched with the world's.
 */
export async function startIngestGateway(
  ctx: TestContext,
  world: SyncWorld,
  name: string,
  env: Record<string, string>,
): Promise<ServiceProcess> {
  const gateway = new ServiceProcess({
    entry: 'services/ingest-gateway/dist/main.js',
    env: {
      DATABASE_URL: ctx.stack.databaseUrl,
      KAFKA_BROKERS: ctx.stack.kafkaBrokers.join(','),
      DB_SCHEMA: `${ctx.schema}_${name}`,
      SYNC_STATUS_V2_TOPIC: world.statusV2Topic,
      OAUTH_ISSUER: 'lienthong-idp-sim',
      OAUTH_JWKS_URL: await world.sim.url('/idp/jwks.json'),
      LOG_LEVEL: 'info',
      ...env,
    },
  });
  await gateway.start();
  world.watchLogs(name, gateway);
  ctx.onCleanup(() => gateway.stop());
  return gateway;
}

/**
 * An access token of portal-sim's identity provider for a demo client (`commune-<code>`,
 * `province-<code>`, secret `<client>-demo`). Neither the token nor the secret may show up in a
 * log or a DLQ header: the world watches both.
 */
export async function idpToken(world: SyncWorld, client: string): Promise<string> {
  const res = await fetch(await world.sim.url('/idp/token'), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'client_credentials',
      client_id: client,
      client_secret: `${client}-demo`,
    }),
  });
  if (res.status !== 200) throw new Error(`the identity provider refused ${client}: ${res.status}`);
  const bearer = ((await res.json()) as { access_token: string }).access_token;
  world.watchSecret(bearer, `${client}'s access token`);
  world.watchSecret(`${client}-demo`, `${client}'s client secret`);
  return bearer;
}
