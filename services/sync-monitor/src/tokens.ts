/** DI tokens of values that are not classes. */
export const MONITOR_CONFIG = Symbol('MONITOR_CONFIG');
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');
export const ACCOUNTS = Symbol('ACCOUNTS');
