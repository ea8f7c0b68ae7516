/** An age for people: 42 s, 7 min, 3.5 h, 2.1 d. */
export function age(seconds: number): string {
  if (seconds < 90) return `${Math.max(0, Math.round(seconds))} s`;
  if (seconds < 90 * 60) return `${Math.round(seconds / 60)} min`;
  if (seconds < 36 * 3600) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} d`;
}

/** One line for a timeline entry's detail: error, drift fields, receipt, stage, next attempt. */
export function describeDetail(detail: Record<string, unknown>): string {
  const parts: string[] = [];
  const error = detail.error as
    { code?: string; message?: string; portalCode?: string } | undefined;
  if (error)
    parts.push(
      `${error.code ?? 'error'}${error.portalCode ? ` (portal ${error.portalCode})` : ''}: ${error.message ?? ''}`,
    );
  const drift = detail.drift as Array<{ field: string; kind: string }> | undefined;
  if (drift?.length)
    parts.push(`differs: ${drift.map((d) => `${d.field} (${d.kind})`).join(', ')}`);
  if (typeof detail.receipt === 'string') parts.push(`receipt ${detail.receipt}`);
  const stage = detail.portalStage as { code?: string; label?: string } | undefined;
  if (stage) parts.push(`portal stage ${stage.code ?? ''}${stage.label ? ` ${stage.label}` : ''}`);
  const awaiting = detail.awaiting as { polls?: number } | undefined;
  if (awaiting) parts.push(`awaiting the result (${awaiting.polls ?? 0} polls)`);
  if (typeof detail.nextAttemptAt === 'string') parts.push(`next attempt ${detail.nextAttemptAt}`);
  return parts.join(' · ');
}
