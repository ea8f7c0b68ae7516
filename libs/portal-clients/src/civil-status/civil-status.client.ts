import type { Dispatcher } from 'undici';
import type { RegistrationAmended } from '@lienthong/contracts';
import { PortalCallError } from '@lienthong/resilience';
import type { AttemptContext, PortalGateway } from '@lienthong/resilience';
import { BearerSession } from '../http/bearer-session';
import { exchangeJson, keepAliveAgent } from '../http/json-http';
import { ALREADY_RECEIVED, fromVnStamp, toAmendment, toSubmission } from './civil-status.wire';
import type {
  CivilAnswer,
  CivilModule,
  CivilRegistration,
  CivilResultWire,
  LayKetQuaAnswer,
} from './civil-status.wire';

export interface CivilStatusClientOptions {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
}

/** A registration's stage at the registry, read from LayKetQua. */
export type CivilResult =
  | { status: 'waiting'; stage: string; label: string; at?: string }
  | { status: 'supplement'; deadline: string | null; note: string; at?: string }
  | {
      status: 'done';
      stage: string;
      result: NonNullable<CivilResultWire['ketQuaXuLy']>;
      at?: string;
    }
  | { status: 'refused'; reason: string; at?: string };

/** How many registrations one LayKetQua call may ask about. */
export const RESULTS_PER_CALL = 20;

const LABELS: Record<string, string> = {
  '1': 'Chờ tiếp nhận',
  '2': 'Yêu cầu bổ sung',
  '3': 'Đang xử lý',
  '4': 'Có kết quả',
  '5': 'Đã trả kết quả',
  '6': 'Từ chối',
};

/** One LayKetQua entry as a stage; an unknown code is still a wait (the registry has not decided). */
export function toCivilResult(r: CivilResultWire): CivilResult {
  const code = String(r.trangThai);
  const at = fromVnStamp(r.thoiGianThucHien);
  const when = at ? { at } : {};
  switch (code) {
    case '2':
      return {
        status: 'supplement',
        deadline: fromVnStamp(r.hanBoSungHoSo) ?? null,
        note: r.noiDungXuLy ?? r.ghiChu ?? '',
        ...when,
      };
    case '4':
    case '5':
      return { status: 'done', stage: code, result: r.ketQuaXuLy ?? {}, ...when };
    case '6':
      return { status: 'refused', reason: r.noiDungXuLy ?? r.ghiChu ?? '', ...when };
    default:
      return { status: 'waiting', stage: code, label: LABELS[code] ?? code, ...when };
  }
}

/** Typed client of the civil-status registry: submit, amend, then poll for the asynchronous result. */
export class CivilStatusClient {
  private readonly session: BearerSession;

  constructor(
    private readonly options: CivilStatusClientOptions,
    gateway: PortalGateway,
    private readonly agent: Dispatcher = keepAliveAgent(gateway.options.maxConcurrent),
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

  /**
   * Submits a registration (or its corrected version while the registry has not decided). A
   * repeat of one the registry holds ("đã được tiếp nhận") is success: it keeps the first.
   */
  async submit(
    registration: CivilRegistration,
    maDonVi: string,
    correlationId: string,
  ): Promise<'received' | 'already-received'> {
    return this.post('NhanDKHT', toSubmission(registration, maDonVi), correlationId);
  }

  /** Sends an amendment of a registration the registry holds, once per `maYeuCau`. */
  async amend(
    amendment: RegistrationAmended,
    module: CivilModule,
    maDonVi: string,
    maYeuCau: string,
    correlationId: string,
  ): Promise<'received' | 'already-received'> {
    return this.post(
      'CaiChinhDKHT',
      toAmendment(amendment, module, maDonVi, maYeuCau),
      correlationId,
    );
  }

  /** The stage of each registration asked about (at most RESULTS_PER_CALL), by maHoSoMCDT. */
  async results(
    ids: string[],
    maTinh: string,
    module: CivilModule,
    correlationId: string,
  ): Promise<Map<string, CivilResult>> {
    const answer = await this.session.call('LayKetQua', correlationId, async (ctx, bearer) => {
      const { body } = await exchangeJson<LayKetQuaAnswer>(
        this.agent,
        ctx,
        'POST',
        `${this.options.baseUrl}/hotich/LayKetQua`,
        {
          body: JSON.stringify({ maDinhDanhHoSo: ids, maTinh, module }),
          headers: { authorization: bearer },
        },
      );
      ctx.note({ portalCode: String(body.status) });
      if (String(body.status) !== '1')
        throw new PortalCallError(
          'PORTAL_REJECTED',
          'the civil-status registry refused LayKetQua',
          {
            portalCode: String(body.status),
            portalMessage: body.errorDescription ?? '',
          },
        );
      return body;
    });
    return new Map((answer.value ?? []).map((r) => [r.maHoSoMCDT, toCivilResult(r)]));
  }

  private async post(
    operation: 'NhanDKHT' | 'CaiChinhDKHT',
    body: Record<string, unknown>,
    correlationId: string,
  ): Promise<'received' | 'already-received'> {
    return this.session.call(operation, correlationId, async (ctx, bearer) => {
      const { body: answer } = await exchangeJson<CivilAnswer>(
        this.agent,
        ctx,
        'POST',
        `${this.options.baseUrl}/hotich/${operation}`,
        { body: JSON.stringify(body), headers: { authorization: bearer } },
      );
      return classify(ctx, operation, answer);
    });
  }
}

function classify(
  ctx: AttemptContext,
  operation: string,
  answer: CivilAnswer,
): 'received' | 'already-received' {
  const text = `${answer.statusDescription ?? ''} ${answer.errorDescription ?? ''}`;
  const code =
    answer.errorCode === undefined || answer.errorCode === null ? '' : String(answer.errorCode);
  ctx.note({ portalCode: code || String(answer.status) });
  if (ALREADY_RECEIVED.test(text)) return 'already-received';
  if (String(answer.status) === '1') return 'received';
  throw new PortalCallError('PORTAL_REJECTED', `the civil-status registry refused ${operation}`, {
    portalCode: code || String(answer.status),
    portalMessage: answer.errorDescription ?? answer.statusDescription ?? '',
  });
}
