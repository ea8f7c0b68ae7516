import { randomBytes } from 'node:crypto';
import { ServiceProcess } from './service-process';
import type { TestContext } from './test-context';

/**
 * The bearer token of the simulators' admin endpoints in this test process (portal-sim's /admin,
 * commune-sim's PUT /traffic): random per run, handed to each simulator in its environment.
 */
export const SIMULATOR_ADMIN_TOKEN = randomBytes(24).toString('hex');

/** portal-sim (its built output) as a real process, its state in `<file schema>_sim` (dropped after the file). */
export async function startPortalSim(
  ctx: TestContext,
  env: Record<string, string> = {},
): Promise<ServiceProcess> {
  const sim = new ServiceProcess({
    entry: 'services/portal-sim/dist/main.js',
    env: {
      DATABASE_URL: ctx.stack.databaseUrl,
      PORTAL_SIM_SCHEMA: `${ctx.schema}_sim`,
      PORTAL_SIM_ADMIN_TOKEN: SIMULATOR_ADMIN_TOKEN,
      ...env,
    },
  });
  ctx.onCleanup(() => sim.stop());
  await sim.start();
  return sim;
}

/** Calls portal-sim's admin API (faults, effects, resets); a non-2xx answer throws with its body. */
export async function portalAdmin(
  sim: ServiceProcess,
  method: 'GET' | 'PUT' | 'POST',
  path: string,
  body?: unknown,
): Promise<unknown> {
  const res = await fetch(await sim.url(`/admin${path}`), {
    method,
    headers: {
      'content-type': 'application/json',
      authorization: `Bearer ${SIMULATOR_ADMIN_TOKEN}`,
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  if (!res.ok) throw new Error(`admin ${method} ${path}: ${res.status} ${await res.text()}`);
  return res.json();
}
