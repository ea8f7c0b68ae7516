import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import type { SqlExecutor } from '@lienthong/messaging';

/**
 * sync-monitor's Prometheus metrics: the read model's view of the whole hub (every service,
 * every commune), for alerts and the Grafana dashboard (deploy/grafana/lienthong.json). Read from
 * the read model at each scrape: a few aggregate queries over indexed tables.
 */
export class MonitorMetrics {
  readonly registry = new Registry();

  constructor(db: SqlExecutor) {
    this.registry.setDefaultLabels({ service: 'sync-monitor' });
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: 'lienthong_monitor_entities',
      help: 'Entities the read model knows, by province, domain and sync state.',
      labelNames: ['province', 'domain', 'state'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const rows = await db.query<
          Array<{ province_code: string; domain: string; state: string; n: number }>
        >(
          `select province_code, domain, state, count(*)::int n from entity_state
           group by province_code, domain, state`,
        );
        for (const r of rows)
          this.set({ province: r.province_code, domain: r.domain, state: r.state }, r.n);
      },
    });
    new Gauge({
      name: 'lienthong_monitor_oldest_unsynced_seconds',
      help: 'Age of the oldest change still waiting for its portal, by province and domain (0: none waits).',
      labelNames: ['province', 'domain'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const rows = await db.query<Array<{ province_code: string; domain: string; age: number }>>(
          `select province_code, domain,
             coalesce(extract(epoch from now() - min(unsynced_since)), 0)::float8 age
           from entity_state group by province_code, domain`,
        );
        for (const r of rows) this.set({ province: r.province_code, domain: r.domain }, r.age);
      },
    });
    new Gauge({
      name: 'lienthong_monitor_dead_letters',
      help: 'Dead letters by source topic and status (open, replayed, discarded).',
      labelNames: ['topic', 'status'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const rows = await db.query<Array<{ source_topic: string; status: string; n: number }>>(
          'select source_topic, status, count(*)::int n from dead_letter group by source_topic, status',
        );
        for (const r of rows) this.set({ topic: r.source_topic, status: r.status }, r.n);
      },
    });
    new Gauge({
      name: 'lienthong_monitor_drift_open',
      help: 'Entities whose portal copy differs and is not repaired yet, by province and domain.',
      labelNames: ['province', 'domain'],
      registers: [this.registry],
      async collect() {
        this.reset();
        const rows = await db.query<Array<{ province_code: string; domain: string; n: number }>>(
          `select province_code, domain, count(*)::int n from entity_state where drift_open
           group by province_code, domain`,
        );
        for (const r of rows) this.set({ province: r.province_code, domain: r.domain }, r.n);
      },
    });
  }
}
