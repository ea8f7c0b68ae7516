import { jsonList, prepared, returnedRows } from '@lienthong/persistence';
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';
import { BatchedWrite } from '../common/batched-write';
import { canonical, share } from '../common/records';
import { countEffects, EffectsStore } from '../effects/effects.store';
import { FaultRegistry } from '../faults/fault-registry.service';
import { PortalSimSettings } from '../../config/portal-sim.settings';

export type CivilModule = 'LTKS' | 'LTKT' | 'LTKH';

/** NhanDKHT's answer (status "1" success). */
export interface CivilAnswer {
  status: string;
  statusDescription: string;
  errorCode: string | null;
  errorDescription: string | null;
}

/** LayKetQua's answer. */
export interface CivilResults {
  status: number;
  value?: Array<Record<string, unknown>>;
  errorDescription?: string;
}

interface Row {
  ma_dinh_danh_ho_so: string;
  module: CivilModule;
  ma_tinh: string;
  payload: Record<string, unknown>;
  intake_at: Date;
  ready_at: Date;
  /** What the registry will decide: accepted (a result), refused, supplement (asks once), never (no answer). */
  outcome: 'accepted' | 'refused' | 'supplement' | 'never';
  supplement_deadline: Date | null;
  result: Record<string, unknown> | null;
  refusal: string | null;
}

/** A registration as NhanDKHT received it, checked. */
interface Submission {
  id: string;
  module: CivilModule;
  maDonVi: string;
  record: Record<string, unknown>;
}

/** The birth certificate a birth registration uses up, if it names one. */
function certificateOf(s: Submission): string | null {
  return s.module === 'LTKS' && typeof s.record.maGCS === 'string' ? s.record.maGCS : null;
}

const MODULES: readonly string[] = ['LTKS', 'LTKT', 'LTKH'];

/**
 * The registry's lookups by something other than a registration's id, on tables that grow with
 * every registration: each has an index (migration LookupIndexes1763800001100), and
 * test/lookups.e2e-spec.ts checks that PostgreSQL uses it.
 */
export const CIVIL_LOOKUPS = {
  /** A registration's amendments, applied again to whatever is submitted again. */
  amendmentsOf: 'select data from civil_amendment where ma_ho_so = $1 order by received_at',
  /**
   * Whether a birth certificate (maGCS) was already used by a registration not refused. Run by
   * civil_certificate_used (migration CivilCertificateLock1763800001200) after it takes the
   * certificate's lock, not from here: kept here, word for word, for the index test.
   */
  certificateUsed: `select 1 from civil_registration
     where module = 'LTKS' and payload->>'maGCS' = $1 and outcome <> 'refused'`,
} as const;
const REQUIRED: Record<CivilModule, string[]> = {
  LTKS: ['nksHoTen', 'nksGioiTinh', 'nksNgaySinh', 'meHoTen', 'meSoGiayToTuyThan'],
  LTKT: ['nktHoTen', 'nktNgaySinh', 'nktNgayChet', 'gbtSo'],
  LTKH: ['chongHoTen', 'chongSoGiayToTuyThan', 'voHoTen', 'voSoGiayToTuyThan'],
};
const DATE_FIELDS = /Ngay(Sinh|Chet)$/;
const VN_STAMP = /^\d{2}\/\d{2}\/\d{4} \d{2}:\d{2}:\d{2}$/;
const VN_OFFSET_MS = 7 * 3_600_000;

const ok = (statusDescription: string): CivilAnswer => ({
  status: '1',
  statusDescription,
  errorCode: null,
  errorDescription: null,
});
const error = (errorCode: string, errorDescription: string): CivilAnswer => ({
  status: '0',
  statusDescription: 'Thất bại',
  errorCode,
  errorDescription,
});

function vnStamp(at: Date): string {
  const d = new Date(at.getTime() + VN_OFFSET_MS);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${p(d.getUTCDate())}/${p(d.getUTCMonth() + 1)}/${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

/**
 * LayKetQua's read: the rows of the ids, the statement's clock (stages are judged by it), and for
 * each registration decided now and not yet given its result (stageOf's "4": intake and processing
 * over, an accepting outcome) a register number, and a birth's personal ID number. `case`
 * evaluates the `nextval` of the rows it selects only.
 */
const DECIDED_NOW = `c.result is null and now() >= coalesce(c.intake_at, '-infinity') and now() >= c.ready_at
  and c.outcome not in ('never', 'supplement', 'refused')`;
const RESULTS_READ = prepared(`select c.*, (extract(epoch from now()) * 1000)::float8 as now_ms,
   case when ${DECIDED_NOW} then nextval('civil_register_no_seq') end as register_no,
   case when ${DECIDED_NOW} and c.module = 'LTKS' then nextval('civil_personal_id_seq') end as personal_no
 from civil_registration c where c.ma_dinh_danh_ho_so = any($1::text[])`);

/**
 * Stores the results drawn by RESULTS_READ where none is stored yet, and returns the ids whose
 * result a concurrent call stored first. The rows are locked in id order first, as every call locks
 * them (concurrent calls on the same registrations wait for each other, never deadlock); a row
 * whose result was stored meanwhile is checked again once locked and left out. Those stored results
 * are read by a statement of their own (RESULTS_STORED): this one's snapshot is older than the
 * commit that stored them.
 */
const RESULTS_STORE = prepared(`with d as (
   select * from rows from (unnest($1::text[]), jsonb_array_elements($2::jsonb)) as d(id, result)
 ), undecided as (
   select c.ma_dinh_danh_ho_so as id from civil_registration c
   where c.ma_dinh_danh_ho_so = any($1::text[]) and c.result is null
   order by c.ma_dinh_danh_ho_so for update
 ), stored as (
   update civil_registration c set result = d.result from d join undecided u using (id)
   where c.ma_dinh_danh_ho_so = d.id
   returning c.ma_dinh_danh_ho_so
 )
 select d.id from d where not exists (select 1 from stored s where s.ma_dinh_danh_ho_so = d.id)`);
const RESULTS_STORED = `select ma_dinh_danh_ho_so as id, result from civil_registration
  where ma_dinh_danh_ho_so = any($1::text[])`;

/**
 * Stores new registrations, $1–$9 one element per registration, with their write effects, and
 * returns the ids it stored (an id the registry holds is left alone: on conflict do nothing). A
 * birth whose certificate (maGCS) a registration not refused already used is stored refused. Two
 * statements storing births on one certificate at once (two in flight, or two portal-sim
 * instances) must not both find it unused: civil_certificate_used (migration
 * CivilCertificateLock1763800001200) takes the certificate's lock, held until the statement
 * commits, before it looks; the rows are checked in certificate
 * order, so that two statements wanting the same certificates wait for each other, not deadlock.
 * (One id in two statements at once can still deadlock with them; PostgreSQL then fails one, and
 * BatchedWrite tries its registrations one by one.) Its callers never put one certificate or one
 * id twice in a statement (BatchedWrite).
 */
const NEW_REGISTRATIONS = prepared(`with input as (
   select * from rows from (unnest($1::text[]), unnest($2::text[]), unnest($3::text[]), unnest($4::text[]),
     unnest($5::text[]), jsonb_array_elements($6::jsonb), unnest($7::timestamptz[]), unnest($8::timestamptz[]),
     unnest($9::text[]))
     as t(certificate, id, module, ma_tinh, ma_don_vi, payload, intake_at, ready_at, outcome)
 ), checked as (
   select i.*, case when i.certificate is null then false else civil_certificate_used(i.certificate) end as used
   from (select * from input order by certificate, id) as i
 ), registration as (
   insert into civil_registration (ma_dinh_danh_ho_so, module, ma_tinh, ma_don_vi, payload,
     intake_at, ready_at, outcome, refusal)
   select id, module, ma_tinh, ma_don_vi, payload, intake_at, ready_at,
     case when used then 'refused' else outcome end,
     case when used then 'Giấy chứng sinh đã được sử dụng để đăng ký khai sinh' end
   from checked
   on conflict do nothing
   returning ma_dinh_danh_ho_so),
 effect as (${countEffects(`select 'civil-status', ma_dinh_danh_ho_so, 'submit', 1, 1 from registration`)})
 select ma_dinh_danh_ho_so as id from registration`);

/**
 * The Ministry of Justice civil-status registry (docs/domain.md, "Civil status"): NhanDKHT takes a
 * registration (the record as a JSON string in `data`); LayKetQua answers its stage: "1" waiting
 * for intake, "3" processing, then "4" with the result (a birth's carries the child's new personal
 * ID), "6" refused, or "2" a supplement request with a deadline, answered by submitting the record
 * again. Each registration's processing time varies (results come out of order); a configured
 * share never gets an answer. CaiChinhDKHT amends a registration it holds (modelled).
 */
@Injectable()
export class CivilStatusService {
  /** New registrations submitted at the same moment, stored together (insertNew). */
  private readonly newRegistrations = new BatchedWrite<Submission, boolean>({
    write: async (round) => {
      const stored = await this.insertNew(round);
      return round.map((s) => stored.has(s.id));
    },
    // The certificate's check sees only what was committed before the statement.
    keysOf: (s) => {
      const certificate = certificateOf(s);
      return [`id:${s.id}`, ...(certificate ? [`maGCS:${certificate}`] : [])];
    },
  });

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly effects: EffectsStore,
    private readonly faults: FaultRegistry,
    private readonly settings: PortalSimSettings,
  ) {}

  async submit(body: Record<string, unknown>): Promise<CivilAnswer> {
    const checked = this.check(body);
    if ('errorCode' in checked) return checked;
    // Nearly every call brings a registration the registry has never seen: one statement stores it
    // (behind the certificate's lock for a birth). One it holds goes the long way.
    // (Unless it was deleted meanwhile: then it is new again.)
    let answer: CivilAnswer | undefined;
    while (!answer)
      answer =
        (await this.acceptNew(checked)) ??
        (await this.db.transaction((tx) => this.acceptAgain(tx, checked)));
    const drift = answer.status === '1' ? this.faults.shouldDrift('civil-status') : undefined;
    if (drift) await this.drift(checked.id, drift);
    return answer;
  }

  private check(body: Record<string, unknown>): CivilAnswer | Submission {
    const { module, maDonVi, maHoSoMCDT: id, ngayTiepNhan, data } = body;
    if (typeof module !== 'string' || !MODULES.includes(module))
      return error('2', 'Mã nghiệp vụ (module) không hợp lệ: LTKS, LTKT hoặc LTKH');
    if (typeof maDonVi !== 'string' || maDonVi.length === 0) return error('2', 'Thiếu maDonVi');
    if (typeof id !== 'string' || id.length === 0 || id.length > 100)
      return error('2', 'Thiếu hoặc sai maHoSoMCDT');
    if (typeof ngayTiepNhan !== 'string' || !VN_STAMP.test(ngayTiepNhan))
      return error('2', 'ngayTiepNhan phải có dạng dd/MM/yyyy HH:mm:ss');
    if (typeof data !== 'string') return error('2', 'data phải là chuỗi JSON của hồ sơ');
    let record: unknown;
    try {
      record = JSON.parse(data);
    } catch {
      return error('2', 'data không phải JSON hợp lệ');
    }
    if (!record || typeof record !== 'object' || Array.isArray(record))
      return error('2', 'data phải là một đối tượng');
    const fields = record as Record<string, unknown>;
    const missing = REQUIRED[module as CivilModule].find(
      (f) => fields[f] === undefined || fields[f] === '',
    );
    if (missing) return error('2', `Thiếu trường bắt buộc: ${missing}`);
    const badDate = Object.entries(fields).find(
      ([k, v]) => DATE_FIELDS.test(k) && (typeof v !== 'string' || !/^\d{2}\.\d{2}\.\d{4}/.test(v)),
    );
    if (badDate) return error('2', `${badDate[0]} phải có dạng dd.MM.yyyy`);
    return { id, module: module as CivilModule, maDonVi, record: fields };
  }

  /** A registration sent again: a duplicate, a correction or a supplement. Undefined if it is gone. */
  private async acceptAgain(tx: EntityManager, s: Submission): Promise<CivilAnswer | undefined> {
    const rows: Row[] = await tx.query(
      'select * from civil_registration where ma_dinh_danh_ho_so = $1 for update',
      [s.id],
    );
    const row = rows[0];
    if (!row) return undefined;
    const now = Date.now();
    // Amendments already recorded stay applied to whatever is submitted again.
    const amendments: Array<{
      data: { noiDungThayDoi?: Array<{ truong?: unknown; giaTriMoi?: unknown }> };
    }> = await tx.query(CIVIL_LOOKUPS.amendmentsOf, [s.id]);
    for (const a of amendments)
      for (const c of a.data.noiDungThayDoi ?? [])
        if (typeof c.truong === 'string') s.record[c.truong] = c.giaTriMoi;
    const stage = this.stageOf(row, now);
    if (canonical(row.payload) === canonical(s.record)) {
      await this.effects.record(tx, 'civil-status', s.id, 'submit', false);
      return ok('Hồ sơ đã được tiếp nhận trước đó');
    }
    if (stage === '4' || stage === '6')
      return error('10', 'Hồ sơ đã có kết quả xử lý; thay đổi phải làm thủ tục cải chính');
    // A corrected record before the decision; after a supplement request it is the supplement.
    const supplemented = stage === '2';
    await tx.query(
      `update civil_registration set payload = $2, updated_at = now(),
           outcome = case when $3 then 'accepted' else outcome end, supplement_deadline = null,
           ready_at = case when $3 then now() + make_interval(secs => $4::double precision / 1000) else ready_at end
         where ma_dinh_danh_ho_so = $1`,
      [s.id, s.record, supplemented, this.settings.civilResultDelayMs],
    );
    await this.effects.record(tx, 'civil-status', s.id, 'submit', true);
    return ok(supplemented ? 'Tiếp nhận hồ sơ bổ sung thành công' : 'Cập nhật hồ sơ thành công');
  }

  /**
   * A registration the registry does not hold, stored with its write effect; undefined (nothing
   * written) if it holds one with this id. Registrations submitted at the same moment are stored
   * together (newRegistrations): a statement per registration was PostgreSQL's largest cost in
   * bench:registries, nearly all of it the statement's and its commit's, not the row's.
   */
  private async acceptNew(s: Submission): Promise<CivilAnswer | undefined> {
    return (await this.newRegistrations.write(s)) ? ok('Tiếp nhận thành công') : undefined;
  }

  /** One NEW_REGISTRATIONS statement: the ids it stored (the others the registry held already). */
  private async insertNew(round: Submission[]): Promise<Set<string>> {
    const now = Date.now();
    const delay = this.settings.civilResultDelayMs;
    const columns = round.map((s) => {
      // Processing takes from half to twice the configured delay: results come back out of order.
      const ready = now + delay * (0.5 + 1.5 * share(s.id, 'delay'));
      const outcome: Row['outcome'] =
        share(s.id, 'never') < this.settings.civilNoResultRatio
          ? 'never'
          : share(s.id, 'supplement') < this.settings.civilSupplementRatio
            ? 'supplement'
            : 'accepted';
      return { s, intake: new Date(now + (ready - now) / 3), ready: new Date(ready), outcome };
    });
    const rows: Array<{ id: string }> = await this.db.query(NEW_REGISTRATIONS, [
      columns.map((c) => certificateOf(c.s)),
      columns.map((c) => c.s.id),
      columns.map((c) => c.s.module),
      columns.map((c) => (typeof c.s.record.maTinh === 'string' ? c.s.record.maTinh : '')),
      columns.map((c) => c.s.maDonVi),
      jsonList(columns.map((c) => c.s.record)),
      columns.map((c) => c.intake.toISOString()),
      columns.map((c) => c.ready.toISOString()),
      columns.map((c) => c.outcome),
    ]);
    return new Set(rows.map((r) => r.id));
  }

  /** An amendment (modelled): applied once per maYeuCau to a registration the registry holds. */
  async amend(body: Record<string, unknown>): Promise<CivilAnswer> {
    const { maHoSoMCDT: id, maYeuCau, data } = body;
    if (typeof id !== 'string' || typeof maYeuCau !== 'string' || maYeuCau.length === 0)
      return error('2', 'Thiếu maHoSoMCDT hoặc maYeuCau');
    let change: { noiDungThayDoi?: Array<{ truong?: unknown; giaTriMoi?: unknown }> };
    try {
      change = JSON.parse(String(data)) as typeof change;
    } catch {
      return error('2', 'data không phải JSON hợp lệ');
    }
    const changes = change.noiDungThayDoi;
    if (!Array.isArray(changes) || changes.length === 0) return error('2', 'Thiếu noiDungThayDoi');
    return this.db.transaction(async (tx) => {
      const rows: Row[] = await tx.query(
        'select * from civil_registration where ma_dinh_danh_ho_so = $1 for update',
        [id],
      );
      const row = rows[0];
      if (!row) return error('4', 'Không tìm thấy hồ sơ cần cải chính');
      const fresh: unknown = await tx.query(
        `insert into civil_amendment (ma_yeu_cau, ma_ho_so, data) values ($1, $2, $3)
         on conflict do nothing returning 1`,
        [maYeuCau, id, change],
      );
      if (returnedRows(fresh).length === 0) {
        await this.effects.record(tx, 'civil-status', id, 'amend', false);
        return ok('Yêu cầu cải chính đã được tiếp nhận trước đó');
      }
      const payload = { ...row.payload };
      for (const c of changes) if (typeof c.truong === 'string') payload[c.truong] = c.giaTriMoi;
      await tx.query(
        'update civil_registration set payload = $2, updated_at = now() where ma_dinh_danh_ho_so = $1',
        [id, payload],
      );
      await this.effects.record(tx, 'civil-status', id, 'amend', true);
      return ok('Tiếp nhận yêu cầu cải chính thành công');
    });
  }

  async results(body: Record<string, unknown>): Promise<CivilResults> {
    const ids = body.maDinhDanhHoSo;
    if (!Array.isArray(ids) || ids.length === 0 || ids.length > 100)
      return {
        status: 0,
        errorDescription: 'Danh sách mã định danh hồ sơ phải có từ 1 đến 100 phần tử',
      };
    const wanted = (ids as unknown[]).map(String);
    const entries = await this.resultsOf(wanted);
    const value: Array<Record<string, unknown>> = [];
    for (const id of wanted) {
      const entry = entries.get(id);
      if (entry) value.push(entry);
    }
    return { status: 1, value };
  }

  /**
   * A registration's stage at `now`. Its "4" (decided, accepting) is also written in SQL, as
   * DECIDED_NOW, for LayKetQua's read to draw register numbers in the same statement: change both.
   */
  private stageOf(row: Row, now: number): string {
    if (now < new Date(row.intake_at).getTime()) return '1';
    if (now < new Date(row.ready_at).getTime() || row.outcome === 'never') return '3';
    if (row.outcome === 'supplement') return '2';
    return row.outcome === 'refused' ? '6' : '4';
  }

  /**
   * The stage now of each registration the registry knows, by id, without a transaction: usually
   * two statements (a transaction took five or six round trips: begin, the rows locked, two
   * sequences, the update, commit). RESULTS_READ reads the rows and, for those decided now, draws
   * their register numbers (a birth's personal ID too); the update stores those results only where
   * none is stored yet. A decision is still made once: where a concurrent call stored its result
   * first (its update held the row; ours then finds a result and skips it), that result is read
   * back and answered, so concurrent asks agree. Its numbers are then gaps in the sequences.
   */
  private async resultsOf(ids: string[]): Promise<Map<string, Record<string, unknown>>> {
    const rows: Array<
      Row & { now_ms: number; register_no: string | null; personal_no: string | null }
    > = await this.db.query(RESULTS_READ, [[...new Set(ids)]]);
    const now = rows[0]?.now_ms ?? Date.now();
    const deciding = rows.filter((row) => row.register_no !== null);
    if (deciding.length > 0) {
      for (const row of deciding)
        row.result = this.resultFor(row, row.register_no as string, row.personal_no ?? undefined);
      const late: Array<{ id: string }> = await this.db.query(RESULTS_STORE, [
        deciding.map((row) => row.ma_dinh_danh_ho_so),
        JSON.stringify(deciding.map((row) => row.result)),
      ]);
      if (late.length > 0) {
        const stored: Array<Pick<Row, 'result'> & { id: string }> = await this.db.query(
          RESULTS_STORED,
          [late.map((l) => l.id)],
        );
        const first = new Map(stored.map((r) => [r.id, r.result]));
        for (const row of deciding)
          if (first.has(row.ma_dinh_danh_ho_so))
            row.result = first.get(row.ma_dinh_danh_ho_so) ?? null;
      }
    }
    return new Map(rows.map((row) => [row.ma_dinh_danh_ho_so, this.entryOf(row, now)]));
  }

  /** LayKetQua's entry of one registration at `now` (its register entry assigned if decided). */
  private entryOf(row: Row, now: number): Record<string, unknown> {
    // RESULTS_READ decided by the database's clock; JS dates drop its microseconds, so a row
    // within a millisecond of its decision may look decided here without a result: not yet.
    const judged = this.stageOf(row, now);
    const stage = judged === '4' && !row.result ? '3' : judged;
    const since = stage === '1' ? new Date(now) : stage === '3' ? row.intake_at : row.ready_at;
    const entry: Record<string, unknown> = {
      maHoSoMCDT: row.ma_dinh_danh_ho_so,
      maHoSoLT: '',
      trangThai: stage,
      thoiGianThucHien: vnStamp(new Date(since)),
      ghiChu: '',
    };
    if (stage === '2') {
      const deadline = new Date(new Date(row.ready_at).getTime() + 3 * 86_400_000);
      entry.hanBoSungHoSo = vnStamp(deadline);
      entry.noiDungXuLy = 'Đề nghị bổ sung bản sao giấy tờ tùy thân của người yêu cầu';
    }
    if (stage === '6') entry.noiDungXuLy = row.refusal;
    if (stage === '4') entry.ketQuaXuLy = row.result;
    return entry;
  }

  /** A register entry: register number `n`; a birth's also carries the child's new personal ID (from `personal`). */
  private resultFor(row: Row, n: string, personal: string | undefined): Record<string, unknown> {
    const year = new Date().getFullYear();
    const result: Record<string, unknown> = {
      soDangKy: `${n}/${year}`,
      quyenSo: `01/${year}`,
      trangSo: String(Number(n) % 200 || 200),
      ngayDangKy: vnStamp(new Date()).slice(0, 10),
      maGiayToKetQua: `${row.module}-${n}`,
    };
    if (row.module === 'LTKS') result.soDinhDanh = this.personalId(row, personal ?? '0');
    return result;
  }

  /** 0 + province of registration, century/sex digit, year of birth, 6 digits: consistent by construction. */
  private personalId(row: Row, n: string): string {
    const born = typeof row.payload.nksNgaySinh === 'string' ? row.payload.nksNgaySinh : '';
    const year = Number(born.slice(6, 10)) || new Date().getFullYear();
    const female = String(row.payload.nksGioiTinh) === '2';
    const centuryDigit = Math.floor((year - 1900) / 100) * 2 + (female ? 1 : 0);
    return `0${row.ma_tinh}${centuryDigit}${String(year % 100).padStart(2, '0')}${String(Number(n) % 1_000_000).padStart(6, '0')}`;
  }

  async drift(id: string, mode: 'alter' | 'delete'): Promise<boolean> {
    const rows: unknown[] =
      mode === 'delete'
        ? // A lost registration loses its amendments with it.
          await this.db.query(
            `with gone as (delete from civil_amendment where ma_ho_so = $1)
             delete from civil_registration where ma_dinh_danh_ho_so = $1 returning 1`,
            [id],
          )
        : // A decided registration: its register entry edited at the registry (what LayKetQua
          // shows); before the decision, the record (which no lookup shows).
          await this.db.query(
            `update civil_registration set
               result = case when result is null then null
                 else result || '{"trangSo": "(đã sửa)"}'::jsonb end,
               payload = case when result is null
                 then payload || '{"ghiChuSuaDoi": "(đã sửa)"}'::jsonb else payload end
             where ma_dinh_danh_ho_so = $1 returning 1`,
            [id],
          );
    return returnedRows(rows).length > 0;
  }
}
