import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import {
  FIXTURE_COMMUNES,
  Rng,
  dossierLifecycle,
  expectEventually,
  lifecycleRecords,
  useTestContext,
} from '@lienthong/testing';
import { monitoredWorld } from './monitor-harness';

const root = resolve(__dirname, '..', '..');

describe('the lienthong CLI against the ops API, real processes', () => {
  const ctx = useTestContext('monitor_cli');

  it('signs in, shows the communes, runs a reconciliation to its end with progress, lists dead letters; a viewer is refused', async () => {
    const { world, monitor } = await monitoredWorld(ctx, 'cli');
    const url = await monitor.process.url();
    const config = mkdtempSync(join(tmpdir(), 'lienthong-cli-'));
    const cli = (args: string[], env: Record<string, string> = {}) =>
      new Promise<{ code: number; out: string; err: string }>((done) => {
        execFile(
          process.execPath,
          [join(root, 'services/sync-monitor/cli/lienthong.ts'), ...args],
          { env: { ...process.env, LIENTHONG_URL: url, XDG_CONFIG_HOME: config, ...env } },
          (error, stdout, stderr) =>
            done({ code: error ? Number(error.code ?? 1) : 0, out: stdout, err: stderr }),
        );
      });

    const hue = FIXTURE_COMMUNES.filter((c) => c.provinceCode === '46');
    const rng = new Rng(99);
    const lives = hue.flatMap((commune, i) =>
      Array.from({ length: 3 }, (_, j) =>
        dossierLifecycle(rng, { commune, number: i * 10 + j + 1, endAt: 4 }),
      ),
    );
    await world.produce(lives.flatMap((l) => lifecycleRecords(l)));
    await world.waitForLedger({ SYNCED: lives.length }, 120_000);

    const anonymous = await cli(['status']);
    expect(anonymous.code).toBe(2);
    expect(anonymous.err).toContain('not signed in');
    const wrong = await cli(['login', '--user', 'hue'], { LIENTHONG_PASSWORD: 'nope' });
    expect(wrong.code).toBe(2);
    expect(wrong.err).toContain('401');
    const login = await cli(['login', '--user', 'hue'], { LIENTHONG_PASSWORD: 'hue-demo' });
    expect(login.out).toContain('signed in as hue');

    // Once the monitor has seen them: every Huế commune with its dossiers synced.
    await expectEventually(async () => {
      const status = await cli(['status', '--domain', 'dossier']);
      // commune, domain, entities 3, synced 3, backlog 0
      for (const c of hue)
        expect(status.out).toMatch(new RegExp(`${c.code}\\s+dossier\\s+3\\s+3\\s+0`));
    });

    const commune = (hue[0] as { code: string }).code;
    const run = await cli([
      'reconcile',
      '--domain',
      'dossier',
      '--communes',
      commune,
      '--reason',
      'Đối soát từ dòng lệnh',
    ]);
    expect(run.code).toBe(0);
    expect(run.out).toContain('dossier-sync: accepted');
    expect(run.out).toMatch(/finished: 3 of 3 checked, 0 missing, 0 drifted, 0 repaired/);

    const list = await cli(['dlq', 'list']);
    expect(list.code).toBe(0);
    expect(list.out).toContain('signature');

    // A viewer signs in and sees, but cannot act: the refusal says why.
    await cli(['login', '--user', 'hue-xem'], { LIENTHONG_PASSWORD: 'hue-xem-demo' });
    const refused = await cli([
      'reconcile',
      '--domain',
      'dossier',
      '--communes',
      commune,
      '--reason',
      'Đối soát từ dòng lệnh',
    ]);
    expect(refused.code).toBe(2);
    expect(refused.err).toContain('403');
    expect(refused.err).toContain('viewer cannot act');
  });
});
