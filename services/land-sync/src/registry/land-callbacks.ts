import { LAND_CALLBACKS } from '@lienthong/portal-clients';
import type { LandCallbackKind } from '@lienthong/portal-clients';
import type { InboundFact, PollAnswer } from '@lienthong/sync-engine';

export type CallbackReading =
  | { ok: true; soBienNhan: string; securityCode: string; fact: Omit<InboundFact, 'reference'> }
  | { ok: false; field: string; message: string };

const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/**
 * A registry callback (VBDLIS style, docs/domain.md "Land") as a fact about the dossier it names:
 * LuanChuyen (routed), ChoBoSung (supplement requested), DaBoSung (supplemented),
 * DongBoKetQuaThue (tax notice: published without the payer's name), KetThuc (finished: the
 * dossier is looked up at once, and the lookup records the result with any tax notice). Stage codes are the ones a lookup answers, so a later lookup of the same
 * stage is no news. Its id is its kind, receipt number and time: a repeat applies once.
 */
export function readCallback(kind: string, body: unknown): CallbackReading {
  if (!(LAND_CALLBACKS as readonly string[]).includes(kind))
    return { ok: false, field: 'path', message: `unknown callback ${kind.slice(0, 40)}` };
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const soBienNhan = text(b.SoBienNhan);
  const securityCode = text(b.SecurityCode);
  const time = text(b.ThoiGian);
  if (!soBienNhan || soBienNhan.length > 100)
    return {
      ok: false,
      field: 'SoBienNhan',
      message: 'SoBienNhan: required, at most 100 characters',
    };
  if (!securityCode) return { ok: false, field: 'SecurityCode', message: 'SecurityCode: required' };
  const at = time ? new Date(time) : undefined;
  if (!at || Number.isNaN(at.getTime()))
    return { ok: false, field: 'ThoiGian', message: 'ThoiGian: required, an RFC 3339 date-time' };
  const answer = toAnswer(kind as LandCallbackKind, b, at);
  return {
    ok: true,
    soBienNhan,
    securityCode,
    fact: { id: `${kind}:${soBienNhan}:${at.toISOString()}`, at, answer },
  };
}

function toAnswer(kind: LandCallbackKind, b: Record<string, unknown>, at: Date): PollAnswer {
  switch (kind) {
    case 'LuanChuyen':
      return { kind: 'waiting', stage: { code: 'ROUTED', label: 'Đã luân chuyển' } };
    case 'ChoBoSung':
      return {
        kind: 'supplement',
        requestedAt: at.toISOString(),
        deadline: null,
        ...(text(b.NoiDung) ? { note: text(b.NoiDung) } : {}),
        stage: { code: 'SUPPLEMENT_REQUESTED', label: 'Chờ bổ sung' },
      };
    case 'DaBoSung':
      return { kind: 'waiting', stage: { code: 'SUPPLEMENTED', label: 'Đã bổ sung' } };
    case 'DongBoKetQuaThue': {
      const reference = text(b.SoThongBaoThue);
      const url = text(b.DuongDanThongBaoThue);
      return {
        kind: 'waiting',
        stage: { code: 'FINANCIAL_OBLIGATION', label: 'Thực hiện nghĩa vụ tài chính' },
        ...(reference
          ? {
              taxNotice: {
                reference: reference.slice(0, 100),
                ...(text(b.LoaiThue) ? { kind: (text(b.LoaiThue) as string).slice(0, 50) } : {}),
                ...(url && /^https?:\/\//.test(url) ? { documentUrl: url.slice(0, 2000) } : {}),
              },
            }
          : {}),
      };
    }
    case 'KetThuc':
      // The end: a lookup now reads the whole result (and a tax notice whose callback was lost).
      return { kind: 'waiting', stage: { code: 'FINISHED', label: 'Kết thúc' }, pollNow: true };
  }
}
