export { DvcqgClient } from './dvcqg/dvcqg.client';
export type { DvcqgClientOptions, DvcqgDossier } from './dvcqg/dvcqg.client';
export {
  STEPS_PER_CALL,
  fromStamp,
  fromWireHeader,
  fromWireStep,
  toStamp,
  toWireHeader,
  toWireStep,
} from './dvcqg/dvcqg.wire';
export { CivilStatusClient } from './civil-status/civil-status.client';
export type { CivilResult, CivilStatusClientOptions } from './civil-status/civil-status.client';
export type { CivilModule, CivilRegistration } from './civil-status/civil-status.wire';
export { LandClient } from './land/land.client';
export type { LandClientOptions } from './land/land.client';
export type { LandDossierWire, LandStatus, TaxNoticeWire } from './land/land.wire';
export { keepAliveAgent } from './http/json-http';
export { TokenCache } from './http/token-cache';
