/** What the upkeep needs of a connection pool: a TypeORM DataSource is one. */
export interface UpkeepSql {
  query<T = unknown>(sql: string, params?: unknown[]): Promise<T>;
}

/** What one round did: the tables vacuumed (and analysed with it) and those only analysed. */
export interface UpkeepRound {
  /** False when the server's autovacuum is on: it does this itself, and the round did nothing. */
  ran: boolean;
  vacuumed: string[];
  analyzed: string[];
}

/** The log lines a service's upkeep writes (a pino logger is one). */
export interface UpkeepLogger {
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

/**
 * How often a service reads its tables' statistics: often enough that a young schema's plans are
 * made again within seconds of its growth, for one cheap query a round.
 */
export const UPKEEP_EVERY_MS = 15_000;

/**
 * The statistics target the upkeep's analyses use where a column sets none: ANALYZE reads a sample
 * of 300 × target rows, so PostgreSQL's default (100) reads 30,000 rows of each table and sorts
 * each column's values. The plans these services depend on are key look-ups through unique
 * indexes, null fractions and a handful of states, for which 3,000 rows describe a table as well.
 * On a dossier ledger of 18,000 parts it took the round's analyses from about 345 to 155 ms of one
 * backend (test/bench/RESULTS.md, "The upkeep's analyses read a tenth of the sample").
 */
export const UPKEEP_STATISTICS_TARGET = 10;

export interface TableUpkeepOptions {
  /** The service's own schema: only its tables are looked at. */
  schema: string;
  /** How often the statistics are read (a cheap query); work is done only past a threshold. */
  everyMs: number;
  /** Run even while the server's autovacuum is on (tests). Default false. */
  always?: boolean;
  /** The first round that finds autovacuum off. */
  onAutovacuumOff?: () => void;
  /** A round that did something, and how long it took (ms). */
  onRound?: (round: UpkeepRound, ms: number) => void;
  onError?: (err: unknown) => void;
}

interface TableStats {
  relname: string;
  n_dead_tup: string;
  n_mod_since_analyze: string;
  reltuples: string;
}

interface Thresholds {
  autovacuum: string;
  vacuum_threshold: string;
  vacuum_scale: string;
  analyze_threshold: string;
  analyze_scale: string;
}

/**
 * Vacuums and analyses the service's own tables when the PostgreSQL server's autovacuum is off,
 * by autovacuum's own rule and the server's own thresholds: a table is vacuumed once its dead rows
 * exceed `autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor × rows`, analysed once its
 * changes since the last analysis exceed the analyse pair. While autovacuum is on, a round reads
 * one setting and does nothing.
 *
 * Why a service does this at all: the ledger's tables churn (the outbox's rows are written,
 * marked published, then deleted; every push updates its entity). Without vacuum they grow
 * forever. Without analysis something subtler goes wrong: the hot statements are prepared with
 * generic plans (prepared.ts), made on each connection at first use, when a young table holds a
 * few dozen rows and reading it whole is cheapest; only an analysis of the table makes PostgreSQL
 * plan them again. With autovacuum off (as on the machines this project is tested on), the relay's
 * update of the rows it published kept reading the whole outbox, and ingest the whole ledger: in
 * one civil-status bench run the outbox was read whole 15,012 times (507 million rows). No library does this (pg-boss and the like maintain only their
 * own tables); it is one statistics query and a VACUUM or ANALYZE statement.
 *
 * Several instances may run it: VACUUM and ANALYZE take `SKIP_LOCKED`, so one never waits for
 * another's, and neither blocks the service's own reads and writes.
 */
export class TableUpkeep {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;
  private warned = false;

  constructor(
    private readonly db: UpkeepSql,
    private readonly options: TableUpkeepOptions,
  ) {}

  /** A service's upkeep of its own schema, every UPKEEP_EVERY_MS, with its log lines. */
  static forService(db: UpkeepSql, schema: string, logger: UpkeepLogger): TableUpkeep {
    return new TableUpkeep(db, {
      schema,
      everyMs: UPKEEP_EVERY_MS,
      onAutovacuumOff: () =>
        logger.warn(
          { schema },
          "PostgreSQL's autovacuum is off: this service vacuums and analyses its own tables by autovacuum's thresholds",
        ),
      onRound: (round, ms) =>
        logger.info(
          { schema, vacuumed: round.vacuumed, analyzed: round.analyzed, ms },
          'tables vacuumed or analysed',
        ),
      onError: (err) => logger.warn({ err }, 'table upkeep failed; trying again next round'),
    });
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.options.everyMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    const started = performance.now();
    this.running = this.runOnce()
      .then((round) => {
        if (round.vacuumed.length + round.analyzed.length > 0)
          this.options.onRound?.(round, Math.round(performance.now() - started));
      })
      .catch((err: unknown) => this.options.onError?.(err))
      .finally(() => (this.running = undefined));
    await this.running;
  }

  async runOnce(): Promise<UpkeepRound> {
    const [t] = await this.db.query<Thresholds[]>(
      `select current_setting('autovacuum') autovacuum,
              current_setting('autovacuum_vacuum_threshold') vacuum_threshold,
              current_setting('autovacuum_vacuum_scale_factor') vacuum_scale,
              current_setting('autovacuum_analyze_threshold') analyze_threshold,
              current_setting('autovacuum_analyze_scale_factor') analyze_scale`,
    );
    if (!t) throw new Error('no answer to the autovacuum settings');
    const off = t.autovacuum === 'off';
    if (off && !this.warned) {
      this.warned = true;
      this.options.onAutovacuumOff?.();
    }
    if (!off && !this.options.always) return { ran: false, vacuumed: [], analyzed: [] };
    const tables = await this.db.query<TableStats[]>(
      `select s.relname, s.n_dead_tup, s.n_mod_since_analyze, c.reltuples
         from pg_stat_user_tables s join pg_class c on c.oid = s.relid
        where s.schemaname = $1
        order by s.relname`,
      [this.options.schema],
    );
    const round: UpkeepRound = { ran: true, vacuumed: [], analyzed: [] };
    for (const table of tables) {
      // reltuples is -1 until the table is first vacuumed or analysed: count it as empty.
      const rows = Math.max(0, Number(table.reltuples));
      const name = `"${this.options.schema}"."${table.relname.replace(/"/g, '""')}"`;
      if (Number(table.n_dead_tup) > Number(t.vacuum_threshold) + Number(t.vacuum_scale) * rows) {
        await this.db.query(`vacuum (skip_locked) ${name}`);
        await this.analyze(name);
        round.vacuumed.push(table.relname);
      } else if (
        Number(table.n_mod_since_analyze) >
        Number(t.analyze_threshold) + Number(t.analyze_scale) * rows
      ) {
        await this.analyze(name);
        round.analyzed.push(table.relname);
      }
    }
    return round;
  }

  /**
   * ANALYZE with UPKEEP_STATISTICS_TARGET. Both statements go as one simple query, which
   * PostgreSQL runs as one implicit transaction: the SET LOCAL ends with it, so the pooled
   * connection goes back with the server's own default (VACUUM could not run so, hence apart).
   */
  private async analyze(name: string): Promise<void> {
    await this.db.query(
      `set local default_statistics_target = ${UPKEEP_STATISTICS_TARGET}; analyze (skip_locked) ${name}`,
    );
  }
}
