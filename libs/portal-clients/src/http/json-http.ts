import { Agent, request } from 'undici';
import type { Dispatcher } from 'undici';
import { PortalCallError, classifyHttpStatus, parseRetryAfter } from '@lienthong/resilience';
import type { AttemptContext } from '@lienthong/resilience';

/**
 * One keep-alive connection pool per portal client, with a connection for every call the target's
 * gateway lets through at once (its bulkhead, `<PORTAL>_MAX_CONCURRENT`): with fewer, calls the
 * bulkhead admitted would queue inside undici, out of sight of the gateway's timeouts and metrics,
 * and the setting would cap silently (a fixed 16 connections did, whatever it said).
 */
export function keepAliveAgent(connections: number): Agent {
  return new Agent({
    connections,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 120_000,
    pipelining: 1,
  });
}

export interface JsonAnswer<T> {
  status: number;
  body: T;
}

/**
 * Sends one HTTP request and reads a JSON answer, reporting the exchange to the gateway. HTTP
 * failures become classified errors: 5xx/408/429 retriable (with Retry-After), other 4xx permanent,
 * a body that is not JSON retriable (a proxy error page, a truncated answer).
 */
export async function exchangeJson<T>(
  agent: Dispatcher,
  ctx: AttemptContext,
  method: 'GET' | 'POST',
  url: string,
  options: {
    body?: string;
    contentType?: string;
    headers?: Record<string, string>;
    acceptStatuses?: number[];
  } = {},
): Promise<JsonAnswer<T>> {
  const response = await request(url, {
    method,
    dispatcher: agent,
    signal: ctx.signal,
    headers: {
      accept: 'application/json',
      'x-correlation-id': ctx.correlationId,
      ...(options.body !== undefined
        ? { 'content-type': options.contentType ?? 'application/json' }
        : {}),
      ...options.headers,
    },
    ...(options.body !== undefined ? { body: options.body } : {}),
  });
  const text = await response.body.text();
  ctx.note({
    httpStatus: response.statusCode,
    ...(options.body !== undefined ? { request: options.body } : {}),
    response: text,
  });
  if (!options.acceptStatuses?.includes(response.statusCode)) {
    const failure = classifyHttpStatus(
      response.statusCode,
      parseRetryAfter(response.headers['retry-after']),
    );
    if (failure) throw failure;
  }
  try {
    return { status: response.statusCode, body: JSON.parse(text) as T };
  } catch {
    throw new PortalCallError(
      'PORTAL_MALFORMED_RESPONSE',
      `portal answered ${response.statusCode} with a body that is not JSON`,
      { httpStatus: response.statusCode },
    );
  }
}
