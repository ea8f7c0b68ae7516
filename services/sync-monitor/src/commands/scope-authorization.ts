import type { Role } from '../auth/accounts';
import { covers } from '../auth/accounts';

/** Why an operator may not act on a scope, or undefined when they may. */
export function refusal(
  role: Role,
  scope: { communeCodes?: string[] },
  provinceOf: (communeCode: string) => string,
): string | undefined {
  if (role.kind !== 'operator') return 'a viewer cannot act: ask an operator';
  if (role.provinces === '*') return undefined;
  if (!scope.communeCodes || scope.communeCodes.length === 0)
    return `scope.communeCodes: required for a province operator (provinces ${role.provinces.join(', ')})`;
  const outside = scope.communeCodes.filter((c) => !covers(role, provinceOf(c)));
  return outside.length > 0
    ? `scope.communeCodes: ${outside.join(', ')} outside your provinces (${role.provinces.join(', ')})`
    : undefined;
}
