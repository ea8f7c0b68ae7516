import type { Dispatcher } from 'undici';
import { PortalCallError } from '@lienthong/resilience';
import type { PortalGateway } from '@lienthong/resilience';
import { BearerSession } from '../http/bearer-session';
import { exchangeJson, keepAliveAgent } from '../http/json-http';
import { toSubmission } from './civil-status.wire';
import type {
  CivilAnswer,
  CivilModule,
  CivilRegistration,
  CivilResultWire,
} from './civil-status.wire';

export interface CivilStatusClientOptions {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
}

export type CivilResult =
  | { status: 'processing' }
  | {
      status: 'done';
      soDinhDanh?: string;
      soDangKy?: string;
      quyenSo?: string;
      trangSo?: string;
      ngayDangKy?: string;
    }
  | { status: 'refused'; reason: string }
  | { status: 'unknown' };

/** Typed client of the civil-status registry: submit, then poll for the asynchronous result. */
export class CivilStatusClient {
  private readonly session: BearerSession;

  constructor(
    private readonly options: CivilStatusClientOptions,
    gateway: PortalGateway,
    private readonly agent: Dispatcher = keepAliveAgent(),
  ) {
    this.session = new BearerSession(gateway, async (ctx) => {
      const { body } = await exchangeJson<{ access_token: string; expires_in: number }>(
        this.agent,
        ctx,
        'POST',
        `${options.baseUrl}/hotich/token`,
        {
          body: JSON.stringify({
            client_id: options.clientId,
            client_secret: options.clientSecret,
          }),
        },
      );
      return { token: body.access_token, expiresInSeconds: body.expires_in };
    });
  }

  /** Submits a registration; a second submission of the same one is harmless (the registry keeps the first). */
  async submit(registration: CivilRegistration, correlationId: string): Promise<void> {
    await this.session.call('NhanDKHT', correlationId, async (ctx, bearer) => {
      const { body } = await exchangeJson<CivilAnswer>(
        this.agent,
        ctx,
        'POST',
        `${this.options.baseUrl}/hotich/NhanDKHT`,
        {
          body: JSON.stringify(toSubmission(registration)),
          headers: { authorization: bearer },
        },
      );
      ctx.note({ portalCode: body.maLoi });
      if (body.maLoi !== '0') {
        throw new PortalCallError(
          'PORTAL_REJECTED',
          'the civil-status registry rejected the registration',
          { portalCode: body.maLoi, portalMessage: body.moTa ?? '' },
        );
      }
    });
  }

  async results(
    ids: string[],
    maTinh: string,
    module: CivilModule,
    correlationId: string,
  ): Promise<Map<string, CivilResult>> {
    const answer = await this.session.call('LayKetQua', correlationId, async (ctx, bearer) => {
      const { body } = await exchangeJson<CivilAnswer>(
        this.agent,
        ctx,
        'POST',
        `${this.options.baseUrl}/hotich/LayKetQua`,
        {
          body: JSON.stringify({ maDinhDanhHoSo: ids, maTinh, module }),
          headers: { authorization: bearer },
        },
      );
      ctx.note({ portalCode: body.maLoi });
      if (body.maLoi !== '0')
        throw new PortalCallError(
          'PORTAL_REJECTED',
          'the civil-status registry rejected the lookup',
          { portalCode: body.maLoi, portalMessage: body.moTa ?? '' },
        );
      return body;
    });
    return new Map((answer.ketQua ?? []).map((r) => [r.maDinhDanhHoSo, toResult(r)]));
  }
}

function toResult(r: CivilResultWire): CivilResult {
  if (r.trangThai === 1) return { status: 'processing' };
  if (r.trangThai === 4) return { status: 'done', ...r.ketQuaXuLy };
  if (r.trangThai === 6) return { status: 'refused', reason: r.loi ?? '' };
  return { status: 'unknown' };
}
