import type { SyncStatusV2 as SyncStatus } from '@lienthong/contracts';
import { maskText } from '@lienthong/observability';
import type { PortalCallError } from '@lienthong/resilience';

/** sync-status.v1.schema.json: error.message maxLength. */
const MAX_MESSAGE = 2000;
/** Shorter values (codes like "1", "02") are not worth hiding and would shred the text. */
const MIN_ECHO = 3;

function leaves(value: unknown, out: Set<string>, depth = 0): void {
  if (depth > 16 || value === null || value === undefined) return;
  if (typeof value === 'string' || typeof value === 'number') {
    const text = String(value).trim();
    if (text.length >= MIN_ECHO) out.add(text);
    return;
  }
  if (typeof value === 'object')
    for (const v of Object.values(value as Record<string, unknown>)) leaves(v, out, depth + 1);
}

/**
 * A portal's free text with everything it echoed back from our submission cut out: any value of
 * the pushed payload (a name, an ID number, an address) that appears in the message is replaced
 * by `[…]`, longest first; then whatever still looks like an ID or a phone number is masked.
 * Portals often quote the offending value ("Số định danh 001203004567 không hợp lệ"), and a
 * sync.status event reaches every reader of the topic.
 */
export function redactEchoes(message: string, submitted: unknown): string {
  const values = new Set<string>();
  leaves(submitted, values);
  let text = message;
  for (const v of [...values].sort((a, b) => b.length - a.length)) text = text.replaceAll(v, '[…]');
  return maskText(text);
}

/**
 * The `error` of a RETRYING or REJECTED sync.status: our stable code and message, the portal's
 * code, and the portal's reason with its echoes of the submission removed; bounded by the
 * contract whatever the portal sent.
 */
export function statusError(
  error: PortalCallError,
  submitted: unknown,
): NonNullable<SyncStatus['error']> {
  const reason = error.portalMessage ? redactEchoes(error.portalMessage, submitted) : '';
  const message = reason ? `${error.message}: ${reason}` : error.message;
  return {
    code: error.code,
    class: error.outcome === 'permanent' ? 'permanent' : 'retriable',
    message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message,
    ...(error.portalCode ? { portalCode: error.portalCode.slice(0, 50) } : {}),
  };
}
