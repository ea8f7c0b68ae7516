import { ContractValidator, EVENT_TYPES, SCHEMAS } from '@lienthong/contracts';
import type { SyncStatusV2 } from '@lienthong/contracts';
import { V1_STATES, V2_ONLY_FIELDS, asV1 } from './status-v1';

type Node = Record<string, unknown>;

const schema = (id: string): Node => {
  const found = SCHEMAS.find((s) => (s as Node).$id === id);
  if (!found) throw new Error(`no schema ${id}`);
  return structuredClone(found);
};

/** The rules alone: documentation keys dropped, enums sorted. */
function rules(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(rules);
  if (!node || typeof node !== 'object') return node;
  const out: Node = {};
  for (const key of Object.keys(node).sort()) {
    if (['description', 'title', '$id', '$schema'].includes(key)) continue;
    const value = (node as Node)[key];
    out[key] =
      key === 'enum' && Array.isArray(value) ? [...(value as string[])].sort() : rules(value);
  }
  return out;
}

const at = (node: Node, ...path: string[]): Node => path.reduce((n, key) => n[key] as Node, node);

/** The states an allOf entry's `if` is about. */
const ifStates = (entry: Node): string[] => {
  const state = at(entry, 'if', 'properties', 'state');
  return state.const !== undefined ? [state.const as string] : (state.enum as string[]);
};

describe('sync.status v1 from v2 (why the relay validates a status once)', () => {
  it('v1 holds the rules v2 has for every field and state asV1 keeps, and no others', () => {
    const v2 = schema('sync/sync-status.v2.schema.json');
    const v1 = schema('sync/sync-status.v1.schema.json');
    // v2 as asV1 leaves it: v2-only fields, v2-only states, the result reference gone.
    const properties = at(v2, 'properties');
    for (const field of V2_ONLY_FIELDS) delete properties[field];
    const state = at(properties, 'state');
    state.enum = (state.enum as string[]).filter((s) => V1_STATES.has(s));
    delete at(properties, 'receipt', 'properties', 'result', 'properties').resultRef;
    v2.allOf = (v2.allOf as Node[]).filter((entry) =>
      ifStates(entry).some((s) => V1_STATES.has(s)),
    );
    // v1's one field v2 lacks is optional (a result's personal ID, which v2 moved behind the
    // reference): it makes v1 accept more, never less.
    const v1Result = at(v1, 'properties', 'receipt', 'properties', 'result');
    expect(v1Result.required ?? []).not.toContain('soDinhDanh');
    delete at(v1Result, 'properties').soDinhDanh;
    expect(rules(v1)).toEqual(rules(v2));
    // And V1_STATES is exactly v1's list of states.
    expect([...V1_STATES].sort()).toEqual(
      [
        ...(at(schema('sync/sync-status.v1.schema.json'), 'properties', 'state').enum as string[]),
      ].sort(),
    );
  });

  it('asV1 of a full v2 status in each v1 state is valid v1; a v2-only state has no v1 form', () => {
    const validator = new ContractValidator();
    const occurredAt = '2026-12-05T03:00:00.000Z';
    const full = (state: string): SyncStatusV2 =>
      ({
        entity: { domain: 'civil-status', type: 'birth', key: 'KS-1', communeCode: '00004' },
        state,
        sequence: 3,
        attempt: 1,
        causationId: 'evt-1',
        target: 'civil-status-registry',
        receipt: {
          reference: 'HT-1',
          receivedAt: occurredAt,
          result: {
            resultRef: 'ref-1',
            soDangKy: '12',
            quyenSo: '1',
            trangSo: '2',
            ngayDangKy: occurredAt,
          },
        },
        awaiting: { since: occurredAt, polls: 2, nextPollAt: null },
        portalStage: { code: 'DA_TIEP_NHAN', at: occurredAt },
        taxNotice: { reference: 'TB-1' },
        supplement: { requestedAt: occurredAt, deadline: null },
        error: { code: 'PORTAL_DOWN', class: 'retriable', message: 'down' },
        drift: [{ field: 'hoTen', kind: 'changed' }],
        nextAttemptAt: occurredAt,
        occurredAt,
      }) as unknown as SyncStatusV2;
    for (const state of V1_STATES) {
      const status = full(state);
      expect(validator.validate(EVENT_TYPES.SyncStatusV2, status)).toMatchObject({ ok: true });
      expect(validator.validate(EVENT_TYPES.SyncStatus, asV1(status))).toMatchObject({ ok: true });
    }
    // With nothing to drop, the status itself (the relay then reuses its v2 JSON).
    const plain = {
      entity: { domain: 'dossier', type: 'dossier', key: 'H01.1', communeCode: '00004' },
      state: 'ACCEPTED',
      sequence: 1,
      attempt: 0,
      target: 'dvcqg',
      receipt: { reference: 'R-1', result: { soDangKy: '12' } },
      occurredAt,
    } as unknown as SyncStatusV2;
    expect(asV1(plain)).toBe(plain);
    expect(validator.validate(EVENT_TYPES.SyncStatus, asV1(plain))).toMatchObject({ ok: true });
    expect(asV1(full('SYNCED'))).not.toHaveProperty('awaiting');
    expect(asV1(full('AWAITING_RESULT'))).toBeUndefined();
    expect(asV1(full('SUPPLEMENT_REQUESTED'))).toBeUndefined();
  });
});
