import type { Dispatcher } from 'undici';
import type { LandRegistrationReceived } from '@lienthong/contracts';
import { PortalCallError } from '@lienthong/resilience';
import type { PortalGateway } from '@lienthong/resilience';
import { BearerSession } from '../http/bearer-session';
import { exchangeJson, keepAliveAgent } from '../http/json-http';
import { ALREADY_EXISTS, toTiepNhan } from './land.wire';
import type { LandAnswer, LandDossierWire, TaxNoticeWire } from './land.wire';

export interface LandClientOptions {
  baseUrl: string;
  username: string;
  password: string;
}

/** Typed client of the land registry: receive a dossier, follow its status, fetch its tax notice. */
export class LandClient {
  private readonly session: BearerSession;

  constructor(
    private readonly options: LandClientOptions,
    gateway: PortalGateway,
    private readonly agent: Dispatcher = keepAliveAgent(gateway.options.maxConcurrent),
  ) {
    this.session = new BearerSession(gateway, async (ctx) => {
      const form = new URLSearchParams({
        grant_type: 'password',
        username: options.username,
        password: options.password,
      }).toString();
      const { body } = await exchangeJson<{ access_token: string; expires_in: number }>(
        this.agent,
        ctx,
        'POST',
        `${options.baseUrl}/land/connect/token`,
        {
          body: form,
          contentType: 'application/x-www-form-urlencoded',
        },
      );
      return { token: body.access_token, expiresInSeconds: body.expires_in };
    });
  }

  /**
   * Sends a received dossier (again: its correction or supplement) with the SecurityCode the
   * registry calls back with. "Đã tồn tại" (already received) counts as done: the send is idempotent.
   */
  async receive(
    dossier: LandRegistrationReceived,
    securityCode: string,
    correlationId: string,
  ): Promise<'received' | 'already-received'> {
    return this.session.call('TiepNhanHoSo', correlationId, async (ctx, bearer) => {
      const { status, body } = await exchangeJson<LandAnswer<number>>(
        this.agent,
        ctx,
        'POST',
        `${this.options.baseUrl}/land/api/HoSo/TiepNhan`,
        {
          body: JSON.stringify(toTiepNhan(dossier, securityCode)),
          headers: { authorization: bearer },
          // The registry answers a refused dossier with 400 and a reason.
          acceptStatuses: [400],
        },
      );
      const message = body.status?.message ?? body.message ?? '';
      ctx.note({ portalCode: body.status?.code ?? String(body.data) });
      if (Number(body.data) === 1) return 'received';
      if (ALREADY_EXISTS.test(message)) return 'already-received';
      throw new PortalCallError('PORTAL_REJECTED', 'the land registry rejected the dossier', {
        portalCode: body.status?.code ?? String(body.data),
        portalMessage: message,
        ...(status !== 200 ? { httpStatus: status } : {}),
      });
    });
  }

  async lookup(ma: string, correlationId: string): Promise<LandDossierWire | undefined> {
    return this.session.call('TraCuuHoSo', correlationId, async (ctx, bearer) => {
      const { status, body } = await exchangeJson<LandAnswer<LandDossierWire | null>>(
        this.agent,
        ctx,
        'GET',
        `${this.options.baseUrl}/land/api/HoSo/${encodeURIComponent(ma)}`,
        {
          headers: { authorization: bearer },
          acceptStatuses: [404],
        },
      );
      return status === 404 ? undefined : (body.data ?? undefined);
    });
  }

  /** The tax authority's notice, once the dossier reached FINANCIAL_OBLIGATION; undefined before. */
  async taxNotice(ma: string, correlationId: string): Promise<TaxNoticeWire | undefined> {
    return this.session.call('ThongBaoThue', correlationId, async (ctx, bearer) => {
      const { body } = await exchangeJson<LandAnswer<TaxNoticeWire | null>>(
        this.agent,
        ctx,
        'GET',
        `${this.options.baseUrl}/land/api/HoSo/${encodeURIComponent(ma)}/ThongBaoThue`,
        {
          headers: { authorization: bearer },
        },
      );
      return body.data ?? undefined;
    });
  }
}
