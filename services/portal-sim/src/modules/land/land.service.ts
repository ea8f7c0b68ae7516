import { jsonList, prepared, returnedRows } from '@lienthong/persistence';
import { Injectable } from '@nestjs/common';
import type { OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { request } from 'undici';
import { DataSource } from 'typeorm';
import type { EntityManager } from 'typeorm';
import { share } from '../common/records';
import { BatchedWrite } from '../common/batched-write';
import { countEffects, EffectsStore } from '../effects/effects.store';
import { FaultRegistry } from '../faults/fault-registry.service';
import { PortalSimSettings } from '../../config/portal-sim.settings';

export type LandStatus =
  'ROUTED' | 'SUPPLEMENT_REQUESTED' | 'SUPPLEMENTED' | 'FINANCIAL_OBLIGATION' | 'FINISHED';

/** The registry's reply: `data` 1 is success; `status` says more (VBDLIS form). */
export interface LandAnswer {
  data: unknown;
  status: { success: boolean; code: string; type: string; time: string; message: string };
}

export function landAnswer(data: unknown, success: boolean, message: string): LandAnswer {
  return {
    data,
    status: {
      success,
      code: success ? '200' : '400',
      type: success ? 'success' : 'error',
      time: new Date().toISOString(),
      message,
    },
  };
}

interface Row {
  ma_ho_so_mot_cua: string;
  payload: Record<string, unknown>;
  status: LandStatus;
  history: Array<{ TrangThai: LandStatus; ThoiDiem: string }>;
  tax_notice: Record<string, unknown> | null;
  next_transition_at: Date | null;
  security_code: string | null;
  supplement_requested: boolean;
  /** In memory only: `stage` moved it and `save` is to write it. */
  staged?: boolean;
}

/** A callback a stage queues for `deliver`. */
interface QueuedCallback {
  ma: string;
  kind: string;
  body: Record<string, unknown>;
  jitterMs: number;
  dropped: boolean;
}

/**
 * Inserts queued callbacks, given as the five parameters from `$first` on (`callbackColumns`),
 * where `onlyIf` holds.
 */
function insertCallbacks(first: number, onlyIf = 'true'): string {
  const [ma, kind, body, jitter, dropped] = [0, 1, 2, 3, 4].map((i) => `$${first + i}`);
  return `insert into land_callback (ma_ho_so_mot_cua, kind, body, due_at, dropped)
    select c.ma, c.kind, c.body, now() + make_interval(secs => c.jitter / 1000), c.dropped
    from rows from (unnest(${ma}::text[]), unnest(${kind}::text[]), jsonb_array_elements(${body}::jsonb),
      unnest(${jitter}::float8[]), unnest(${dropped}::boolean[])) as c(ma, kind, body, jitter, dropped)
    where ${onlyIf}`;
}

function callbackColumns(callbacks: QueuedCallback[]): unknown[] {
  return [
    callbacks.map((c) => c.ma),
    callbacks.map((c) => c.kind),
    jsonList(callbacks.map((c) => c.body)),
    callbacks.map((c) => c.jitterMs),
    callbacks.map((c) => c.dropped),
  ];
}

/**
 * LandService.receiveNew: $1–$6 one element per new dossier (its MaHoSoMotCua, content, first
 * stage, history, SecurityCode, next transition), $7–$11 the first stage's callbacks
 * (callbackColumns). Stores the dossiers the registry does not hold, the callbacks of those only,
 * and counts each as a write; returns the MaHoSoMotCua it stored.
 */
const LAND_RECEIVE_NEW = prepared(`with dossier as (
   insert into land_dossier (ma_ho_so_mot_cua, payload, received, status, history, security_code,
     next_transition_at, supplement_requested)
   select t.ma, t.payload, t.payload, t.status, t.history, t.code, t.next_at, false
   from rows from (unnest($1::text[]), jsonb_array_elements($2::jsonb), unnest($3::text[]),
     jsonb_array_elements($4::jsonb), unnest($5::text[]), unnest($6::timestamptz[]))
     as t(ma, payload, status, history, code, next_at)
   on conflict do nothing
   returning ma_ho_so_mot_cua),
 callback as (${insertCallbacks(7, 'c.ma in (select ma_ho_so_mot_cua from dossier)')}),
 effect as (${countEffects(`select 'land', ma_ho_so_mot_cua, 'receive', 1, 1 from dossier`)})
 select ma_ho_so_mot_cua as ma from dossier`);

/** Procedures that transfer rights owe tax: the dossier waits at FINANCIAL_OBLIGATION for the notice. */
const TAXED_PROCEDURES = new Set(['DKBD', 'CN', 'TC']);

/**
 * The registry's clock: the dossiers whose next stage is due. Indexed (migration
 * LookupIndexes1763800001100; test/lookups.e2e-spec.ts checks it is used): every tick asks.
 */
export const LAND_DUE = `select ma_ho_so_mot_cua from land_dossier where next_transition_at <= now()
   order by next_transition_at limit 200`;

/** What the registry stores of a dossier: the content, not the SecurityCode it calls back with. */
function content(body: Record<string, unknown>): Record<string, unknown> {
  const { SecurityCode: _code, ...rest } = body;
  return rest;
}

/**
 * The land registry (ILIS/VBDLIS, docs/domain.md "Land"): TiepNhan receives a dossier; it then
 * moves ROUTED → (SUPPLEMENT_REQUESTED, paused until the one-stop sends it again → SUPPLEMENTED)
 * → (FINANCIAL_OBLIGATION with a tax notice, for procedures that owe tax) → FINISHED, one stage
 * every PORTAL_SIM_LAND_STEP_MS. Each stage is pushed back to the one-stop system as a callback
 * keyed by SoBienNhan and the SecurityCode it was sent with (LuanChuyen, ChoBoSung, DaBoSung,
 * DongBoKetQuaThue, KetThuc); callbacks can be lost, repeated and delayed out of order
 * (PORTAL_SIM_LAND_CALLBACK_*). A callback the receiver refuses is retried with backoff.
 */
@Injectable()
export class LandService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  /** New dossiers of concurrent calls, received together (receiveNew). */
  private readonly newDossiers = new BatchedWrite<
    { ma: string; stored: Record<string, unknown>; code: string | null },
    boolean
  >({
    write: (round) => this.receiveNew(round),
    keysOf: (r) => [r.ma],
  });

  constructor(
    @InjectDataSource() private readonly db: DataSource,
    private readonly effects: EffectsStore,
    private readonly faults: FaultRegistry,
    private readonly settings: PortalSimSettings,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      this.running ??= this.tick()
        .catch((err: unknown) => {
          process.stderr.write(`land registry tick: ${String(err)}\n`);
        })
        .finally(() => {
          this.running = undefined;
        });
    }, 100);
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  async receive(body: Record<string, unknown>): Promise<{ status: number; answer: LandAnswer }> {
    const bad = (message: string) => ({ status: 400, answer: landAnswer(0, false, message) });
    const ma = body.MaHoSoMotCua;
    if (typeof ma !== 'string' || ma.length === 0) return bad('Thiếu MaHoSoMotCua');
    if (typeof body.SoBienNhan !== 'string' || body.SoBienNhan.length === 0)
      return bad('Thiếu SoBienNhan');
    const parcels = body.ThongTinThuaDat;
    if (!Array.isArray(parcels) || parcels.length === 0)
      return bad('Hồ sơ phải có ít nhất một thửa đất');
    for (const p of parcels as Array<Record<string, unknown>>) {
      if (typeof p.SoHieuBanDo !== 'string' || typeof p.SoThuTuThua !== 'string')
        return bad('SoHieuBanDo và SoThuTuThua phải là chuỗi');
    }
    const person = body.ThongTinNguoiNopDon as Record<string, unknown> | undefined;
    if (!person || typeof person.HoTen !== 'string') return bad('Thiếu thông tin người nộp đơn');
    const stored = content(body);
    const code = typeof body.SecurityCode === 'string' ? body.SecurityCode : null;
    let answer: LandAnswer | undefined;
    // Nearly every call brings a dossier the registry has never seen: one statement stores it.
    // One it holds goes the long way (unless it was deleted meanwhile: then it is new again).
    while (!answer) {
      answer = (await this.newDossiers.write({ ma, stored, code }))
        ? landAnswer(1, true, 'Thành công')
        : await this.db.transaction((tx) => this.receiveAgain(tx, ma, stored, code));
    }
    const drift = answer.data === 1 ? this.faults.shouldDrift('land') : undefined;
    if (drift) await this.drift(ma, drift);
    return { status: 200, answer };
  }

  /**
   * Dossiers the registry has never seen, in one statement for those that arrive together
   * (newDossiers): each at its first stage (ROUTED), that stage's callback and the write's effect.
   * Answers, per dossier, whether it was stored (not when the registry holds it already). It was a
   * transaction of seven statements (begin, a look-up, an insert, the stage's update, the
   * callback, the effect, commit), and the land registry's limit in bench:registries was the
   * simulator's, below the rates the bench offers.
   */
  private async receiveNew(
    round: Array<{ ma: string; stored: Record<string, unknown>; code: string | null }>,
  ): Promise<boolean[]> {
    const rows: Row[] = round.map(({ ma, stored, code }) => ({
      ma_ho_so_mot_cua: ma,
      payload: stored,
      status: 'ROUTED',
      history: [],
      tax_notice: null,
      next_transition_at: null,
      security_code: code,
      supplement_requested: false,
    }));
    const now = new Date();
    const callbacks = rows.flatMap((row) => this.stage(row, 'ROUTED', now));
    const stored: Array<{ ma: string }> = await this.db.query(LAND_RECEIVE_NEW, [
      rows.map((r) => r.ma_ho_so_mot_cua),
      jsonList(rows.map((r) => r.payload)),
      rows.map((r) => r.status),
      jsonList(rows.map((r) => r.history)),
      rows.map((r) => r.security_code),
      rows.map((r) => r.next_transition_at?.toISOString() ?? null),
      ...callbackColumns(callbacks),
    ]);
    const inserted = new Set(stored.map((r) => r.ma));
    return round.map((r) => inserted.has(r.ma));
  }

  /** A dossier sent again: a duplicate, a correction or a supplement. Undefined if it is gone. */
  private async receiveAgain(
    tx: EntityManager,
    ma: string,
    stored: Record<string, unknown>,
    code: string | null,
  ): Promise<LandAnswer | undefined> {
    const rows: Array<Row & { same: boolean; resent: boolean }> = await tx.query(
      // jsonb equality: key order does not matter.
      `select *, payload = $2::jsonb as same, received = $2::jsonb as resent
       from land_dossier where ma_ho_so_mot_cua = $1 for update`,
      [ma, stored],
    );
    const row = rows[0];
    if (!row) return undefined;
    if (row.same) {
      await this.effects.record(tx, 'land', ma, 'receive', false);
      return landAnswer(0, false, 'Hồ sơ đã tồn tại');
    }
    if (row.status === 'FINISHED') {
      // Modelled: a finished dossier sent again exactly as the one-stop sent it before
      // restores the registry's copy (after an edit at the registry); it changes no stage and
      // calls nothing back. Other content is a correction, too late after the end.
      if (!row.resent) return landAnswer(0, false, 'Hồ sơ đã kết thúc, không thể cập nhật');
      await tx.query(`update land_dossier set payload = $2 where ma_ho_so_mot_cua = $1`, [
        ma,
        stored,
      ]);
      await this.effects.record(tx, 'land', ma, 'receive', true);
      return landAnswer(1, true, 'Đã đồng bộ lại hồ sơ');
    }
    // The one-stop sends the dossier again: a supplement when one was asked for, else a correction.
    const supplemented = row.status === 'SUPPLEMENT_REQUESTED';
    await tx.query(
      `update land_dossier set payload = $2, received = $2,
         security_code = coalesce($3, security_code) where ma_ho_so_mot_cua = $1`,
      [ma, stored, code],
    );
    if (supplemented) {
      row.security_code = code ?? row.security_code;
      const callbacks = this.stage(row, 'SUPPLEMENTED', new Date());
      await this.save(tx, [row], callbacks);
    }
    await this.effects.record(tx, 'land', ma, 'receive', true);
    return landAnswer(1, true, supplemented ? 'Đã nhận hồ sơ bổ sung' : 'Đã cập nhật hồ sơ');
  }

  /** The dossier with its lifecycle advanced to now. */
  async lookup(ma: string): Promise<Row | undefined> {
    return this.db.transaction(async (tx) => {
      const rows: Row[] = await tx.query(
        'select * from land_dossier where ma_ho_so_mot_cua = $1 for update',
        [ma],
      );
      const row = rows[0];
      if (row) await this.save(tx, [row], this.advance(row));
      return row;
    });
  }

  /**
   * One round of the registry's clock: advance due dossiers (in one transaction, locked in key
   * order, written in two statements: a transaction per dossier cost three more round trips
   * each, and a statement per stage and per callback two more), deliver due callbacks.
   */
  async tick(): Promise<void> {
    const due: Array<{ ma_ho_so_mot_cua: string }> = await this.db.query(LAND_DUE);
    if (due.length > 0)
      await this.db.transaction(async (tx) => {
        const rows: Row[] = await tx.query(
          `select * from land_dossier where ma_ho_so_mot_cua = any($1::text[])
           order by ma_ho_so_mot_cua for update`,
          [due.map((d) => d.ma_ho_so_mot_cua)],
        );
        await this.save(
          tx,
          rows,
          rows.flatMap((row) => this.advance(row)),
        );
      });
    if (this.settings.landCallbacks.url) await this.deliver();
  }

  /** Moves the row (in memory) through every stage now due; the callbacks they queue. */
  private advance(row: Row): QueuedCallback[] {
    const callbacks: QueuedCallback[] = [];
    while (row.next_transition_at && new Date(row.next_transition_at).getTime() <= Date.now()) {
      const at = new Date(row.next_transition_at);
      const flow = row.payload.ThongTinQuyTrinh as Record<string, unknown> | undefined;
      const procedure = typeof flow?.MaQuyTrinh === 'string' ? flow.MaQuyTrinh : '';
      const asks =
        !row.supplement_requested &&
        share(row.ma_ho_so_mot_cua, 'supplement') < this.settings.landSupplementRatio;
      const next: LandStatus =
        row.status === 'ROUTED' && asks
          ? 'SUPPLEMENT_REQUESTED'
          : (row.status === 'ROUTED' || row.status === 'SUPPLEMENTED') &&
              TAXED_PROCEDURES.has(procedure) &&
              !row.tax_notice
            ? 'FINANCIAL_OBLIGATION'
            : 'FINISHED';
      callbacks.push(...this.stage(row, next, at));
    }
    return callbacks;
  }

  /**
   * Moves the row (in memory) to a stage and schedules the next one; the stage's callbacks to
   * queue (none, one, or two when the registry repeats itself). `save` writes both.
   */
  private stage(row: Row, status: LandStatus, at: Date): QueuedCallback[] {
    row.status = status;
    row.staged = true;
    row.history.push({ TrangThai: status, ThoiDiem: at.toISOString() });
    if (status === 'SUPPLEMENT_REQUESTED') row.supplement_requested = true;
    if (status === 'FINANCIAL_OBLIGATION') row.tax_notice = this.taxNotice(row);
    row.next_transition_at =
      status === 'FINISHED' || status === 'SUPPLEMENT_REQUESTED'
        ? null
        : new Date(at.getTime() + this.settings.landStepMs);
    return this.callbacksOf(row, status, at);
  }

  /** Writes the stages of the rows `stage` moved and the callbacks queued: two statements. */
  private async save(tx: EntityManager, given: Row[], callbacks: QueuedCallback[]): Promise<void> {
    const rows = given.filter((r) => r.staged);
    if (rows.length > 0)
      await tx.query(
        `update land_dossier d set status = u.status, history = u.history,
           tax_notice = nullif(u.tax_notice, 'null'::jsonb), next_transition_at = u.next_at,
           supplement_requested = u.supplement_requested,
           -- Only a re-sent dossier moves to SUPPLEMENTED; the clock always moves past it.
           supplemented_at = case when u.status = 'SUPPLEMENTED' then now() else d.supplemented_at end
         from rows from (unnest($1::text[]), unnest($2::text[]), jsonb_array_elements($3::jsonb),
           jsonb_array_elements($4::jsonb), unnest($5::timestamptz[]), unnest($6::boolean[]))
           as u(ma, status, history, tax_notice, next_at, supplement_requested)
         where d.ma_ho_so_mot_cua = u.ma`,
        [
          rows.map((r) => r.ma_ho_so_mot_cua),
          rows.map((r) => r.status),
          jsonList(rows.map((r) => r.history)),
          jsonList(rows.map((r) => r.tax_notice)),
          rows.map((r) => r.next_transition_at),
          rows.map((r) => r.supplement_requested),
        ],
      );
    if (callbacks.length > 0) await tx.query(insertCallbacks(1), callbackColumns(callbacks));
  }

  /** The callbacks a stage queues (LuanChuyen, ChoBoSung, DaBoSung, DongBoKetQuaThue, KetThuc). */
  private callbacksOf(row: Row, status: LandStatus, at: Date): QueuedCallback[] {
    const cb = this.settings.landCallbacks;
    if (!cb.url || !row.security_code) return [];
    const key = {
      SoBienNhan: row.payload.SoBienNhan,
      SecurityCode: row.security_code,
      ThoiGian: at.toISOString(),
    };
    const [kind, body] = ((): [string, Record<string, unknown>] => {
      switch (status) {
        case 'ROUTED':
          return [
            'LuanChuyen',
            {
              ...key,
              MaTrangThai: '2',
              HanXuLy: new Date(at.getTime() + 10 * 86_400_000).toISOString(),
            },
          ];
        case 'SUPPLEMENT_REQUESTED':
          return [
            'ChoBoSung',
            { ...key, LaTamDung: true, NoiDung: 'Bổ sung bản vẽ trích đo thửa đất' },
          ];
        case 'SUPPLEMENTED':
          return ['DaBoSung', key];
        case 'FINANCIAL_OBLIGATION':
          return ['DongBoKetQuaThue', { ...key, ...(row.tax_notice ?? {}) }];
        case 'FINISHED':
          return [
            'KetThuc',
            {
              ...key,
              TrangThaiKetThuc: '1',
              DanhSachGiayToKetQua: [
                {
                  TenGiayTo: 'Giấy chứng nhận quyền sử dụng đất',
                  SoHieu: `GCN-${row.ma_ho_so_mot_cua.replace(/[^0-9]/g, '').slice(-8)}`,
                },
              ],
            },
          ];
      }
    })();
    const id = `${row.ma_ho_so_mot_cua}:${kind}:${at.getTime()}`;
    const copies = share(id, 'duplicate') < cb.duplicateRatio ? 2 : 1;
    const queued: QueuedCallback = {
      ma: row.ma_ho_so_mot_cua,
      kind,
      body,
      jitterMs: Math.random() * cb.jitterMs,
      dropped: share(id, 'loss') < cb.lossRatio,
    };
    return copies === 2 ? [queued, { ...queued, jitterMs: Math.random() * cb.jitterMs }] : [queued];
  }

  /** Sends due callbacks; a refused or failed one is retried with backoff, up to 10 times. */
  private async deliver(): Promise<void> {
    const due: Array<{ id: string; kind: string; body: unknown; attempts: number }> =
      await this.db.query(
        `select id, kind, body, attempts from land_callback
         where delivered_at is null and not dropped and due_at <= now() order by due_at limit 200`,
      );
    if (due.length === 0) return;
    const delivered = await Promise.all(
      due.map(async (cb) => {
        let delivered = false;
        try {
          const res = await request(`${this.settings.landCallbacks.url}/${cb.kind}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(cb.body),
            headersTimeout: 5000,
            bodyTimeout: 5000,
          });
          const answer = (await res.body.json().catch(() => ({}))) as { Result?: unknown };
          delivered = res.statusCode === 200 && answer.Result === true;
        } catch {
          delivered = false;
        }
        return delivered;
      }),
    );
    // Every attempt of the round recorded in one statement.
    await this.db.query(
      `update land_callback c set attempts = c.attempts + 1,
         delivered_at = case when d.ok then now() else null end,
         dropped = not d.ok and c.attempts + 1 >= 10,
         due_at = case when d.ok then c.due_at else now() + make_interval(secs => least(30, 0.5 * 2 ^ c.attempts)) end
       from unnest($1::bigint[], $2::boolean[]) as d(id, ok) where c.id = d.id`,
      [due.map((cb) => cb.id), delivered],
    );
  }

  private taxNotice(row: Row): Record<string, unknown> {
    const owner = (row.payload.ThongTinNguoiNopDon as Record<string, unknown> | undefined)?.HoTen;
    const number = `TB-${row.ma_ho_so_mot_cua.replace(/[^0-9]/g, '').slice(-8)}`;
    return {
      HoTenChu: owner,
      LoaiThue: 'LPTB',
      SoThongBaoThue: number,
      DuongDanThongBaoThue: `https://thue.portal-sim.local/thong-bao/${number}.pdf`,
      SoTien: 500_000,
    };
  }

  async drift(ma: string, mode: 'alter' | 'delete'): Promise<boolean> {
    const rows: unknown[] =
      mode === 'delete'
        ? await this.db.query('delete from land_dossier where ma_ho_so_mot_cua = $1 returning 1', [
            ma,
          ])
        : await this.db.query(
            `update land_dossier set payload = jsonb_set(payload, '{NgayHenTra}', '"(đã sửa)"') where ma_ho_so_mot_cua = $1 returning 1`,
            [ma],
          );
    return returnedRows(rows).length > 0;
  }
}
