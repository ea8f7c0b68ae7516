// Small process helpers for the stack scripts: pid liveness, who holds a port, waiting.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/** The pid in a pid file if that process is alive and its command line contains `marker`. */
export function livePid(pidFile: string, marker: string): number | undefined {
  if (!existsSync(pidFile)) return undefined;
  // First line: PostgreSQL's postmaster.pid has more lines after the pid.
  const pid = Number(readFileSync(pidFile, 'utf8').split('\n')[0]?.trim());
  if (Number.isInteger(pid) && pid > 0 && isAlive(pid) && cmdline(pid).includes(marker)) {
    return pid;
  }
  // A pid file left by a crash (kill -9, reboot) or a pid reused by another program.
  rmSync(pidFile, { force: true });
  return undefined;
}

/** Every live process whose command line contains all the markers (ours, even without a pid file). */
export function findProcesses(...markers: string[]): number[] {
  return readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => pid !== process.pid)
    .filter((pid) => {
      const cmd = cmdline(pid);
      return markers.every((m) => cmd.includes(m));
    });
}

export function portOpen(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** Best effort: the program listening on a TCP port, for an error message a person can act on. */
export function portHolder(port: number): string {
  const ss = spawnSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' });
  const match = /users:\(\("([^"]+)",pid=(\d+)/.exec(ss.stdout ?? '');
  return match ? `${match[1]} (pid ${match[2]})` : 'another program';
}

export async function stopPid(pid: number, graceMs: number): Promise<void> {
  if (!isAlive(pid)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isAlive(pid) && Date.now() < deadline) await delay(200);
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
  while (isAlive(pid)) await delay(50);
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs: number,
  onTimeout?: () => string,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: not ready after ${timeoutMs / 1000}s${onTimeout ? `\n${onTimeout()}` : ''}`,
      );
    }
    await delay(250);
  }
}

export function run(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...opts });
}

export function tail(file: string, lines: number): string {
  if (!existsSync(file)) return `(no ${file})`;
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}
