import { dvcqgUnitCode } from '@lienthong/admin-units';
import type { RegistrationAmended } from '@lienthong/contracts';
import { RESULTS_PER_CALL, fromVnStamp } from '@lienthong/portal-clients';
import type {
  CivilModule,
  CivilRegistration,
  CivilResult,
  CivilStatusClient,
} from '@lienthong/portal-clients';
import { PortalCallError } from '@lienthong/resilience';
import type { PortalGateway } from '@lienthong/resilience';
import { LeaseLostError, PushFailure, PushTarget, driftFields } from '@lienthong/sync-engine';
import type {
  AwaitingEntity,
  ClaimedEntity,
  InspectedEntity,
  Inspection,
  PollAnswer,
  PushReceipt,
} from '@lienthong/sync-engine';

const MODULES = { birth: 'LTKS', death: 'LTKT', marriage: 'LTKH' } as const;

type Registration = CivilRegistration['registration'];

function moduleOf(entityType: string): CivilModule {
  const module = MODULES[entityType as keyof typeof MODULES] as CivilModule | undefined;
  if (!module) throw new Error(`no civil-status module for ${entityType}`);
  return module;
}

/** The registry's unit code of the commune that registered it. */
function unitOf(r: { maXa: string; maTinh: string }): string {
  return dvcqgUnitCode({ code: r.maXa, provinceCode: r.maTinh });
}

/** A registry date (dd/MM/yyyy[ HH:mm:ss]) as an RFC 3339 date-time. */
function dateTime(value: string | undefined): string | undefined {
  const parsed = fromVnStamp(value);
  if (!parsed) return undefined;
  return parsed.length === 10 ? `${parsed}T00:00:00+07:00` : parsed;
}

/**
 * Awaiting registrations asked about per poll round (split into LayKetQua calls by `results`):
 * enough for a second of registrations at the rates the benches offer, so that a round's calls
 * are full ones (a round of 100 made a call per 3.7 registrations in bench:registries).
 */
const POLL_ROUND = 25 * RESULTS_PER_CALL;

/**
 * Registrations → the civil-status registry, a two-phase target: the registration is submitted
 * (NhanDKHT; again only when its record changed: a correction, or the supplement the registry asked
 * for), then its amendments one by one (each once, by its part key), and the entity awaits the
 * registry's answer under its own id, polled with LayKetQua a batch at a time. Both writes are
 * idempotent at the registry (a repeat "đã được tiếp nhận"), so an uncertain earlier attempt needs
 * no lookup before writing again.
 */
export class CivilStatusPushTarget extends PushTarget {
  readonly target = 'civil-status-registry' as const;
  readonly domain = 'civil-status' as const;
  /**
   * LayKetQua asks per province and kind of registration, RESULTS_PER_CALL at most: a round of
   * this many is split into those calls (results), so that registrations due together share calls.
   */
  override readonly pollBatch = POLL_ROUND;

  constructor(
    private readonly client: CivilStatusClient,
    private readonly gateway: PortalGateway,
  ) {
    super();
  }

  blocked(): boolean {
    return this.gateway.blocked();
  }

  async push(entity: ClaimedEntity, correlationId: string): Promise<PushReceipt> {
    const module = moduleOf(entity.entityType);
    const registration = entity.desired as Registration;
    const pushed: string[] = [];
    try {
      if (entity.syncedFingerprint !== entity.desiredFingerprint) {
        await entity.lease.confirm();
        await this.client.submit(
          { module, registration } as CivilRegistration,
          unitOf(registration),
          correlationId,
        );
      }
      for (const part of entity.parts) {
        // No write-ahead mark: the registry keeps one amendment per maYeuCau, a repeat is harmless.
        await entity.lease.confirm();
        await this.client.amend(
          part.payload as RegistrationAmended,
          module,
          unitOf(registration),
          part.partKey,
          correlationId,
        );
        pushed.push(part.partKey);
        await entity.lease.pushed([part.partKey]);
      }
    } catch (err) {
      if (pushed.length > 0 && (err instanceof PortalCallError || err instanceof LeaseLostError))
        throw new PushFailure(err, pushed);
      throw err;
    }
    return { pushedParts: pushed, awaiting: { reference: entity.entityKey } };
  }

  /** One LayKetQua per module and province among the entities asked about. */
  override async poll(
    entities: AwaitingEntity[],
    correlationId: string,
  ): Promise<Map<string, PollAnswer>> {
    const answers = new Map<string, PollAnswer>();
    for (const [e, result] of await this.results(entities, correlationId))
      if (result) answers.set(e.entityKey, toPollAnswer(result));
    return answers;
  }

  override readonly inspectBatch = RESULTS_PER_CALL;

  /**
   * Reconciliation: LayKetQua is the registry's only lookup. It shows whether the registry holds
   * the registration, its stage and its register entry (the result), not the record itself, so a
   * synced registration is compared on those: it must still be decided ("4"/"5") with the entry the
   * ledger kept. The register entry is the registry's own: a repair re-reads it (the push sends
   * nothing when the record is unchanged) and publishes the corrected result.
   */
  override async inspect(
    entities: InspectedEntity[],
    correlationId: string,
  ): Promise<Map<string, Inspection>> {
    const asked = entities.map((e) => ({ ...e, reference: e.reference ?? e.entityKey }));
    const held = await this.results(asked, correlationId, { tolerant: true });
    const out = new Map<string, Inspection>();
    for (const e of asked) {
      if (!held.has(e)) continue; // its LayKetQua failed: checked again later, never guessed
      const found = held.get(e);
      if (!found) {
        out.set(e.entityKey, { kind: 'missing' });
        continue;
      }
      out.set(e.entityKey, {
        kind: 'held',
        drift:
          found.status === 'done'
            ? driftFields((e.result ?? {}) as Record<string, unknown>, found.result)
            : [{ field: 'trangThai', kind: 'changed' }],
      });
    }
    return out;
  }

  /**
   * The registry's answer for each entity, one LayKetQua per module and province: undefined for an
   * entity it does not know. `tolerant`: a group whose call failed is left out instead of failing
   * the whole batch.
   */
  private async results<E extends { entityType: string; reference: string; desired: unknown }>(
    entities: E[],
    correlationId: string,
    options: { tolerant?: boolean } = {},
  ): Promise<Map<E, CivilResult | undefined>> {
    const groups = new Map<string, { module: CivilModule; maTinh: string; members: E[] }>();
    for (const e of entities) {
      const module = moduleOf(e.entityType);
      const maTinh = (e.desired as Registration).maTinh;
      const group = groups.get(`${module}:${maTinh}`) ?? { module, maTinh, members: [] };
      group.members.push(e);
      groups.set(`${module}:${maTinh}`, group);
    }
    // Each group in calls of RESULTS_PER_CALL at most, made together (the gateway's bulkhead
    // bounds them).
    const calls = [...groups.values()].flatMap(({ module, maTinh, members }) =>
      Array.from({ length: Math.ceil(members.length / RESULTS_PER_CALL) }, (_, i) => ({
        module,
        maTinh,
        members: members.slice(i * RESULTS_PER_CALL, (i + 1) * RESULTS_PER_CALL),
      })),
    );
    const answered = await Promise.allSettled(
      calls.map(({ module, maTinh, members }) =>
        this.client.results(
          members.map((e) => e.reference),
          maTinh,
          module,
          correlationId,
        ),
      ),
    );
    const out = new Map<E, CivilResult | undefined>();
    for (const [i, answer] of answered.entries()) {
      if (answer.status === 'rejected') {
        if (options.tolerant) continue;
        throw answer.reason;
      }
      for (const e of (calls[i] as (typeof calls)[number]).members)
        out.set(e, answer.value.get(e.reference));
    }
    return out;
  }
}

/** The registry's stage as the engine understands it; the personal ID stays in `result` only. */
export function toPollAnswer(r: CivilResult): PollAnswer {
  switch (r.status) {
    case 'waiting':
      return { kind: 'waiting', stage: { code: r.stage, label: r.label } };
    case 'supplement':
      return {
        kind: 'supplement',
        requestedAt: r.at ?? new Date().toISOString(),
        deadline: r.deadline,
        note: r.note,
        stage: { code: '2', label: 'Yêu cầu bổ sung' },
      };
    case 'done': {
      const { soDangKy, quyenSo, trangSo, ngayDangKy } = r.result;
      const registeredAt = dateTime(ngayDangKy);
      return {
        kind: 'done',
        result: r.result,
        published: {
          ...(soDangKy ? { soDangKy } : {}),
          ...(quyenSo ? { quyenSo } : {}),
          ...(trangSo ? { trangSo } : {}),
          ...(registeredAt ? { ngayDangKy: registeredAt } : {}),
        },
        stage: { code: r.stage, label: r.stage === '5' ? 'Đã trả kết quả' : 'Có kết quả' },
      };
    }
    case 'refused':
      return {
        kind: 'refused',
        error: new PortalCallError(
          'PORTAL_REJECTED',
          'the civil-status registry refused the registration',
          { portalCode: '6', portalMessage: r.reason },
        ),
        stage: { code: '6', label: 'Từ chối' },
      };
  }
}
