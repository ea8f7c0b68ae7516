import type { DataSource } from 'typeorm';
import { openDataSource } from '@lienthong/persistence';
import { SYNC_LEDGER_MIGRATIONS } from '@lienthong/sync-engine';
import { useTestContext } from '@lienthong/testing';
import { dossierIndicators } from './dossier-indicators';

/** A dossier as the ledger holds it: only the fields the indicators read. */
interface Dossier {
  key: string;
  commune?: string;
  state?: 'SYNCED' | 'PENDING';
  TrangThaiHoSo: number;
  NgayTiepNhan?: string;
  NgayHenTra?: string;
  NgayKetThucXuLy?: string;
  KenhThucHien?: number;
  HoSoCoThanhPhanSoHoa?: 0 | 1;
  DanhSachHoSoBoSung?: Array<{ NgayHenTraMoi?: string }>;
}

describe('Decision 766 counts from the dossier ledger (real PostgreSQL)', () => {
  const ctx = useTestContext('dossier-indicators');
  let ds: DataSource;

  beforeAll(async () => {
    ds = await openDataSource({
      url: ctx.stack.databaseUrl,
      schema: ctx.schema,
      migrations: SYNC_LEDGER_MIGRATIONS,
      applicationName: 'dossier-indicators-int-spec',
    });
    ctx.onCleanup(() => ds.destroy());
  });

  const put = async (dossiers: Dossier[]) => {
    for (const d of dossiers) {
      const { key, commune = '19753', state = 'SYNCED', ...desired } = d;
      await ds.query(
        `insert into sync_entity (entity_type, entity_key, commune_code, target, source_sequence,
           desired, desired_fingerprint, state)
         values ('dossier', $1, $2, 'dvcqg', 1, $3, repeat('0', 64), $4)`,
        [key, commune, JSON.stringify(desired), state],
      );
    }
  };
  const july = { from: '2025-07-01', to: '2025-07-31', measuredOn: '2025-07-31' };
  const day = (d: string, time = '09:00') => `2025-07-${d}T${time}:00+07:00`;

  it('counts early, on time, late (by date or by two supplements), overdue and in progress at day granularity, in Vietnam days', async () => {
    await put([
      // Finished before, on and after the due day (times within the day do not matter).
      {
        key: 'early',
        TrangThaiHoSo: 9,
        NgayTiepNhan: day('02'),
        NgayHenTra: day('10', '08:00'),
        NgayKetThucXuLy: day('09', '23:00'),
        KenhThucHien: 2,
      },
      {
        key: 'on-day',
        TrangThaiHoSo: 10,
        NgayTiepNhan: day('02'),
        NgayHenTra: day('10', '08:00'),
        NgayKetThucXuLy: day('10', '17:30'),
        HoSoCoThanhPhanSoHoa: 1,
      },
      {
        key: 'late',
        TrangThaiHoSo: 10,
        NgayTiepNhan: day('02'),
        NgayHenTra: day('10'),
        NgayKetThucXuLy: day('11', '00:10'),
        KenhThucHien: 1,
      },
      // A supplement moved the due day: finished before the new one, on time.
      {
        key: 'extended',
        TrangThaiHoSo: 9,
        NgayTiepNhan: day('03'),
        NgayHenTra: day('10'),
        NgayKetThucXuLy: day('14'),
        DanhSachHoSoBoSung: [{ NgayHenTraMoi: day('15') }],
      },
      // Two supplement requests: late, whatever the dates.
      {
        key: 'two-supplements',
        TrangThaiHoSo: 9,
        NgayTiepNhan: day('03'),
        NgayHenTra: day('20'),
        NgayKetThucXuLy: day('05'),
        DanhSachHoSoBoSung: [{}, {}],
      },
      // Unfinished: past the due day at the period's end (overdue), or not yet due.
      { key: 'overdue', TrangThaiHoSo: 4, NgayTiepNhan: day('04'), NgayHenTra: day('30') },
      {
        key: 'not-due',
        state: 'PENDING',
        TrangThaiHoSo: 5,
        NgayTiepNhan: day('04'),
        NgayHenTra: day('31'),
      },
      { key: 'stopped', TrangThaiHoSo: 8, NgayTiepNhan: day('05'), NgayHenTra: day('12') },
      // 23:30 on 30 June in Vietnam is 16:30 UTC: June, not in the period; 00:30 on 1 August
      // Vietnam time is 31 July UTC: August, not in the period either.
      {
        key: 'june',
        TrangThaiHoSo: 9,
        NgayTiepNhan: '2025-06-30T23:30:00+07:00',
        NgayHenTra: day('05'),
        NgayKetThucXuLy: day('01'),
      },
      {
        key: 'august',
        TrangThaiHoSo: 2,
        NgayTiepNhan: '2025-08-01T00:30:00+07:00',
        NgayHenTra: '2025-08-10T09:00:00+07:00',
      },
      // Not received yet (no NgayTiepNhan): not counted.
      { key: 'new', TrangThaiHoSo: 1 },
      // Another commune.
      {
        key: 'other',
        commune: '26740',
        TrangThaiHoSo: 2,
        NgayTiepNhan: day('06'),
        NgayHenTra: day('31'),
        KenhThucHien: 2,
      },
    ]);
    const counts = await dossierIndicators(ds, july);
    expect(counts).toEqual([
      {
        communeCode: '19753',
        received: 8,
        synced: 7,
        finishedEarly: 2, // early, extended
        finishedOnTime: 1, // on-day
        finishedLate: 2, // late, two-supplements
        overdueOpen: 1,
        inProgress: 1,
        online: 1,
        digitised: 1,
        supplementRequested: 3, // extended, two-supplements, not-due (status 5)
        stopped: 1,
      },
      {
        communeCode: '26740',
        received: 1,
        synced: 1,
        finishedEarly: 0,
        finishedOnTime: 0,
        finishedLate: 0,
        overdueOpen: 0,
        inProgress: 1,
        online: 1,
        digitised: 0,
        supplementRequested: 0,
        stopped: 0,
      },
    ]);
  });
});
