/** A province-level unit: a province (tỉnh) or a centrally-governed city (thành phố). */
export interface Province {
  /** 2-digit code (Decision 19/2025/QĐ-TTg). */
  code: string;
  name: string;
  /** ISO date from which this code means this unit. */
  effectiveFrom: string;
  /** ISO date after which it no longer does (undefined: still in force). */
  effectiveTo?: string;
}

export const REFORM_DATE = '2025-07-01';

const current = (code: string, name: string): Province => ({
  code,
  name,
  effectiveFrom: REFORM_DATE,
});

/** The 34 provinces in force from 2025-07-01 (Resolution 202/2025/QH15). */
export const PROVINCES: readonly Province[] = Object.freeze([
  current('01', 'Thành phố Hà Nội'),
  current('04', 'Cao Bằng'),
  current('08', 'Tuyên Quang'),
  current('11', 'Điện Biên'),
  current('12', 'Lai Châu'),
  current('14', 'Sơn La'),
  current('15', 'Lào Cai'),
  current('19', 'Thái Nguyên'),
  current('20', 'Lạng Sơn'),
  current('22', 'Quảng Ninh'),
  current('24', 'Bắc Ninh'),
  current('25', 'Phú Thọ'),
  current('31', 'Thành phố Hải Phòng'),
  current('33', 'Hưng Yên'),
  current('37', 'Ninh Bình'),
  current('38', 'Thanh Hóa'),
  current('40', 'Nghệ An'),
  current('42', 'Hà Tĩnh'),
  current('44', 'Quảng Trị'),
  current('46', 'Thành phố Huế'),
  current('48', 'Thành phố Đà Nẵng'),
  current('51', 'Quảng Ngãi'),
  current('52', 'Gia Lai'),
  current('56', 'Khánh Hòa'),
  current('66', 'Đắk Lắk'),
  current('68', 'Lâm Đồng'),
  current('75', 'Đồng Nai'),
  current('79', 'Thành phố Hồ Chí Minh'),
  current('80', 'Tây Ninh'),
  current('82', 'Đồng Tháp'),
  current('86', 'Vĩnh Long'),
  current('91', 'An Giang'),
  current('92', 'Thành phố Cần Thơ'),
  current('96', 'Cà Mau'),
]);

const former = (code: string, name: string): Province => ({
  code,
  name,
  effectiveFrom: '2008-08-01',
  effectiveTo: '2025-06-30',
});

/**
 * The 63 provinces before 2025-07-01. Still needed: personal IDs issued before the reform carry
 * these codes (as 0 + code) and records from before it name them. A code that both lists share
 * may mean a different territory before and after the reform (e.g. 24 was Bắc Giang, is Bắc Ninh).
 */
export const PROVINCES_BEFORE_2025: readonly Province[] = Object.freeze(
  (
    [
      ['01', 'Thành phố Hà Nội'],
      ['02', 'Hà Giang'],
      ['04', 'Cao Bằng'],
      ['06', 'Bắc Kạn'],
      ['08', 'Tuyên Quang'],
      ['10', 'Lào Cai'],
      ['11', 'Điện Biên'],
      ['12', 'Lai Châu'],
      ['14', 'Sơn La'],
      ['15', 'Yên Bái'],
      ['17', 'Hòa Bình'],
      ['19', 'Thái Nguyên'],
      ['20', 'Lạng Sơn'],
      ['22', 'Quảng Ninh'],
      ['24', 'Bắc Giang'],
      ['25', 'Phú Thọ'],
      ['26', 'Vĩnh Phúc'],
      ['27', 'Bắc Ninh'],
      ['30', 'Hải Dương'],
      ['31', 'Thành phố Hải Phòng'],
      ['33', 'Hưng Yên'],
      ['34', 'Thái Bình'],
      ['35', 'Hà Nam'],
      ['36', 'Nam Định'],
      ['37', 'Ninh Bình'],
      ['38', 'Thanh Hóa'],
      ['40', 'Nghệ An'],
      ['42', 'Hà Tĩnh'],
      ['44', 'Quảng Bình'],
      ['45', 'Quảng Trị'],
      ['46', 'Thừa Thiên Huế'],
      ['48', 'Thành phố Đà Nẵng'],
      ['49', 'Quảng Nam'],
      ['51', 'Quảng Ngãi'],
      ['52', 'Bình Định'],
      ['54', 'Phú Yên'],
      ['56', 'Khánh Hòa'],
      ['58', 'Ninh Thuận'],
      ['60', 'Bình Thuận'],
      ['62', 'Kon Tum'],
      ['64', 'Gia Lai'],
      ['66', 'Đắk Lắk'],
      ['67', 'Đắk Nông'],
      ['68', 'Lâm Đồng'],
      ['70', 'Bình Phước'],
      ['72', 'Tây Ninh'],
      ['74', 'Bình Dương'],
      ['75', 'Đồng Nai'],
      ['77', 'Bà Rịa - Vũng Tàu'],
      ['79', 'Thành phố Hồ Chí Minh'],
      ['80', 'Long An'],
      ['82', 'Tiền Giang'],
      ['83', 'Bến Tre'],
      ['84', 'Trà Vinh'],
      ['86', 'Vĩnh Long'],
      ['87', 'Đồng Tháp'],
      ['89', 'An Giang'],
      ['91', 'Kiên Giang'],
      ['92', 'Thành phố Cần Thơ'],
      ['93', 'Hậu Giang'],
      ['94', 'Sóc Trăng'],
      ['95', 'Bạc Liêu'],
      ['96', 'Cà Mau'],
    ] as const
  ).map(([code, name]) => former(code, name)),
);

/** The province a code means on a given date (ISO yyyy-mm-dd; default: today). */
export function provinceAt(
  code: string,
  date: string = new Date().toISOString().slice(0, 10),
): Province | undefined {
  const list = date >= REFORM_DATE ? PROVINCES : PROVINCES_BEFORE_2025;
  return list.find((p) => p.code === code);
}

/** Province codes that may open a personal ID: "0" + any province code, before or after 2025. */
export const PERSONAL_ID_PROVINCE_PREFIXES: ReadonlySet<string> = new Set(
  [...PROVINCES_BEFORE_2025, ...PROVINCES].map((p) => `0${p.code}`),
);
