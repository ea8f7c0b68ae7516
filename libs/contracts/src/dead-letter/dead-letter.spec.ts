import {
  deadLetterRecord,
  dlqTopicFor,
  originalOfDeadLetter,
  reasonFromFailure,
} from './dead-letter';

describe('dead letters', () => {
  const original = {
    key: Buffer.from('H56.14-250702-0001'),
    value: Buffer.from([0x7b, 0xff, 0x00]), // not even UTF-8
    headers: {
      ce_id: Buffer.from('e-1'),
      ce_type: Buffer.from('vn.lienthong.dossier.upserted.v1'),
      dlq_stage: 'decode',
    },
  };
  const ctx = {
    sourceTopic: 'commune.dossier.events.v1',
    partition: 4,
    offset: '1234',
    consumerGroup: 'dossier-sync',
    attempts: 1,
    firstFailureAt: new Date('2025-07-02T01:00:00Z'),
    lastFailureAt: new Date('2025-07-02T01:00:00Z'),
  };
  const reason = reasonFromFailure({
    stage: 'decode',
    code: 'MALFORMED_JSON',
    issues: [
      {
        path: '(payload)',
        field: '(payload)',
        rule: 'json',
        message: '(payload): is not valid JSON',
      },
    ],
  });

  it('names the topic <topic>.dlq.v1', () => {
    expect(dlqTopicFor('commune.dossier.events.v1')).toBe('commune.dossier.events.v1.dlq.v1');
  });

  it('keeps key, value and original headers byte for byte, and adds the reason', () => {
    const dead = deadLetterRecord(original, reason, ctx);
    expect(dead.key).toBe(original.key);
    expect(dead.value).toBe(original.value);
    expect(dead.headers.ce_id).toBe(original.headers.ce_id);
    expect(dead.headers).toMatchObject({
      dlq_stage: 'decode',
      dlq_error_code: 'MALFORMED_JSON',
      dlq_field: '(payload)',
      dlq_rule: 'json',
      dlq_source_topic: 'commune.dossier.events.v1',
      dlq_source_partition: '4',
      dlq_source_offset: '1234',
      dlq_attempts: '1',
      dlq_first_failure_at: '2025-07-02T01:00:00.000Z',
      dlq_consumer_group: 'dossier-sync',
    });
  });

  it('gives back the original for a replay, without any dlq_* header', () => {
    const back = originalOfDeadLetter(deadLetterRecord(original, reason, ctx));
    expect(Object.keys(back.headers ?? {}).sort()).toEqual(['ce_id', 'ce_type']);
    expect(back.value).toBe(original.value);
  });
});
