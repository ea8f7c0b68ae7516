/**
 * National reference data a DVCQG integration needs beyond the unit list: the procedure catalogue
 * (MaTTHC base codes) and the provinces' letter codes in DVCQG unit e-identifiers. Sources:
 * public integrations (docs/domain.md §1 and the wire-shapes table); what they do not show is
 * marked synthetic so it is never mistaken for a fact.
 */

export interface CatalogueProcedure {
  name: string;
  fieldCode: string;
  fieldName: string;
}

/**
 * Procedures by base code (MaTTHC is `{base}.000.00.00.{province letter code}`). Names as the
 * public catalogue gives them; confirm against the portal's `LayThuTuc` where possible.
 */
export const PROCEDURE_CATALOGUE: Readonly<Record<string, CatalogueProcedure>> = {
  '1.001193': { name: 'Thủ tục đăng ký khai sinh', fieldCode: 'HT', fieldName: 'Hộ tịch' },
  '1.000656': { name: 'Thủ tục đăng ký khai tử', fieldCode: 'HT', fieldName: 'Hộ tịch' },
  '1.000894': { name: 'Thủ tục đăng ký kết hôn', fieldCode: 'HT', fieldName: 'Hộ tịch' },
  '1.004873': {
    name: 'Thủ tục cấp Giấy xác nhận tình trạng hôn nhân',
    fieldCode: 'HT',
    fieldName: 'Hộ tịch',
  },
  '1.003583': { name: 'Thủ tục đăng ký khai sinh lưu động', fieldCode: 'HT', fieldName: 'Hộ tịch' },
  '2.001263': {
    name: 'Thủ tục đăng ký nuôi con nuôi trong nước',
    fieldCode: 'NCN',
    fieldName: 'Nuôi con nuôi',
  },
  '2.000815': {
    name: 'Chứng thực bản sao từ bản chính giấy tờ, văn bản',
    fieldCode: 'CT',
    fieldName: 'Chứng thực',
  },
  '1.004222': {
    name: 'Đăng ký thường trú',
    fieldCode: 'CTR',
    fieldName: 'Đăng ký, quản lý cư trú',
  },
  '2.000986': {
    name: 'Liên thông thủ tục hành chính về đăng ký khai sinh, đăng ký thường trú, cấp thẻ bảo hiểm y tế cho trẻ em dưới 6 tuổi',
    fieldCode: 'HT',
    fieldName: 'Hộ tịch',
  },
  '1.006714': {
    name: 'Liên thông thủ tục hành chính về đăng ký khai tử, xóa đăng ký thường trú, hưởng chế độ tử tuất, hỗ trợ chi phí mai táng',
    fieldCode: 'HT',
    fieldName: 'Hộ tịch',
  },
  // Not in the public material we found (kept for land dossiers at the one-stop desk; confirm).
  '1.004227': {
    name: 'Đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất',
    fieldCode: 'DD',
    fieldName: 'Đất đai',
  },
};

/**
 * DVCQG letter codes of provinces (the `H56` of `000.00.14.H56`). Public integrations show H56
 * (Thanh Hóa), H29 (TP.HCM) and H55 (Thái Nguyên); for every other province the code here is
 * synthetic (`Z` + the province code) until the real one is confirmed.
 */
const KNOWN_LETTER_CODES: Readonly<Record<string, string>> = {
  '38': 'H56',
  '79': 'H29',
  '19': 'H55',
};

export function provinceLetterCode(provinceCode: string): string {
  return KNOWN_LETTER_CODES[provinceCode] ?? `Z${provinceCode}`;
}

/**
 * The DVCQG unit e-identifier of a commune's one-stop desk, in the real form
 * `000.{2 digits}.{2 digits}.{letter code}` (e.g. `000.00.14.H56`). There is no district level
 * since July 2025: the middle pair is 00 and the last pair comes from the commune code
 * (illustrative: the real numbering is the province's).
 */
export function dvcqgUnitCode(commune: { code: string; provinceCode: string }): string {
  return `000.00.${commune.code.slice(-2)}.${provinceLetterCode(commune.provinceCode)}`;
}
