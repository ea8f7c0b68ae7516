import { checkAuthority, readEvent } from '@lienthong/contracts';
import type {
  ContractEvent,
  ContractValidator,
  KafkaRecord,
  Validated,
} from '@lienthong/contracts';

/**
 * How a sync service reads its commune topic: a valid contract event (readEvent) that its
 * publisher may publish for the commune it names (the trusted writer's `lienthong-authority`
 * header, docs/security.md). Anything else is dead-lettered with its reason, nothing applied.
 */
export function authorizedEvents(
  contractTopic: string,
  validator: ContractValidator,
  provinceOf: (communeCode: string) => string | undefined,
): (record: KafkaRecord) => Validated<ContractEvent> {
  return (record) => {
    const read = readEvent(record, contractTopic, validator);
    if (!read.ok) return read;
    const { envelope } = read.value;
    // readEvent requires ce_communecode on commune topics.
    const allowed = checkAuthority(record, envelope.communeCode ?? '', provinceOf, envelope.type);
    return allowed.ok ? read : allowed;
  };
}
