/**
 * Whether a database failure says nothing about the data being written: the server went away,
 * restarted, ran out of resources, or our schema does not match the code (a deploy problem). Such
 * a failure is waited out (retried, health unready), never blamed on a record. Anything else — a
 * value the database refuses (SQLSTATE class 22, 23), an error thrown by our own mapping code — is
 * specific to the record, and a record that fails that way every time is poison.
 */
export function isTransientDatabaseError(err: unknown): boolean {
  const e = err as
    | { code?: string | number; driverError?: { code?: string | number }; message?: unknown }
    | undefined;
  const code = String(e?.driverError?.code ?? e?.code ?? '');
  // SQLSTATE classes: 08 connection, 40 transaction rollback (serialization, deadlock), 53
  // insufficient resources, 55 object not in prerequisite state (lock not available), 57 operator
  // intervention (admin shutdown, cannot connect now), 58 system error, 42 schema mismatch
  // (undefined table or column: the deploy is wrong, not the record), XX internal error.
  if (/^(08|40|53|55|57|58|42|XX)[0-9A-Z]{3}$/.test(code)) return true;
  // Node network failures and pg/TypeORM connection-level errors carry no SQLSTATE.
  if (/^(E[A-Z]+)$/.test(code) && code !== 'ERR') return true;
  const message = typeof e?.message === 'string' ? e.message : '';
  return /Connection terminated|connection is closed|Client has encountered a connection error|timeout exceeded when trying to connect|Cannot use a pool after calling end|terminating connection|the database system is (starting up|shutting down|in recovery mode)|Query read timeout/i.test(
    message,
  );
}
