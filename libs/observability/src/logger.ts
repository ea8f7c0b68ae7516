import pino from 'pino';
import type { Logger, LoggerOptions } from 'pino';
import { maskPersonalData } from './personal-data';
import { currentTrace } from './trace-context';

/**
 * The one logger configuration of every service: JSON lines on stdout, the service's name, the
 * trace and span ids of the event being handled (W3C trace context from the event's headers), and
 * personal data masked in every field and message before the line is written.
 */
export function loggerOptions(service: string, level = 'info'): LoggerOptions {
  return {
    level,
    base: { service, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    messageKey: 'msg',
    mixin() {
      const trace = currentTrace();
      return trace ? { trace_id: trace.traceId, span_id: trace.spanId } : {};
    },
    formatters: {
      level: (label) => ({ level: label }),
      log: (object) => maskPersonalData(object) as Record<string, unknown>,
    },
    hooks: {
      // Masks the message too (formatters.log sees only the merged object).
      logMethod(args, method) {
        method.apply(this, args.map((a) => maskPersonalData(a)) as Parameters<typeof method>);
      },
    },
  };
}

export function createLogger(service: string, level = 'info'): Logger {
  return pino(loggerOptions(service, level));
}
