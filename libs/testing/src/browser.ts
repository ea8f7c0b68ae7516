import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser } from 'playwright-core';
import type { TestContext } from './test-context';
import { workspaceRoot } from './service-process';

/**
 * A real headless Chromium for browser tests: Debian's `chromium` package, installed by the
 * project's own setup (`npm run setup:browser`, run here if it is missing) and driven by
 * playwright-core. The flags keep it off the network: this machine refuses everything but
 * loopback, and Chromium's background services would otherwise try (and log) at every start.
 */
export async function openBrowser(ctx: TestContext): Promise<Browser> {
  const executablePath = execFileSync(
    process.execPath,
    [resolve(workspaceRoot, 'deploy/local/browser.ts')],
    { cwd: workspaceRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] },
  )
    .trim()
    .split('\n')
    .pop() as string;
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  ctx.onCleanup(() => browser.close());
  return browser;
}
