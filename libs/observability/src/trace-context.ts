import { AsyncLocalStorage } from 'node:async_hooks';

/** The W3C trace context of the work in progress (https://www.w3.org/TR/trace-context/). */
export interface TraceContext {
  traceId: string;
  spanId: string;
}

const TRACEPARENT = /^[\da-f]{2}-([\da-f]{32})-([\da-f]{16})-[\da-f]{2}$/;
const store = new AsyncLocalStorage<TraceContext>();

/** `00-<trace id>-<span id>-<flags>` → ids; undefined for a missing or malformed header (all-zero ids are invalid). */
export function parseTraceparent(header: string | undefined): TraceContext | undefined {
  const m = header ? TRACEPARENT.exec(header.trim().toLowerCase()) : null;
  if (!m || /^0+$/.test(m[1] as string) || /^0+$/.test(m[2] as string)) return undefined;
  return { traceId: m[1] as string, spanId: m[2] as string };
}

/** Runs `fn` with the trace of `traceparent`: log lines written inside carry its ids. */
export function withTrace<T>(traceparent: string | undefined, fn: () => T): T {
  const trace = parseTraceparent(traceparent);
  return trace ? store.run(trace, fn) : fn();
}

export function currentTrace(): TraceContext | undefined {
  return store.getStore();
}
