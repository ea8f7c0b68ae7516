import type { Dispatcher } from 'undici';
import type { DossierProgressStep, DossierUpserted } from '@lienthong/contracts';
import { PortalCallError } from '@lienthong/resilience';
import type { AttemptContext, PortalGateway } from '@lienthong/resilience';
import { exchangeJson, keepAliveAgent } from '../http/json-http';
import { withRenewal } from '../http/renew-once';
import { TokenCache } from '../http/token-cache';
import {
  DVCQG_NOT_FOUND,
  DVCQG_OK,
  DVCQG_REJECTIONS,
  DVCQG_SESSION_INVALID,
  STEPS_PER_CALL,
  dvcqgAlreadyExists,
  dvcqgList,
  fromWireHeader,
  toWireHeader,
  toWireStep,
} from './dvcqg.wire';
import type { DvcqgResponse } from './dvcqg.wire';

export interface DvcqgClientOptions {
  baseUrl: string;
  username: string;
  password: string;
  /** madonvi: the unit code the province's account syncs for. */
  unitCode: string;
}

/** What TraCuuHoSo tells about a dossier: its header as held (no processing steps: DVCQG does not return them). */
export interface DvcqgDossier {
  header: Record<string, unknown>;
}

/** A procedure as LayThuTuc describes it. */
export interface DvcqgProcedure {
  TenTTHC: string;
  LinhVuc: Array<{ MaLinhVuc: string; TenLinhVuc: string }>;
}

/**
 * Typed client of the DVCQG dossier-sync API. Every call goes through the target's gateway
 * (breaker, limits, exchange records). The session is cached, refreshed before it expires, and
 * renewed once if the portal ended it early, without failing the caller's call.
 */
export class DvcqgClient {
  private readonly session: TokenCache;

  constructor(
    private readonly options: DvcqgClientOptions,
    private readonly gateway: PortalGateway,
    private readonly agent: Dispatcher = keepAliveAgent(gateway.options.maxConcurrent),
  ) {
    this.session = new TokenCache(() => this.login());
  }

  private async login(): Promise<{ token: string; expiresInSeconds: number }> {
    const answer = await this.gateway.call(
      'auth',
      async (ctx) => {
        const { body } = await exchangeJson<DvcqgResponse>(
          this.agent,
          ctx,
          'POST',
          `${this.options.baseUrl}/dvcqg/auth`,
          {
            body: JSON.stringify({
              username: this.options.username,
              password: this.options.password,
            }),
          },
        );
        ctx.note({ portalCode: String(body.error_code) });
        if (!DVCQG_OK(body.error_code) || !body.session) {
          throw new PortalCallError('PORTAL_AUTH_FAILED', 'DVCQG refused our credentials', {
            portalCode: String(body.error_code),
            portalMessage: body.message ?? '',
          });
        }
        return body;
      },
      { correlationId: `auth-${Date.now()}`, retry: true },
    );
    return { token: answer.session as string, expiresInSeconds: answer.expires_in ?? 1800 };
  }

  /** One service call with the session; a session the portal ended is renewed once. */
  private service(
    operation: string,
    payload: Record<string, unknown>,
    correlationId: string,
  ): Promise<DvcqgResponse> {
    return withRenewal(this.session, (session) =>
      this.gateway.call(operation, (ctx) => this.send(ctx, operation, session, payload), {
        correlationId,
      }),
    );
  }

  private async send(
    ctx: AttemptContext,
    service: string,
    session: string,
    payload: Record<string, unknown>,
  ): Promise<DvcqgResponse> {
    const { body } = await exchangeJson<DvcqgResponse>(
      this.agent,
      ctx,
      'POST',
      `${this.options.baseUrl}/dvcqg/api`,
      {
        body: JSON.stringify({ session, madonvi: this.options.unitCode, service, ...payload }),
      },
    );
    const code = String(body.error_code);
    ctx.note({ portalCode: code });
    if (code === DVCQG_SESSION_INVALID)
      throw new PortalCallError('PORTAL_SESSION_EXPIRED', 'DVCQG session ended', {
        portalCode: code,
      });
    if (
      DVCQG_OK(body.error_code) ||
      dvcqgAlreadyExists(code, body.message) ||
      code === DVCQG_NOT_FOUND
    )
      return body;
    if (DVCQG_REJECTIONS.has(code)) {
      throw new PortalCallError('PORTAL_REJECTED', `DVCQG rejected ${service}`, {
        portalCode: code,
        portalMessage: body.message ?? '',
      });
    }
    // An answer we do not know: try again later rather than lose the change (domain.md §6).
    throw new PortalCallError(
      'PORTAL_UNKNOWN_ANSWER',
      `DVCQG answered ${service} with error_code ${code}`,
      { portalCode: code },
    );
  }

  /**
   * What DVCQG holds for a dossier (its header, dates back in RFC 3339, codes as numbers);
   * undefined when it holds nothing (an empty list, or 04 from older versions).
   */
  async lookup(maHoSo: string, correlationId: string): Promise<DvcqgDossier | undefined> {
    const answer = await this.service('TraCuuHoSo', { mahoso: maHoSo }, correlationId);
    if (String(answer.error_code) === DVCQG_NOT_FOUND) return undefined;
    const item = dvcqgList(answer).find((d) => d.MaHoSo === maHoSo);
    if (!item) return undefined;
    // MaTrangThai is the lookup's name of the status code; the header carries TrangThaiHoSo.
    const { MaTrangThai: _status, QuaTrinhXuLy: _steps, ...header } = item;
    return { header: fromWireHeader(header) };
  }

  /**
   * Sends a dossier header: insert or update decided by a lookup; an insert answered "đã tồn tại"
   * (someone inserted meanwhile) is sent again as an update.
   */
  async upsertDossier(
    header: DossierUpserted,
    correlationId: string,
  ): Promise<'inserted' | 'updated'> {
    const exists = (await this.lookup(header.MaHoSo, correlationId)) !== undefined;
    return this.sendHeader(header, exists, correlationId);
  }

  /**
   * Sends a dossier header when the caller already knows whether DVCQG holds it (its ledger, or a
   * lookup it made); "đã tồn tại" on an insert still falls back to an update.
   */
  async sendHeader(
    header: DossierUpserted,
    exists: boolean,
    correlationId: string,
  ): Promise<'inserted' | 'updated'> {
    const first = await this.syncHeader(header, exists, correlationId);
    if (!exists && dvcqgAlreadyExists(first.error_code, first.message)) {
      await this.expectOk(await this.syncHeader(header, true, correlationId), 'DongBoHoSoMC');
      return 'updated';
    }
    if (exists && String(first.error_code) === DVCQG_NOT_FOUND) {
      // The portal lost it (or never had it): insert.
      await this.expectOk(await this.syncHeader(header, false, correlationId), 'DongBoHoSoMC');
      return 'inserted';
    }
    await this.expectOk(first, 'DongBoHoSoMC');
    return exists ? 'updated' : 'inserted';
  }

  private syncHeader(
    header: DossierUpserted,
    isUpdating: boolean,
    correlationId: string,
  ): Promise<DvcqgResponse> {
    return this.service(
      'DongBoHoSoMC',
      { isUpdating: isUpdating ? 'True' : 'False', data: [toWireHeader(header)] },
      correlationId,
    );
  }

  /** Sends processing steps, ten per call (the portal's limit), in order. */
  async pushSteps(steps: DossierProgressStep[], correlationId: string): Promise<void> {
    for (let i = 0; i < steps.length; i += STEPS_PER_CALL) {
      const chunk = steps.slice(i, i + STEPS_PER_CALL).map(toWireStep);
      await this.expectOk(
        await this.service('CapNhatTienDoHoSoMC', { data: chunk }, correlationId),
        'CapNhatTienDoHoSoMC',
      );
    }
  }

  /** A procedure of the national catalogue (LayThuTuc); undefined when the catalogue lacks it. */
  async procedure(maTTHC: string, correlationId: string): Promise<DvcqgProcedure | undefined> {
    const answer = await this.service('LayThuTuc', { maTTHC }, correlationId);
    const item = dvcqgList(answer)[0];
    if (!item || typeof item.TENTTHC !== 'string') return undefined;
    const fields = Array.isArray(item.LINHVUCTHUCHIEN)
      ? (item.LINHVUCTHUCHIEN as Array<Record<string, unknown>>)
      : [];
    return {
      TenTTHC: item.TENTTHC,
      LinhVuc: fields.map((f) => ({
        MaLinhVuc: typeof f.MALINHVUC === 'string' ? f.MALINHVUC : '',
        TenLinhVuc: typeof f.TENLINHVUC === 'string' ? f.TENLINHVUC : '',
      })),
    };
  }

  private expectOk(answer: DvcqgResponse, service: string): Promise<void> {
    if (DVCQG_OK(answer.error_code)) return Promise.resolve();
    const code = String(answer.error_code);
    return Promise.reject(
      new PortalCallError('PORTAL_REJECTED', `DVCQG rejected ${service}`, {
        portalCode: code,
        portalMessage: answer.message ?? '',
      }),
    );
  }
}
