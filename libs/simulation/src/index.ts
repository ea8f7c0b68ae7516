export { Rng } from './random';
export { birthDate, person, personalId, phoneNumber, vietnameseName } from './people';
export type { Person, Sex } from './people';
export { DAY, HOUR, vnMorning, vnTime } from './time';
export { FIXTURE_COMMUNES, pickCommune, unitOf } from './communes';
export { dossierLifecycle, dossierProgressStep, dossierUpserted } from './dossier';
export type { DossierEvent, DossierLifecycle, LifecycleOptions } from './dossier';
export {
  birthRegistered,
  deathRegistered,
  marriageRegistered,
  registrationAmended,
} from './civil-status';
export {
  landFinancialObligationRecorded,
  landRegistrationReceived,
  landStatusChanged,
} from './land';
export { lifecycleRecords, toRecord } from './records';
export type { CommuneEvent } from './records';
export { CommuneTraffic } from './traffic';
export type { DueRecord, TrafficDomain, TrafficOptions, TrafficStats } from './traffic';
export { civilStatusLife, landLife } from './registries';
export type { RegistryEvent, RegistryLife } from './registries';
