import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { EVENT_TYPES } from '@lienthong/contracts';
import {
  FIXTURE_COMMUNES,
  Rng,
  dossierLifecycle,
  expectEventually,
  lifecycleRecords,
  openBrowser,
  portalAdmin,
  toRecord,
  useTestContext,
} from '@lienthong/testing';
import type { Commune } from '@lienthong/admin-units';
import type { Page } from 'playwright-core';
import { runningMonth } from '@lienthong/sync-engine';
import { monitoredWorld } from './monitor-harness';

/**
 * Screenshots of the main pages: into docs/screenshots with UPDATE_SCREENSHOTS=1 (they are shown
 * in the README), into a temporary directory otherwise (a test run leaves the clone unchanged).
 */
const SHOTS = process.env.UPDATE_SCREENSHOTS
  ? resolve(__dirname, '..', '..', 'docs', 'screenshots')
  : mkdtempSync(join(tmpdir(), 'lienthong-shots-'));

const [PHU_XUAN, KIM_LONG] = FIXTURE_COMMUNES.filter((c) => c.provinceCode === '46') as [
  Commune,
  Commune,
];
const SAI_GON = FIXTURE_COMMUNES.find((c) => c.provinceCode === '79') as Commune;

/** The dossier row of a commune in the live matrix: its synced and backlog figures. */
async function row(page: Page, commune: string): Promise<{ synced: number; backlog: number }> {
  const tr = page.locator(`tr[data-commune="${commune}"][data-domain="dossier"]`);
  return {
    synced: Number(await tr.getAttribute('data-synced', { timeout: 1000 })),
    backlog: Number(await tr.getAttribute('data-backlog', { timeout: 1000 })),
  };
}

/** Waits until the page (refreshing itself) passes `check`. */
const until = (check: () => Promise<void>, timeoutMs: number) =>
  expectEventually(check, { timeoutMs, intervalMs: 250 });

describe('the dashboard in a real browser (headless Chromium)', () => {
  const ctx = useTestContext('dashboard');

  it('a Huế operator signs in, watches a backlog rise in a DVCQG outage and drain after it, opens a dossier’s timeline, sees a dead letter’s cause, replays a group once its cause is fixed, and is refused a reconciliation outside Huế', async () => {
    const { world, monitor } = await monitoredWorld(ctx, 'dash');
    const browser = await openBrowser(ctx);
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const base = await monitor.process.url();

    // Signed out, the dashboard sends the browser to the sign-in page.
    await page.goto(`${base}/`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.fill('input[name=username]', 'hue');
    await page.fill('input[name=password]', 'wrong');
    await page.click('button[type=submit]');
    await page.locator('.error').waitFor();
    expect(await page.locator('.error').textContent()).toContain('wrong password');
    await page.fill('input[name=username]', 'hue');
    await page.fill('input[name=password]', 'hue-demo');
    await page.click('button[type=submit]');
    await page.locator('#communes').waitFor();
    expect(await page.locator('header .who').textContent()).toContain('hue');

    // Dossiers of two Huế communes and one of Hồ Chí Minh City, synced.
    const rng = new Rng(311);
    let n = 0;
    const lives = (commune: Commune, count: number) =>
      Array.from({ length: count }, () =>
        dossierLifecycle(rng, { commune, number: (n += 1), endAt: 4 }),
      );
    const first = [...lives(PHU_XUAN, 5), ...lives(KIM_LONG, 3), ...lives(SAI_GON, 4)];
    await world.produce(first.flatMap((l) => lifecycleRecords(l)));
    // The page refreshes itself (htmx): no reload.
    await until(
      async () => expect(await row(page, PHU_XUAN.code)).toEqual({ synced: 5, backlog: 0 }),
      60_000,
    );
    expect(await row(page, KIM_LONG.code)).toEqual({ synced: 3, backlog: 0 });
    // Hồ Chí Minh City is not Huế's to see.
    expect(await page.locator(`tr[data-commune="${SAI_GON.code}"]`).count()).toBe(0);

    // DVCQG goes down: Phú Xuân's backlog rises on the page, then drains when it is back.
    await portalAdmin(world.sim, 'PUT', '/faults/dvcqg', { down: true });
    await world.produce(lives(PHU_XUAN, 4).flatMap((l) => lifecycleRecords(l)));
    await until(
      async () => expect((await row(page, PHU_XUAN.code)).backlog).toBeGreaterThanOrEqual(4),
      60_000,
    );
    expect(
      await page.locator(`tr[data-commune="${PHU_XUAN.code}"] .backlog-age`).textContent(),
    ).toMatch(/\d+ (s|min)/);
    await page.screenshot({ path: join(SHOTS, 'overview-outage.png'), fullPage: true });
    await portalAdmin(world.sim, 'PUT', '/faults/dvcqg', {});
    await until(
      async () => expect(await row(page, PHU_XUAN.code)).toEqual({ synced: 9, backlog: 0 }),
      90_000,
    );
    await page.screenshot({ path: join(SHOTS, 'overview.png'), fullPage: true });

    // The portals over time: the outage's failures in the last hour, charts drawn by uPlot.
    await page.goto(`${base}/portals`);
    const dvcqg = page.locator('#portal-summary tr[data-target="dvcqg"]');
    expect(Number(await dvcqg.locator('td:nth-child(2)').textContent())).toBeGreaterThan(0);
    expect(await dvcqg.locator('td:nth-child(3)').textContent()).not.toMatch(/^0 /);
    await page.locator('#portal-charts .uplot canvas').first().waitFor();
    expect(await page.locator('#portal-charts .uplot').count()).toBe(2);
    await page.screenshot({ path: join(SHOTS, 'portals.png'), fullPage: true });
    await page.goto(`${base}/`);

    // "What happened to dossier X?": one page.
    const dossier = first[0] as (typeof first)[number];
    await page.selectOption('form[action="/entities"] select[name=domain]', 'dossier');
    await page.fill('form[action="/entities"] input[name=key]', dossier.code);
    await page.click('form[action="/entities"] button');
    await page.locator('#timeline').waitFor();
    expect(await page.locator('#entity-state').textContent()).toBe('SYNCED');
    const states = await page.locator('#timeline tr td:nth-child(2)').allTextContents();
    // Events of one batch: the older ones superseded by the latest, which was accepted and synced.
    expect(states).toContain('ACCEPTED');
    expect(states.at(-1)).toBe('SYNCED');
    await page.screenshot({ path: join(SHOTS, 'timeline.png'), fullPage: true });

    // A broken event from Kim Long: its cause, named, on the dead-letter page.
    const broken = dossierLifecycle(rng, { commune: KIM_LONG, number: (n += 1), endAt: 2 });
    await world.produce([
      toRecord({
        name: '',
        type: EVENT_TYPES.DossierUpserted,
        topic: '',
        data: { ...broken.final, NgayNopHoSo: 'hôm qua' },
        communeCode: KIM_LONG.code,
        sequence: 1,
      }),
    ]);
    await page.goto(`${base}/dead-letters`);
    await expectEventually(async () => {
      await page.reload();
      expect(
        await page.locator('#dead-letter-groups tr td:nth-child(3)').allTextContents(),
      ).toEqual(['NgayNopHoSo']);
    });

    // A defect in handling — simulated: the ledger refuses two Kim Long dossiers, as a faulty
    // release would — sends their events to the DLQ. The fix deployed (the refusal removed), the
    // operator replays the group from the page, and both dossiers sync.
    const victims = lives(KIM_LONG, 2);
    const keys = victims.map((v) => `'${v.code.replace(/'/g, "''")}'`).join(', ');
    const schema = world.syncSchema;
    await ctx.sql.query(
      `create function "${schema}".simulated_defect() returns trigger language plpgsql as
       $$ begin raise exception 'simulated defect: this release cannot store the dossier'; end $$`,
    );
    for (const table of ['sync_entity', 'sync_entity_part'])
      await ctx.sql.query(
        `create trigger simulated_defect before insert or update on "${schema}".${table}
         for each row when (new.entity_key in (${keys}))
         execute function "${schema}".simulated_defect()`,
      );
    await world.produce(victims.flatMap((l) => lifecycleRecords(l)));
    const events = victims.reduce((k, l) => k + lifecycleRecords(l).length, 0);
    const defect = page.locator('#dead-letter-groups tr', { hasText: 'HANDLER_FAILED' });
    await expectEventually(
      async () => {
        await page.reload();
        expect(await defect.locator('td:nth-child(5)').textContent()).toBe(String(events));
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    await page.screenshot({ path: join(SHOTS, 'dead-letters.png'), fullPage: true });
    await ctx.sql.query(`drop function "${schema}".simulated_defect() cascade`);
    await defect.locator('input[name=reason]').fill('Bản sửa lỗi lưu hồ sơ đã triển khai');
    await defect.locator('button[value=replay]').click();
    expect(await page.locator('p.ok').textContent()).toContain(`${events} dead letters`);
    await expectEventually(
      async () => {
        await page.reload();
        expect(await defect.locator('td:nth-child(6)').textContent()).toBe(String(events));
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    await page.goto(`${base}/`);
    await until(
      async () => expect(await row(page, KIM_LONG.code)).toEqual({ synced: 5, backlog: 0 }),
      60_000,
    );

    // Reconciliation: refused outside Huế, with the reason on the page; inside, it runs.
    await page.goto(`${base}/runs`);
    const start = async (commune: string) => {
      await page.selectOption('#start-run select[name=domain]', 'dossier');
      await page.fill('#start-run input[name=communeCodes]', commune);
      await page.fill('#start-run input[name=reason]', 'Đối soát sau sự cố DVCQG');
      await page.click('#start-run button');
    };
    await start(SAI_GON.code);
    expect(await page.locator('p.error').textContent()).toContain(
      `${SAI_GON.code} outside your provinces`,
    );
    await start(PHU_XUAN.code);
    expect(await page.locator('p.ok').textContent()).toContain('Reconciliation requested');
    await until(
      async () =>
        expect(await page.locator('#runs tr td:nth-child(4)').first().textContent()).toBe(
          'finished',
        ),
      60_000,
    );
    expect(await page.locator('#runs tr td:nth-child(6)').first().textContent()).toBe('9 / 9');
    await page.screenshot({ path: join(SHOTS, 'runs.png'), fullPage: true });

    // Decision 766: dossiers Phú Xuân received and returned this month, with their rates and how
    // each is computed.
    const month = runningMonth(new Date());
    const returned = Array.from({ length: 4 }, () =>
      dossierLifecycle(rng, { commune: PHU_XUAN, number: (n += 1), submittedOn: month.from }),
    );
    await world.produce(returned.flatMap((l) => lifecycleRecords(l)));
    await page.goto(`${base}/indicators`);
    const indicators = page.locator(`#indicators tr[data-commune="${PHU_XUAN.code}"]`);
    await expectEventually(
      async () => {
        await page.reload();
        expect(await indicators.locator('td:nth-child(4)').textContent({ timeout: 1000 })).toBe(
          '4',
        );
        expect(await indicators.getAttribute('data-on-time')).not.toBe('');
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(await page.locator('#indicator-definitions').textContent()).toContain('NgayHenTra');
    await page.screenshot({ path: join(SHOTS, 'indicators.png'), fullPage: true });
  });
});
