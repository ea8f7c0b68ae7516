// `npm run setup:browser`: makes sure a Chromium the browser tests can drive is installed —
// Debian's `chromium` package (playwright-core drives it; the tests never download a browser).
// Idempotent: does nothing when one is there. Prints the path it found or installed.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';

const CANDIDATES = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'];

export function findChromium(): string | undefined {
  return CANDIDATES.find((p): p is string => Boolean(p) && existsSync(p as string));
}

/** The Chromium to drive; installs Debian's package first when there is none (needs root and apt). */
export function ensureChromium(log: (line: string) => void = () => undefined): string {
  const found = findChromium();
  if (found) return found;
  if (process.getuid?.() !== 0)
    throw new Error(
      'no Chromium: install it (Debian/Ubuntu: sudo apt-get install chromium) or set CHROMIUM_PATH',
    );
  log('installing Debian chromium (apt-get), once');
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  execFileSync('apt-get', ['update', '-qq'], { stdio: 'inherit', env });
  execFileSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', 'chromium'], {
    stdio: 'inherit',
    env,
  });
  const installed = findChromium();
  if (!installed) throw new Error('apt-get installed chromium, but no binary was found');
  return installed;
}

if (process.argv[1]?.endsWith('browser.ts')) {
  process.stdout.write(`${ensureChromium((l) => process.stdout.write(`[browser] ${l}\n`))}\n`);
}
