import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The SecurityCode a dossier is sent with and its callbacks must echo: an HMAC of its receipt
 * number under land-sync's secret. Nothing to store, and a caller without the secret cannot make
 * a valid callback for any dossier.
 */
export function securityCode(secret: string, soBienNhan: string): string {
  return createHmac('sha256', secret).update(soBienNhan).digest('base64url');
}

export function validSecurityCode(secret: string, soBienNhan: string, given: string): boolean {
  const expected = Buffer.from(securityCode(secret, soBienNhan));
  const actual = Buffer.from(given);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}
