import {
  deadLetterRecord,
  dlqTopicFor,
  originalOfDeadLetter,
  readDeadLetter,
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

  it('is read back by its headers (why, where from, which event) as Kafka delivers them', () => {
    const dead = deadLetterRecord(original, reason, ctx);
    const asDelivered = {
      key: dead.key,
      value: dead.value,
      headers: Object.fromEntries(
        Object.entries(dead.headers).map(([k, v]) => [k, Buffer.from(String(v))]),
      ),
    };
    expect(readDeadLetter(asDelivered, 'commune.dossier.events.v1.dlq.v1')).toEqual({
      stage: 'decode',
      code: 'MALFORMED_JSON',
      message: dead.headers.dlq_error_message,
      field: '(payload)',
      rule: 'json',
      sourceTopic: 'commune.dossier.events.v1',
      sourcePartition: 4,
      sourceOffset: '1234',
      attempts: 1,
      firstFailureAt: '2025-07-02T01:00:00.000Z',
      lastFailureAt: dead.headers.dlq_last_failure_at,
      eventType: original.headers.ce_type.toString(),
      eventId: original.headers.ce_id.toString(),
    });
  });

  it('reads a record that is not a dead letter of ours as such, instead of failing', () => {
    const seen = readDeadLetter({ key: null, value: 'x', headers: {} }, 'a.topic.dlq.v1');
    expect(seen).toMatchObject({ code: 'DLQ_HEADERS_MISSING', sourceTopic: 'a.topic' });
    expect(seen.message).toMatch(/dlq_stage, dlq_error_code/);
  });
});
