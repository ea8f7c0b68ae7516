import { Injectable } from '@nestjs/common';
import { PROCEDURE_CATALOGUE } from '@lienthong/admin-units';
import { canonical } from '../common/records';
import { EffectsStore } from '../effects/effects.store';
import { TokenStore } from '../auth/token.store';
import { FaultRegistry } from '../faults/fault-registry.service';
import { PortalSimSettings } from '../../config/portal-sim.settings';
import { DvcqgStore } from './dvcqg.store';
import { DVCQG_CODES, DVCQG_MESSAGES, headerProblem, stepProblem } from './dvcqg.rules';
import type { DossierHeader } from './dvcqg.rules';

export interface DvcqgAnswer {
  error_code: string;
  message: string;
  data?: unknown;
  result?: unknown[];
  session?: string;
  expires_in?: number;
}

/**
 * "Already exists", in one of the forms public integrations meet: 03, 3, -3, or a code of its own
 * with only the words "đã tồn tại" (picked per dossier, so every form is exercised).
 */
function alreadyExists(maHoSo: string): { error_code: string; message: string } {
  const forms = [
    { error_code: DVCQG_CODES.alreadyExists, message: DVCQG_MESSAGES.alreadyExists },
    { error_code: '3', message: DVCQG_MESSAGES.alreadyExists },
    { error_code: '-3', message: 'Mã hồ sơ trùng' },
    { error_code: '-1', message: `Hồ sơ ${maHoSo} đã tồn tại trên hệ thống` },
  ];
  let h = 0;
  for (const ch of maHoSo) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return forms[h % forms.length] as { error_code: string; message: string };
}

/** The DVCQG dossier-sync API: one JSON POST per operation, every call carrying a session. */
@Injectable()
export class DvcqgService {
  constructor(
    private readonly store: DvcqgStore,
    private readonly tokens: TokenStore,
    private readonly effects: EffectsStore,
    private readonly faults: FaultRegistry,
    private readonly settings: PortalSimSettings,
  ) {}

  async login(username: unknown, password: unknown): Promise<DvcqgAnswer> {
    const expected = this.settings.dvcqgUsers.get(String(username));
    if (expected === undefined || expected !== password) {
      return {
        error_code: DVCQG_CODES.sessionInvalid,
        message: 'Tên đăng nhập hoặc mật khẩu không đúng',
      };
    }
    const { token, expiresIn } = await this.tokens.issue(
      'dvcqg',
      String(username),
      this.settings.sessionTtlSeconds,
    );
    return {
      error_code: DVCQG_CODES.ok,
      message: DVCQG_MESSAGES.ok,
      session: token,
      expires_in: expiresIn,
    };
  }

  async call(body: Record<string, unknown>): Promise<DvcqgAnswer> {
    const principal = await this.tokens.principal(
      'dvcqg',
      typeof body.session === 'string' ? body.session : undefined,
    );
    if (!principal)
      return { error_code: DVCQG_CODES.sessionInvalid, message: DVCQG_MESSAGES.sessionInvalid };
    const unit = typeof body.madonvi === 'string' ? body.madonvi : '';
    switch (body.service) {
      case 'DongBoHoSoMC':
        return this.syncHeaders(
          unit,
          body.isUpdating === 'True' || body.isUpdating === true,
          body.data,
        );
      case 'CapNhatTienDoHoSoMC':
        return this.pushSteps(body.data);
      case 'TraCuuHoSo':
        return this.lookup(body.mahoso);
      case 'LayThuTuc':
        return this.procedure(body.maTTHC);
      default:
        return {
          error_code: DVCQG_CODES.unknownService,
          message: `Dịch vụ không hợp lệ: ${String(body.service)}`,
        };
    }
  }

  private async syncHeaders(
    unit: string,
    isUpdating: boolean,
    data: unknown,
  ): Promise<DvcqgAnswer> {
    if (!Array.isArray(data) || data.length === 0)
      return { error_code: DVCQG_CODES.invalidData, message: 'Thiếu dữ liệu hồ sơ (data)' };
    const results: Array<{ MaHoSo: unknown; error_code: string; message: string }> = [];
    for (const item of data as Array<Record<string, unknown>>) {
      results.push({ MaHoSo: item.MaHoSo, ...(await this.syncHeader(unit, isUpdating, item)) });
    }
    const failed = results.find((r) => r.error_code !== DVCQG_CODES.ok);
    return failed
      ? { error_code: failed.error_code, message: failed.message, data: results }
      : { error_code: DVCQG_CODES.ok, message: DVCQG_MESSAGES.ok, data: results };
  }

  private async syncHeader(
    unit: string,
    isUpdating: boolean,
    item: Record<string, unknown>,
  ): Promise<{ error_code: string; message: string }> {
    const outcome = await this.headerOutcome(unit, isUpdating, item);
    if (outcome.error_code === DVCQG_CODES.ok && typeof item.MaHoSo === 'string') {
      const drift = this.faults.shouldDrift('dvcqg');
      if (drift) await this.store.drift(item.MaHoSo, drift);
    }
    return outcome;
  }

  private async headerOutcome(
    unit: string,
    isUpdating: boolean,
    item: Record<string, unknown>,
  ): Promise<{ error_code: string; message: string }> {
    // An insert of a valid header (what every new dossier sends) takes one statement; whether
    // the portal held it already is the insert's own answer. The rest read the stored header.
    if (!isUpdating && headerProblem(item, undefined) === undefined) {
      const header = item as DossierHeader;
      return (await this.store.insertNew(unit, header))
        ? { error_code: DVCQG_CODES.ok, message: DVCQG_MESSAGES.ok }
        : alreadyExists(header.MaHoSo);
    }
    return this.store.db.transaction(async (tx) => {
      const previous =
        typeof item.MaHoSo === 'string'
          ? await this.store.headerForUpdate(tx, item.MaHoSo)
          : undefined;
      if (!isUpdating && previous) return alreadyExists(previous.MaHoSo);
      if (isUpdating && !previous)
        return { error_code: DVCQG_CODES.notFound, message: DVCQG_MESSAGES.notFound };
      const problem = headerProblem(item, previous);
      if (problem) return { error_code: DVCQG_CODES.invalidData, message: problem };
      const header = item as DossierHeader;
      const changed = !previous || canonical(previous) !== canonical(header);
      if (!previous) await this.store.insert(tx, unit, header);
      else if (changed) await this.store.update(tx, header);
      await this.effects.record(tx, 'dvcqg', header.MaHoSo, 'header', changed);
      return { error_code: DVCQG_CODES.ok, message: DVCQG_MESSAGES.ok };
    });
  }

  private async pushSteps(data: unknown): Promise<DvcqgAnswer> {
    if (!Array.isArray(data) || data.length === 0)
      return { error_code: DVCQG_CODES.invalidData, message: 'Thiếu dữ liệu tiến độ (data)' };
    if (data.length > 10)
      return { error_code: DVCQG_CODES.tooManySteps, message: DVCQG_MESSAGES.tooManySteps };
    const steps = data as Array<Record<string, unknown>>;
    const problem = steps.map(stepProblem).find((p) => p !== undefined);
    if (problem) return { error_code: DVCQG_CODES.invalidData, message: problem };
    // All or nothing: a batch of steps is one call.
    const { missing } = await this.store.appendSteps(steps);
    return missing === undefined
      ? { error_code: DVCQG_CODES.ok, message: DVCQG_MESSAGES.ok }
      : { error_code: DVCQG_CODES.notFound, message: `${DVCQG_MESSAGES.notFound}: ${missing}` };
  }

  /** A list, empty when the portal holds nothing; the header as held, never its processing steps. */
  private async lookup(maHoSo: unknown): Promise<DvcqgAnswer> {
    const found = typeof maHoSo === 'string' ? await this.store.lookup(maHoSo) : undefined;
    return {
      error_code: DVCQG_CODES.ok,
      message: DVCQG_MESSAGES.ok,
      result: found ? [{ ...found.header, MaTrangThai: String(found.header.TrangThaiHoSo) }] : [],
    };
  }

  /** The catalogue shape: [{TENTTHC, LINHVUCTHUCHIEN: [{MALINHVUC, TENLINHVUC}]}], empty when unknown. */
  private procedure(maTTHC: unknown): DvcqgAnswer {
    const code = typeof maTTHC === 'string' ? maTTHC : '';
    const p = PROCEDURE_CATALOGUE[code.slice(0, 8)];
    return {
      error_code: DVCQG_CODES.ok,
      message: DVCQG_MESSAGES.ok,
      result: p
        ? [
            {
              TENTTHC: p.name,
              LINHVUCTHUCHIEN: [{ MALINHVUC: p.fieldCode, TENLINHVUC: p.fieldName }],
            },
          ]
        : [],
    };
  }
}
