import type { LandRegistrationReceived, SyncStatusV2 } from '@lienthong/contracts';
import { toTiepNhan } from '@lienthong/portal-clients';
import type { LandClient, LandDossierWire } from '@lienthong/portal-clients';
import type { PortalGateway } from '@lienthong/resilience';
import { PushTarget, driftFields, inspectEach } from '@lienthong/sync-engine';
import type {
  AwaitingEntity,
  ClaimedEntity,
  InspectedEntity,
  Inspection,
  PollAnswer,
  PushReceipt,
} from '@lienthong/sync-engine';
import { securityCode } from './security-code';

type SyncTaxNotice = SyncStatusV2['taxNotice'];

/** The first lookup after a dossier was sent again with its outcome unknown. */
const RECHECK_AFTER_MS = 2_000;

/**
 * Land registrations → the land registry, a two-phase target: TiepNhan (again when the dossier
 * changed: a correction or the supplement asked for, and when the registry may not hold what the
 * ledger says, after a lost answer or a reconciliation; a repeat is "đã tồn tại", so an uncertain
 * attempt needs no lookup first), then the entity awaits the registry's callbacks under its
 * receipt number (SoBienNhan). The commune's own progress records (parts) stay in the ledger.
 * `poll` is the fallback when callbacks stop: one lookup per dossier, rarely.
 */
export class LandPushTarget extends PushTarget {
  readonly target = 'land-registry' as const;
  readonly domain = 'land' as const;
  override readonly pollBatch = 10;

  constructor(
    private readonly client: LandClient,
    private readonly gateway: PortalGateway,
    private readonly callbackSecret: string,
  ) {
    super();
  }

  blocked(): boolean {
    return this.gateway.blocked();
  }

  async push(entity: ClaimedEntity, correlationId: string): Promise<PushReceipt> {
    const dossier = entity.desired as LandRegistrationReceived;
    if (entity.uncertain || entity.syncedFingerprint !== entity.desiredFingerprint) {
      await entity.lease.confirm();
      await this.client.receive(
        dossier,
        securityCode(this.callbackSecret, dossier.SoBienNhan),
        correlationId,
      );
    }
    return {
      pushedParts: entity.parts.map((p) => p.partKey),
      // Sent again after a lost answer or a repair: the registry may be done already and will
      // not call back again, so ask it soon instead of waiting for the lookup fallback.
      awaiting: {
        reference: dossier.SoBienNhan,
        ...(entity.uncertain ? { pollAfterMs: RECHECK_AFTER_MS } : {}),
      },
    };
  }

  override readonly inspectBatch = 10;

  /**
   * Reconciliation: the registry's copy of each dossier (lookup) compared with what TiepNhan sent,
   * without the SecurityCode (the registry does not show it); and a synced dossier must still be
   * FINISHED at the registry.
   */
  override async inspect(
    entities: InspectedEntity[],
    correlationId: string,
  ): Promise<Map<string, Inspection>> {
    return inspectEach(entities, async (e) => {
      const held = await this.client.lookup(e.entityKey, correlationId);
      if (!held) return { kind: 'missing' };
      const { SecurityCode: _code, ...sent } = toTiepNhan(
        e.desired as LandRegistrationReceived,
        '',
      );
      const drift = driftFields(sent, held.HoSo);
      if (held.TrangThai !== 'FINISHED') drift.push({ field: 'TrangThai', kind: 'changed' });
      return { kind: 'held', drift };
    });
  }

  override async poll(
    entities: AwaitingEntity[],
    correlationId: string,
  ): Promise<Map<string, PollAnswer>> {
    const answers = new Map<string, PollAnswer>();
    await Promise.all(
      entities.map(async (e) => {
        const dossier = await this.client.lookup(e.entityKey, correlationId);
        if (dossier) answers.set(e.entityKey, fromLookup(dossier));
      }),
    );
    return answers;
  }
}

/** The registry's stage of a dossier, from a lookup. */
export function fromLookup(d: LandDossierWire): PollAnswer {
  const last = d.LichSu.at(-1);
  const at = last ? new Date(last.ThoiDiem) : undefined;
  const when = at && !Number.isNaN(at.getTime()) ? { at } : {};
  const stage = { code: d.TrangThai };
  switch (d.TrangThai) {
    case 'SUPPLEMENT_REQUESTED':
      return {
        kind: 'supplement',
        requestedAt: last?.ThoiDiem ?? new Date().toISOString(),
        deadline: null,
        stage,
        ...when,
      };
    case 'FINISHED':
      return {
        kind: 'done',
        result: { TrangThai: d.TrangThai, LichSu: d.LichSu, ThongBaoThue: d.ThongBaoThue ?? null },
        ...taxNotice(d),
        stage,
        ...when,
      };
    case 'FINANCIAL_OBLIGATION':
      return { kind: 'waiting', stage, ...taxNotice(d), ...when };
    default:
      return { kind: 'waiting', stage, ...when };
  }
}

/** The tax notice as published: its number, kind and document, never the payer's name. */
function taxNotice(d: LandDossierWire): { taxNotice?: NonNullable<SyncTaxNotice> } {
  const n = d.ThongBaoThue;
  if (!n?.SoThongBaoThue) return {};
  return {
    taxNotice: {
      reference: n.SoThongBaoThue.slice(0, 100),
      ...(n.LoaiThue ? { kind: n.LoaiThue.slice(0, 50) } : {}),
      ...(/^https?:\/\//.test(n.DuongDanThongBaoThue ?? '')
        ? { documentUrl: n.DuongDanThongBaoThue.slice(0, 2000) }
        : {}),
    },
  };
}
