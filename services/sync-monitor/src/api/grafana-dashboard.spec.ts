import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(__dirname, '../../../..');

/** Every `lienthong_*` metric name declared in the sources of the libs and services. */
function declaredMetrics(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const path = join(dir, entry);
      if (entry === 'node_modules' || entry === 'dist') continue;
      if (statSync(path).isDirectory()) walk(path);
      else if (entry.endsWith('.ts') && !entry.endsWith('.spec.ts'))
        for (const m of readFileSync(path, 'utf8').matchAll(/name: '(lienthong_[a-z_]+)'/g))
          names.add(m[1] as string);
    }
  };
  walk(join(root, 'libs'));
  walk(join(root, 'services'));
  return names;
}

describe('deploy/grafana/lienthong.json', () => {
  const dashboard = JSON.parse(
    readFileSync(join(root, 'deploy/grafana/lienthong.json'), 'utf8'),
  ) as {
    panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
  };

  it('queries only metrics that some service exposes (a renamed metric would leave a blank panel)', () => {
    const declared = declaredMetrics();
    const used = dashboard.panels.flatMap((p) =>
      p.targets.flatMap((t) =>
        [...t.expr.matchAll(/\b(lienthong_[a-z_]+?)(?:_bucket|_count|_sum)?\b(?=[{[ )])/g)].map(
          (m) => ({ panel: p.title, metric: m[1] as string }),
        ),
      ),
    );
    expect(used.length).toBeGreaterThan(0);
    expect(used.filter((u) => !declared.has(u.metric))).toEqual([]);
  });
});
