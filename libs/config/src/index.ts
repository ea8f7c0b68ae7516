export { ConfigError, loadConfig } from './load-config';
export { loadEnvConfig } from './env-config';
export type { ConfigOf, EnvVar } from './env-config';
export { serviceVars } from './service-vars';
