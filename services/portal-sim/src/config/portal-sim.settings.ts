import { ConfigError } from '@lienthong/config';
import type { PortalApi } from '../modules/effects/effects.store';
import type { FaultProfile } from '../modules/faults/fault-profile';
import type { PortalSimConfig } from './portal-sim.config';

function credentialMap(value: string): Map<string, string> {
  return new Map(
    value.split(',').map((pair) => {
      const i = pair.indexOf(':');
      return [pair.slice(0, i), pair.slice(i + 1)] as [string, string];
    }),
  );
}

/** The simulator's settings in the shapes its modules use; a DI token as well as a value. */
export class PortalSimSettings {
  readonly dvcqgUsers: Map<string, string>;
  readonly civilClients: Map<string, string>;
  readonly landUsers: Map<string, string>;
  readonly sessionTtlSeconds: number;
  readonly civilResultDelayMs: number;
  readonly civilSupplementRatio: number;
  readonly civilNoResultRatio: number;
  readonly landStepMs: number;
  readonly landSupplementRatio: number;
  readonly landCallbacks: {
    url: string;
    lossRatio: number;
    duplicateRatio: number;
    jitterMs: number;
  };
  readonly faults: Partial<Record<PortalApi, FaultProfile>>;
  readonly adminToken: string;
  readonly idp: {
    clients: Map<string, { secret: string; authority: string }>;
    demo: boolean;
    issuer: string;
    audience: string;
    tokenTtlSeconds: number;
  };

  constructor(config: PortalSimConfig) {
    this.dvcqgUsers = credentialMap(config.PORTAL_SIM_DVCQG_USERS);
    this.civilClients = credentialMap(config.PORTAL_SIM_CIVIL_CLIENTS);
    this.landUsers = credentialMap(config.PORTAL_SIM_LAND_USERS);
    this.sessionTtlSeconds = config.PORTAL_SIM_SESSION_TTL_SECONDS;
    this.civilResultDelayMs = config.PORTAL_SIM_CIVIL_RESULT_DELAY_MS;
    this.civilSupplementRatio = config.PORTAL_SIM_CIVIL_SUPPLEMENT_RATIO;
    this.civilNoResultRatio = config.PORTAL_SIM_CIVIL_NO_RESULT_RATIO;
    this.landStepMs = config.PORTAL_SIM_LAND_STEP_MS;
    this.landSupplementRatio = config.PORTAL_SIM_LAND_SUPPLEMENT_RATIO;
    this.landCallbacks = {
      url: config.PORTAL_SIM_LAND_CALLBACK_URL,
      lossRatio: config.PORTAL_SIM_LAND_CALLBACK_LOSS_RATIO,
      duplicateRatio: config.PORTAL_SIM_LAND_CALLBACK_DUPLICATE_RATIO,
      jitterMs: config.PORTAL_SIM_LAND_CALLBACK_JITTER_MS,
    };
    this.adminToken = config.PORTAL_SIM_ADMIN_TOKEN;
    this.idp = {
      clients: new Map(
        config.PORTAL_SIM_IDP_CLIENTS.split(',')
          .filter(Boolean)
          .map((entry) => {
            const [id, secret, kind, code] = entry.split(':') as [string, string, string, string];
            return [id, { secret, authority: `${kind}:${code}` }];
          }),
      ),
      demo: config.PORTAL_SIM_IDP_DEMO === 1,
      issuer: config.PORTAL_SIM_IDP_ISSUER,
      audience: config.PORTAL_SIM_IDP_AUDIENCE,
      tokenTtlSeconds: config.PORTAL_SIM_IDP_TOKEN_TTL_SECONDS,
    };
    try {
      this.faults = JSON.parse(config.PORTAL_SIM_FAULTS) as Partial<
        Record<PortalApi, FaultProfile>
      >;
    } catch (err) {
      throw new ConfigError('portal-sim', [
        `PORTAL_SIM_FAULTS: must be JSON (${(err as Error).message})`,
      ]);
    }
  }
}
