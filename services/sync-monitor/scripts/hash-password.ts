// `npm run monitor:hash-password -- <password>`: the passwordHash of an account in the accounts
// file (MONITOR_ACCOUNTS_FILE). Reads the password from stdin when none is given, so that it
// stays out of the shell's history.
import { hashPassword } from '../src/auth/accounts';

async function main(): Promise<void> {
  let password = process.argv[2];
  if (!password) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    password = Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  if (!password) throw new Error('give the password as an argument or on stdin');
  process.stdout.write(`${await hashPassword(password)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
