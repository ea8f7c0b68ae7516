import type { CommuneCounts, IndicatorPeriod } from '@lienthong/sync-engine';

interface Row {
  commune_code: string;
  received: number;
  synced: number;
  early: number;
  on_time: number;
  late: number;
  overdue_open: number;
  in_progress: number;
  online: number;
  digitised: number;
  supplement: number;
  stopped: number;
}

/**
 * Decision 766's counts per commune, from the dossiers in dossier-sync's ledger (their latest
 * state as received from the commune), over those received (NgayTiepNhan) in the period. Days are
 * Vietnam days (Asia/Ho_Chi_Minh), compared at day granularity:
 *
 * - due day: NgayHenTra, or the latest NgayHenTraMoi a supplement set (the time waiting for the
 *   citizen's supplement extends it);
 * - finished (TrangThaiHoSo 9, 10): early before the due day, on time on it, late after it — and
 *   late whatever the dates after more than one supplement request;
 * - not finished (2, 4, 5, 6): overdue when the due day is before the day measured on (today
 *   while the period runs), else in progress (neither for nor against the on-time rate);
 * - online: KenhThucHien = 2; digitised: HoSoCoThanhPhanSoHoa = 1; a supplement asked: an entry
 *   in DanhSachHoSoBoSung or TrangThaiHoSo 5; stopped: 7 (withdrawal asked) or 8.
 *
 * One grouped scan of the ledger's dossiers; the rates are the reader's (sync-monitor shows how).
 */
export async function dossierIndicators(
  db: { query<T>(sql: string, params?: unknown[]): Promise<T> },
  period: IndicatorPeriod,
): Promise<CommuneCounts[]> {
  const rows = await db.query<Row[]>(
    `with d as (
       select commune_code, state,
         (desired->>'TrangThaiHoSo')::int st,
         (desired->>'KenhThucHien')::int channel,
         coalesce((desired->>'HoSoCoThanhPhanSoHoa')::int, 0) digitised,
         ((desired->>'NgayTiepNhan')::timestamptz at time zone 'Asia/Ho_Chi_Minh')::date received_on,
         ((desired->>'NgayKetThucXuLy')::timestamptz at time zone 'Asia/Ho_Chi_Minh')::date finished_on,
         (greatest((desired->>'NgayHenTra')::timestamptz,
            (select max((b->>'NgayHenTraMoi')::timestamptz)
             from jsonb_array_elements(coalesce(desired->'DanhSachHoSoBoSung', '[]'::jsonb)) b))
           at time zone 'Asia/Ho_Chi_Minh')::date due_on,
         jsonb_array_length(coalesce(desired->'DanhSachHoSoBoSung', '[]'::jsonb)) supplements
       from sync_entity
       where entity_type = 'dossier' and desired ? 'NgayTiepNhan'
     ), p as (
       select * from d where received_on between $1::date and $2::date
     )
     select commune_code,
       count(*)::int received,
       count(*) filter (where state = 'SYNCED')::int synced,
       count(*) filter (where st in (9, 10) and supplements <= 1 and finished_on < due_on)::int early,
       count(*) filter (where st in (9, 10) and supplements <= 1 and finished_on = due_on)::int on_time,
       count(*) filter (where st in (9, 10) and (supplements > 1 or finished_on > due_on))::int late,
       count(*) filter (where st in (2, 4, 5, 6) and due_on < $3::date)::int overdue_open,
       count(*) filter (where st in (2, 4, 5, 6) and (due_on is null or due_on >= $3::date))::int in_progress,
       count(*) filter (where channel = 2)::int online,
       count(*) filter (where digitised = 1)::int digitised,
       count(*) filter (where supplements > 0 or st = 5)::int supplement,
       count(*) filter (where st in (7, 8))::int stopped
     from p group by commune_code order by commune_code`,
    [period.from, period.to, period.measuredOn],
  );
  return rows.map((r) => ({
    communeCode: r.commune_code,
    received: r.received,
    synced: r.synced,
    finishedEarly: r.early,
    finishedOnTime: r.on_time,
    finishedLate: r.late,
    overdueOpen: r.overdue_open,
    inProgress: r.in_progress,
    online: r.online,
    digitised: r.digitised,
    supplementRequested: r.supplement,
    stopped: r.stopped,
  }));
}
