/** Injection tokens of ingest-gateway. */
export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
/** The province of a commune (the 2025 directory), for province systems' credentials. */
export const PROVINCE_OF = Symbol('PROVINCE_OF');
/** The service's pino logger. */
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');
