import { ContractValidator, EVENT_TYPES } from '@lienthong/contracts';
import type { DossierUpserted, OpsCommand, PayloadByEventType } from '@lienthong/contracts';
import { dossierUpserted, Rng } from '@lienthong/testing';

/** What a consumer writes against the generated types: the typecheck target compiles it. */
function dueDate(d: DossierUpserted): string | undefined {
  return d.NgayHenTra;
}

function describeCommand(c: OpsCommand): string {
  switch (c.command) {
    case 'resync':
      return `resync ${JSON.stringify(c.scope)}`;
    case 'reconcile':
      return `reconcile dry-run=${c.dryRun}`;
    case 'replay-dead-letters':
      return `replay ${c.selection.topic}`;
    case 'pause-target':
    case 'resume-target':
      return `${c.command} ${c.target}`;
    case 'pause-communes':
    case 'resume-communes':
      return `${c.command} ${c.scope.communeCodes.join(',')}`;
  }
}

describe('generated types in a consumer', () => {
  it('narrow a validated payload to its contract type', () => {
    const result = new ContractValidator().validate(
      EVENT_TYPES.DossierUpserted,
      dossierUpserted(new Rng(3)),
    );
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const payload: PayloadByEventType['vn.lienthong.dossier.upserted.v1'] = result.value;
    expect(dueDate(payload)).toMatch(/\+07:00$/);
    // @ts-expect-error — a field outside the contract does not exist on the type
    expect(payload.GhiChuNoiBo).toBeUndefined();
  });

  it('discriminate ops commands exhaustively', () => {
    expect(
      describeCommand({
        commandId: 'x',
        command: 'pause-target',
        operator: { id: 'ops' },
        reason: 'portal maintenance window',
        requestedAt: '2025-07-02T08:00:00+07:00',
        target: 'dvcqg',
      }),
    ).toBe('pause-target dvcqg');
  });
});
