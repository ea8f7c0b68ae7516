/** DI tokens for values that are not classes. */
export const DOSSIER_SYNC_CONFIG = Symbol('DOSSIER_SYNC_CONFIG');
export const ROOT_LOGGER = Symbol('ROOT_LOGGER');
export const SERVICE_NAME = 'dossier-sync';
