export { DvcqgClient } from './dvcqg/dvcqg.client';
export type { DvcqgClientOptions, DvcqgDossier, DvcqgProcedure } from './dvcqg/dvcqg.client';
export {
  DVCQG_OK,
  STEPS_PER_CALL,
  dvcqgAlreadyExists,
  dvcqgList,
  fromStamp,
  fromWireHeader,
  fromWireStep,
  toStamp,
  toWireHeader,
  toWireStep,
} from './dvcqg/dvcqg.wire';
export type { DvcqgResponse } from './dvcqg/dvcqg.wire';
export {
  CivilStatusClient,
  RESULTS_PER_CALL,
  toCivilResult,
} from './civil-status/civil-status.client';
export type { CivilResult, CivilStatusClientOptions } from './civil-status/civil-status.client';
export {
  ALREADY_RECEIVED,
  PERSONAL_ID_DOCUMENT_TYPE,
  fromVnStamp,
  toAmendment,
  toRecord,
  toSubmission,
  toVnStamp,
} from './civil-status/civil-status.wire';
export type {
  CivilAnswer,
  CivilModule,
  CivilRegistration,
  CivilResultWire,
} from './civil-status/civil-status.wire';
export { LandClient } from './land/land.client';
export type { LandClientOptions } from './land/land.client';
export { ALREADY_EXISTS, LAND_CALLBACKS, toTiepNhan } from './land/land.wire';
export type {
  LandCallbackAnswer,
  LandCallbackKind,
  LandCallbackWire,
  LandDossierWire,
  LandStatus,
  TaxNoticeWire,
} from './land/land.wire';
export { keepAliveAgent } from './http/json-http';
export { TokenCache } from './http/token-cache';
