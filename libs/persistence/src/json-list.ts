/**
 * Values of a JSON column as one statement parameter, a JSON array: SQL takes it apart with
 * `jsonb_array_elements($n::jsonb)`, next to the other columns' `unnest` in `rows from (…)` (same
 * order, one row per value). A `jsonb[]` parameter instead costs the client a JSON text per value
 * and then node-postgres' array literal, which escapes every quote and backslash of each text (two
 * more copies) and joins them: in a sampling heap profile of bench:dossier's ingest that was about
 * a tenth of everything dossier-sync allocated. An `undefined` value becomes JSON null.
 */
export function jsonList(values: unknown[]): string {
  return JSON.stringify(values);
}
