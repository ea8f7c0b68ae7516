export { createLogger, loggerOptions } from './logger';
export { isPersonalKey, maskPersonalData, maskText, maskValue } from './personal-data';
export { currentTrace, parseTraceparent, withTrace } from './trace-context';
export type { TraceContext } from './trace-context';
export { exitGracefullyOnSignals } from './shutdown';
export { SafeExceptionsFilter, describeSafely } from './safe-exceptions.filter';
export { Problem, ProblemFilter } from './problem';
export { adminTokenMiddleware, bearerRefusal, sameSecret } from './admin-token';
