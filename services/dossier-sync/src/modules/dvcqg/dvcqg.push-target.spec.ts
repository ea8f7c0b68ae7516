import type { DossierProgressStep, DossierUpserted } from '@lienthong/contracts';
import { fromWireHeader, toWireHeader } from '@lienthong/portal-clients';
import type { DvcqgClient, DvcqgDossier } from '@lienthong/portal-clients';
import { PortalCallError } from '@lienthong/resilience';
import type { PortalGateway } from '@lienthong/resilience';
import { LeaseLostError, PushFailure, fingerprint } from '@lienthong/sync-engine';
import type { ClaimedEntity } from '@lienthong/sync-engine';
import { Rng, dossierLifecycle, expectEventually } from '@lienthong/testing';
import { DvcqgPushTarget } from './dvcqg.push-target';

/** What the adapter asked of DVCQG, in order; and what the portal holds for the lookup. */
class PortalScript {
  calls: string[] = [];
  holds: DvcqgDossier | undefined;
  failOnStepCall: number | undefined;
  failHeader = false;
  private stepCalls = 0;

  readonly client = {
    lookup: (code: string) => {
      this.calls.push(`lookup ${code}`);
      return Promise.resolve(this.holds);
    },
    sendHeader: (h: DossierUpserted, exists: boolean) => {
      this.calls.push(`header ${exists ? 'update' : 'insert'} ${h.MaHoSo}`);
      if (this.failHeader)
        return Promise.reject(new PortalCallError('PORTAL_TIMEOUT', 'DVCQG did not answer'));
      return Promise.resolve();
    },
    pushSteps: (steps: DossierProgressStep[]) => {
      this.stepCalls += 1;
      if (this.stepCalls === this.failOnStepCall)
        return Promise.reject(new PortalCallError('PORTAL_UNAVAILABLE', 'DVCQG answered 503'));
      this.calls.push(`steps ${steps.map((s) => s.MaBuocXuLy).join(',')}`);
      return Promise.resolve();
    },
  } as unknown as DvcqgClient;
}

const gateway = { blocked: () => false } as unknown as PortalGateway;

/** A lease that is always ours, and remembers the write-ahead marks: sending, then pushed. */
class RecordingLease {
  readonly signal = new AbortController().signal;
  readonly marks: string[] = [];
  confirm(sending: string[] = []): Promise<void> {
    if (sending.length > 0) this.marks.push(`sending ${sending.join(',')}`);
    return Promise.resolve();
  }
  pushed(keys: string[]): Promise<void> {
    this.marks.push(`pushed ${keys.join(',')}`);
    return Promise.resolve();
  }
}

function claim(
  life: ReturnType<typeof dossierLifecycle>,
  overrides: Partial<ClaimedEntity> = {},
): ClaimedEntity {
  return {
    entityType: 'dossier',
    entityKey: life.code,
    communeCode: life.commune.code,
    sourceSequence: 1,
    desired: life.final,
    desiredFingerprint: fingerprint(life.final),
    attempts: 0,
    uncertain: false,
    parts: life.steps.map((s, i) => ({
      partKey: s.MaBuocXuLy,
      sequence: i + 2,
      payload: s,
      sends: 0,
    })),
    lease: new RecordingLease(),
    ...overrides,
  };
}

/** A dossier with 23 steps (three calls of at most ten): its lifecycle's steps, repeated with own ids. */
function longLife(seed: number) {
  const life = dossierLifecycle(new Rng(seed), { endAt: 4 });
  const model = life.steps[0] as DossierProgressStep;
  const steps = Array.from({ length: 23 }, (_, i) => ({
    ...model,
    MaBuocXuLy: `${model.MaBuocXuLy}-${i + 1}`,
    NoiDungXuLy: `Bước ${i + 1}`,
  }));
  return { ...life, steps };
}

describe('DvcqgPushTarget', () => {
  it('a dossier never synced: inserts the header without a lookup, then sends the steps ten per call in order', async () => {
    const life = longLife(1);
    const portal = new PortalScript();
    const receipt = await new DvcqgPushTarget(portal.client, gateway).push(claim(life), 'c1');
    const keys = life.steps.map((s) => s.MaBuocXuLy);
    expect(portal.calls).toEqual([
      `header insert ${life.code}`,
      `steps ${keys.slice(0, 10).join(',')}`,
      `steps ${keys.slice(10, 20).join(',')}`,
      `steps ${keys.slice(20).join(',')}`,
    ]);
    expect(receipt).toEqual({ reference: life.code, pushedParts: keys });
  });

  it('synced before, header unchanged: no lookup, no header, only the new steps', async () => {
    const life = dossierLifecycle(new Rng(2), { endAt: 4 });
    const portal = new PortalScript();
    const entity = claim(life, { syncedFingerprint: fingerprint(life.final) });
    await new DvcqgPushTarget(portal.client, gateway).push(entity, 'c2');
    expect(portal.calls).toEqual([`steps ${life.steps.map((s) => s.MaBuocXuLy).join(',')}`]);
  });

  it('uncertain (an earlier push may have landed): a header DVCQG already holds is not sent again; the steps the ledger has not seen pushed are sent, each chunk marked before, and after unless it is the last (the outcome marks that one)', async () => {
    const life = longLife(3);
    const portal = new PortalScript();
    portal.holds = { header: fromWireHeader(toWireHeader(life.final)) };
    const lease = new RecordingLease();
    // The first four steps were recorded as pushed before: the ledger does not offer them again.
    const entity = claim(life, { uncertain: true, syncedFingerprint: 'older', lease });
    entity.parts = entity.parts.slice(4).map((p, i) => ({ ...p, sends: i < 3 ? 1 : 0 }));
    const receipt = await new DvcqgPushTarget(portal.client, gateway).push(entity, 'c3');
    const keys = life.steps.map((s) => s.MaBuocXuLy);
    expect(portal.calls[0]).toBe(`lookup ${life.code}`);
    expect(portal.calls.filter((c) => c.startsWith('header'))).toEqual([]);
    expect(portal.calls.slice(1)).toEqual([
      `steps ${keys.slice(4, 14).join(',')}`,
      `steps ${keys.slice(14).join(',')}`,
    ]);
    expect(lease.marks).toEqual([
      `sending ${keys.slice(4, 14).join(',')}`,
      `pushed ${keys.slice(4, 14).join(',')}`,
      `sending ${keys.slice(14).join(',')}`,
    ]);
    expect(receipt.pushedParts).toEqual(keys.slice(4));
  });

  it('a portal failure part-way: the steps already sent are reported with the failure; the failed chunk was marked as being sent, never as pushed', async () => {
    const life = longLife(4);
    const portal = new PortalScript();
    portal.failOnStepCall = 2;
    const lease = new RecordingLease();
    const error = await new DvcqgPushTarget(portal.client, gateway)
      .push(claim(life, { lease }), 'c4')
      .catch((e: unknown) => e);
    const keys = life.steps.map((s) => s.MaBuocXuLy);
    expect(lease.marks).toEqual([
      `sending ${keys.slice(0, 10).join(',')}`,
      `pushed ${keys.slice(0, 10).join(',')}`,
      `sending ${keys.slice(10, 20).join(',')}`,
    ]);
    expect(error).toBeInstanceOf(PushFailure);
    const failure = error as PushFailure;
    expect(failure.cause).toMatchObject({ code: 'PORTAL_UNAVAILABLE' });
    expect(failure.pushedParts).toEqual(life.steps.slice(0, 10).map((s) => s.MaBuocXuLy));
  });

  it("the first chunk's lease is confirmed while the header is written: the steps go only once it answered", async () => {
    const life = longLife(6);
    const portal = new PortalScript();
    let answer = (): void => undefined;
    const asked: string[][] = [];
    const lease = {
      signal: new AbortController().signal,
      confirm: (sending: string[] = []) => {
        asked.push(sending);
        // The first chunk's confirmation answers when the test says; the others at once.
        if (asked.filter((a) => a.length > 0).length !== 1 || sending.length === 0)
          return Promise.resolve();
        return new Promise<void>((resolve) => (answer = resolve));
      },
      pushed: () => Promise.resolve(),
    };
    const push = new DvcqgPushTarget(portal.client, gateway).push(claim(life, { lease }), 'c6');
    const keys = life.steps.map((s) => s.MaBuocXuLy);
    await expectEventually(() => expect(portal.calls).toHaveLength(1), { intervalMs: 1 });
    // The header went out while the first chunk's confirmation was still unanswered.
    expect(portal.calls).toEqual([`header insert ${life.code}`]);
    expect(asked).toEqual([[], keys.slice(0, 10)]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(portal.calls).toHaveLength(1);
    answer();
    await expect(push).resolves.toMatchObject({ pushedParts: keys });
    expect(portal.calls[1]).toBe(`steps ${keys.slice(0, 10).join(',')}`);
  });

  it('a header that fails: no step goes out, and the first chunk, marked meanwhile, is reported as never sent', async () => {
    const life = longLife(7);
    const portal = new PortalScript();
    portal.failHeader = true;
    const lease = new RecordingLease();
    const error = await new DvcqgPushTarget(portal.client, gateway)
      .push(claim(life, { lease }), 'c7')
      .catch((e: unknown) => e);
    const keys = life.steps.map((s) => s.MaBuocXuLy);
    expect(portal.calls).toEqual([`header insert ${life.code}`]);
    expect(lease.marks).toEqual([`sending ${keys.slice(0, 10).join(',')}`]);
    expect(error).toBeInstanceOf(PushFailure);
    expect((error as PushFailure).cause).toMatchObject({ code: 'PORTAL_TIMEOUT' });
    expect((error as PushFailure).pushedParts).toEqual([]);
    expect((error as PushFailure).unsentParts).toEqual(keys.slice(0, 10));
  });

  it('a lease lost between chunks stops the push before the next write to DVCQG', async () => {
    const life = longLife(5);
    const portal = new PortalScript();
    let confirms = 0;
    const lease = {
      signal: new AbortController().signal,
      confirm: () => {
        confirms += 1;
        // Header, first chunk: ours; second chunk: taken over.
        return confirms <= 2 ? Promise.resolve() : Promise.reject(new LeaseLostError(life.code));
      },
      pushed: () => Promise.resolve(),
    };
    const error = await new DvcqgPushTarget(portal.client, gateway)
      .push(claim(life, { lease }), 'c5')
      .catch((e: unknown) => e);
    expect((error as PushFailure).cause).toBeInstanceOf(LeaseLostError);
    expect((error as PushFailure).pushedParts).toEqual(
      life.steps.slice(0, 10).map((s) => s.MaBuocXuLy),
    );
    expect(portal.calls.filter((c) => c.startsWith('steps'))).toHaveLength(1);
  });
});
