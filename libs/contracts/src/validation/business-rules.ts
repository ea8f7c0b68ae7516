import type {
  BirthRegistered,
  DeathRegistered,
  DossierUpserted,
  LandRegistrationReceived,
  MarriageRegistered,
} from '../generated/payloads';
import type { EventType } from '../generated/catalog';
import { personalIdIssues } from './personal-id';
import type { ValidationIssue } from './validation-failure';

/**
 * Rules across fields that JSON Schema cannot state (date order, ID consistency, legal ages).
 * They run only on payloads that already passed their schema, so fields have their types.
 */
type Rule<T> = (payload: T) => ValidationIssue[];

const ms = (iso: string) => Date.parse(iso);

/** `later` must not be before `earlier` (both optional: absent fields are the schema's concern). */
function notBefore<T extends object>(
  payload: T,
  later: keyof T & string,
  earlier: keyof T & string,
): ValidationIssue[] {
  const a = payload[later] as unknown;
  const b = payload[earlier] as unknown;
  if (typeof a !== 'string' || typeof b !== 'string') return [];
  return ms(a) < ms(b)
    ? [
        {
          path: `/${later}`,
          field: later,
          rule: 'date-order',
          message: `${later}: must not be before ${earlier}`,
        },
      ]
    : [];
}

/** Age in whole years on a date. */
function ageOn(birthDate: string, on: string): number {
  const b = new Date(birthDate);
  const d = new Date(on);
  let age = d.getUTCFullYear() - b.getUTCFullYear();
  if (
    d.getUTCMonth() < b.getUTCMonth() ||
    (d.getUTCMonth() === b.getUTCMonth() && d.getUTCDate() < b.getUTCDate())
  )
    age -= 1;
  return age;
}

const dossierUpserted: Rule<DossierUpserted> = (p) => [
  ...notBefore(p, 'NgayTiepNhan', 'NgayNopHoSo'),
  ...notBefore(p, 'NgayHenTra', 'NgayTiepNhan'),
  ...notBefore(p, 'NgayKetThucXuLy', 'NgayTiepNhan'),
  ...notBefore(p, 'NgayTra', 'NgayTiepNhan'),
  ...(p.DinhDanhCHS ?? []).flatMap((d, i) =>
    d.LoaiDinhDanh === 1
      ? personalIdIssues(
          d.SoDinhDanh,
          `/DinhDanhCHS/${i}/SoDinhDanh`,
          `DinhDanhCHS[${i}].SoDinhDanh`,
        )
      : [],
  ),
];

const birthRegistered: Rule<BirthRegistered> = (p) => [
  ...personalIdIssues(p.meSoDDCN, '/meSoDDCN', 'meSoDDCN', { birthDate: p.meNgaySinh, sex: 2 }),
  ...(p.chaSoDDCN
    ? personalIdIssues(p.chaSoDDCN, '/chaSoDDCN', 'chaSoDDCN', { birthDate: p.chaNgaySinh, sex: 1 })
    : []),
  ...personalIdIssues(p.nycSoDDCN, '/nycSoDDCN', 'nycSoDDCN'),
  ...notBefore(p, 'nksNgaySinh', 'meNgaySinh'),
  ...(p.ngayDangKy && ms(p.ngayDangKy) < ms(p.nksNgaySinh)
    ? [
        {
          path: '/ngayDangKy',
          field: 'ngayDangKy',
          rule: 'date-order',
          message: 'ngayDangKy: must not be before nksNgaySinh',
        },
      ]
    : []),
];

const deathRegistered: Rule<DeathRegistered> = (p) => [
  ...(p.nktLoaiGiayToTuyThan === 1
    ? personalIdIssues(p.nktSoGiayToTuyThan, '/nktSoGiayToTuyThan', 'nktSoGiayToTuyThan', {
        birthDate: p.nktNgaySinh,
        sex: p.nktGioiTinh,
      })
    : []),
  ...personalIdIssues(p.nycSoDDCN, '/nycSoDDCN', 'nycSoDDCN'),
  ...(ms(p.nktNgayChet) < ms(p.nktNgaySinh)
    ? [
        {
          path: '/nktNgayChet',
          field: 'nktNgayChet',
          rule: 'date-order',
          message: 'nktNgayChet: must not be before nktNgaySinh',
        },
      ]
    : []),
  ...(p.gbtNgay < p.nktNgayChet.slice(0, 10)
    ? [
        {
          path: '/gbtNgay',
          field: 'gbtNgay',
          rule: 'date-order',
          message: 'gbtNgay: the death notice cannot predate the death (nktNgayChet)',
        },
      ]
    : []),
];

/** Law on Marriage and Family 2014, art. 8: a man from 20, a woman from 18 years of age. */
const marriageRegistered: Rule<MarriageRegistered> = (p) => {
  const on = p.ngayDangKy.slice(0, 10);
  const issues = [
    ...personalIdIssues(p.chongSoDDCN, '/chongSoDDCN', 'chongSoDDCN', {
      birthDate: p.chongNgaySinh,
      sex: 1,
    }),
    ...personalIdIssues(p.voSoDDCN, '/voSoDDCN', 'voSoDDCN', { birthDate: p.voNgaySinh, sex: 2 }),
  ];
  if (ageOn(p.chongNgaySinh, on) < 20) {
    issues.push({
      path: '/chongNgaySinh',
      field: 'chongNgaySinh',
      rule: 'marriage-minimum-age',
      message: 'chongNgaySinh: the husband must be at least 20 on ngayDangKy',
    });
  }
  if (ageOn(p.voNgaySinh, on) < 18) {
    issues.push({
      path: '/voNgaySinh',
      field: 'voNgaySinh',
      rule: 'marriage-minimum-age',
      message: 'voNgaySinh: the wife must be at least 18 on ngayDangKy',
    });
  }
  return issues;
};

const landRegistrationReceived: Rule<LandRegistrationReceived> = (p) => {
  const seen = new Map<string, number>();
  const issues = notBefore(p, 'NgayHenTra', 'NgayTiepNhan');
  p.ThongTinThuaDat.forEach((parcel, i) => {
    const key = `${parcel.SoHieuBanDo}/${parcel.SoThuTuThua}`;
    const first = seen.get(key);
    if (first !== undefined) {
      issues.push({
        path: `/ThongTinThuaDat/${i}`,
        field: `ThongTinThuaDat[${i}]`,
        rule: 'parcel-unique',
        message: `ThongTinThuaDat[${i}]: the same parcel (SoHieuBanDo + SoThuTuThua) as ThongTinThuaDat[${first}]`,
      });
    } else seen.set(key, i);
  });
  return issues;
};

const RULES: Partial<Record<EventType, Rule<never>>> = {
  'vn.lienthong.dossier.upserted.v1': dossierUpserted,
  'vn.lienthong.civil-status.birth-registered.v1': birthRegistered,
  'vn.lienthong.civil-status.death-registered.v1': deathRegistered,
  'vn.lienthong.civil-status.marriage-registered.v1': marriageRegistered,
  'vn.lienthong.land.registration-received.v1': landRegistrationReceived,
};

export function businessRuleIssues(type: EventType, payload: unknown): ValidationIssue[] {
  const rule = RULES[type] as Rule<unknown> | undefined;
  return rule ? rule(payload) : [];
}
