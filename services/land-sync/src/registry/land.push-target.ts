import type { LandRegistrationReceived, SyncStatusV2 } from '@lienthong/contracts';
import type { LandClient, LandDossierWire } from '@lienthong/portal-clients';
import type { PortalGateway } from '@lienthong/resilience';
import { PushTarget } from '@lienthong/sync-engine';
import type {
  AwaitingEntity,
  ClaimedEntity,
  PollAnswer,
  PushReceipt,
} from '@lienthong/sync-engine';
import { securityCode } from './security-code';

type SyncTaxNotice = SyncStatusV2['taxNotice'];

/**
 * Land registrations → the land registry, a two-phase target: TiepNhan (again only when the
 * dossier changed: a correction or the supplement asked for; a repeat is "đã tồn tại", so an
 * uncertain attempt needs no lookup), then the entity awaits the registry's callbacks under its
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
    if (entity.syncedFingerprint !== entity.desiredFingerprint) {
      await entity.lease.confirm();
      await this.client.receive(
        dossier,
        securityCode(this.callbackSecret, dossier.SoBienNhan),
        correlationId,
      );
    }
    return {
      pushedParts: entity.parts.map((p) => p.partKey),
      awaiting: { reference: dossier.SoBienNhan },
    };
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
