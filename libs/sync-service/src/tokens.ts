/** DI tokens for values that are not classes. */
export const SYNC_CONFIG = Symbol('SYNC_CONFIG');
export const SYNC_DOMAIN = Symbol('SYNC_DOMAIN');
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');
