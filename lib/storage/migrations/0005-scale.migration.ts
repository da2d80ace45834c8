import { quoteSchema } from '../schema.name.js';

/**
 * Version 5: storage that grows to billions of calls.
 *
 * - `llm_calls` becomes a table partitioned by month of `time` (UTC), its primary key
 *   `(span_id, time)`: PostgreSQL's unique keys on a partitioned table must hold the partition key,
 *   and a call's time never changes, so a replayed row still conflicts with itself (in the same
 *   partition) and never counts twice. Retention drops whole months: no DELETE, no bloat.
 *   An existing table is not copied: it is attached as one partition (`llm_calls_legacy`) covering
 *   everything up to the end of the month of its newest row, which costs one scan to check the
 *   bound and one index build on (span_id, time); new months get partitions of their own.
 * - `kostrack_ensure_call_partition(at)` creates the month's partition if missing (CREATE, then
 *   ATTACH: SHARE UPDATE EXCLUSIVE on the parent, so writers of other months never wait);
 *   `kostrack_drop_call_partitions(before)` drops the months that end before `before`.
 * - `llm_cost_hourly`: cost, calls and tokens per UTC hour × service × provider × model × feature
 *   × project × user, maintained at ingest in the calls' transaction (like `llm_traces`) and
 *   backfilled here from the calls already stored. `dims` is the md5 of the key columns as a row
 *   (a NULL and an empty string render differently), so NULL tag values need no sentinel and the
 *   key works on any PostgreSQL version.
 * - Indexes for the trace list: `(total_cost_usd, trace_id)` and `(started_at, trace_id)` match
 *   the ORDER BY (ties no longer sorted), one user's or one feature's traces by expression index,
 *   any other tag through a GIN index.
 */
export function scaleUp(schema: string): string[] {
  const s = quoteSchema(schema);
  const lit = `'${schema}'`;
  const fixed = "SECURITY DEFINER SET search_path = pg_catalog, pg_temp SET timezone = 'UTC' SET datestyle = 'ISO, YMD'";
  return [
    // -- partitions ------------------------------------------------------------------------------
    `CREATE OR REPLACE FUNCTION ${s}.kostrack_month_start(p_at timestamptz) RETURNS timestamptz
       LANGUAGE sql IMMUTABLE AS $f$ SELECT (date_trunc('month', p_at AT TIME ZONE 'UTC')) AT TIME ZONE 'UTC' $f$`,
    // Both functions run as the migration's role (an app role may only read and write rows, and
    // creating, attaching and dropping partitions needs the table's owner), and in UTC with ISO
    // dates: partition bounds are written and read back as text.
    `CREATE OR REPLACE FUNCTION ${s}.kostrack_covered_at(p_at timestamptz) RETURNS boolean
       LANGUAGE sql STABLE ${fixed} AS $f$
       SELECT EXISTS (
         SELECT 1 FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid,
                LATERAL (SELECT pg_get_expr(c.relpartbound, c.oid) AS bound) b
          WHERE i.inhparent = format('%I.llm_calls', ${lit})::regclass
            AND (b.bound LIKE 'FOR VALUES FROM (MINVALUE)%' OR substring(b.bound FROM 'FROM \\(''([^'']+)''\\)')::timestamptz <= p_at)
            AND (b.bound LIKE '%TO (MAXVALUE)' OR substring(b.bound FROM 'TO \\(''([^'']+)''\\)')::timestamptz > p_at))
     $f$`,
    `CREATE OR REPLACE FUNCTION ${s}.kostrack_ensure_call_partition(p_at timestamptz) RETURNS text
       LANGUAGE plpgsql ${fixed} AS $f$
     DECLARE
       lo timestamptz := ${s}.kostrack_month_start(p_at);
       hi timestamptz := ((lo AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC';
       part text := 'llm_calls_p' || to_char(lo AT TIME ZONE 'UTC', 'YYYY_MM');
     BEGIN
       -- Already routed: the month's own partition, or the legacy one of an upgraded installation.
       IF ${s}.kostrack_covered_at(lo) THEN RETURN NULL; END IF;
       -- Replicas starting together, or writers seeing the same new month, create it once.
       PERFORM pg_advisory_xact_lock(hashtext('kostrack:partition:' || ${lit}));
       IF to_regclass(format('%I.%I', ${lit}, part)) IS NOT NULL THEN RETURN NULL; END IF;
       -- The check above can miss a table another session made while this one waited for the lock
       -- (the catalog snapshot is not refreshed by an advisory lock): then it exists, and is attached.
       BEGIN
         EXECUTE format('CREATE TABLE %I.%I (LIKE %I.llm_calls INCLUDING DEFAULTS)', ${lit}, part, ${lit});
       EXCEPTION WHEN duplicate_table THEN
         RETURN NULL;
       END;
       BEGIN
         EXECUTE format('ALTER TABLE %I.llm_calls ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)', ${lit}, ${lit}, part, lo, hi);
       EXCEPTION WHEN invalid_object_definition THEN
         -- The month is already covered (the legacy partition of an upgraded installation).
         EXECUTE format('DROP TABLE %I.%I', ${lit}, part);
         RETURN NULL;
       END;
       RETURN part;
     END $f$`,
    `CREATE OR REPLACE FUNCTION ${s}.kostrack_drop_call_partitions(p_before timestamptz) RETURNS text[]
       LANGUAGE plpgsql ${fixed} AS $f$
     DECLARE
       r record;
       hi timestamptz;
       dropped text[] := '{}';
     BEGIN
       FOR r IN SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) AS bound
                  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent = format('%I.llm_calls', ${lit})::regclass
                 ORDER BY c.relname
       LOOP
         hi := substring(r.bound FROM 'TO \\(''([^'']+)''\\)')::timestamptz;
         IF hi IS NOT NULL AND hi <= p_before THEN
           EXECUTE format('DROP TABLE %I.%I', ${lit}, r.relname);
           dropped := dropped || r.relname::text;
         END IF;
       END LOOP;
       RETURN dropped;
     END $f$`,
    `DO $do$
     DECLARE
       newest timestamptz;
       pk name;
     BEGIN
       IF EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = format('%I.llm_calls', ${lit})::regclass) THEN RETURN; END IF;
       EXECUTE format('ALTER TABLE %I.llm_calls RENAME TO llm_calls_legacy', ${lit});
       -- Its index names are the ones the new table takes.
       EXECUTE format('ALTER INDEX IF EXISTS %I.llm_calls_pkey RENAME TO llm_calls_legacy_pkey', ${lit});
       EXECUTE format('ALTER INDEX IF EXISTS %I.llm_calls_trace_time_idx RENAME TO llm_calls_legacy_trace_time_idx', ${lit});
       EXECUTE format('ALTER INDEX IF EXISTS %I.llm_calls_time_idx RENAME TO llm_calls_legacy_time_idx', ${lit});
       EXECUTE format('CREATE TABLE %I.llm_calls (LIKE %I.llm_calls_legacy INCLUDING DEFAULTS, PRIMARY KEY (span_id, time)) PARTITION BY RANGE (time)', ${lit}, ${lit});
       EXECUTE format('CREATE INDEX llm_calls_trace_time_idx ON %I.llm_calls (trace_id, time)', ${lit});
       EXECUTE format('CREATE INDEX llm_calls_time_idx ON %I.llm_calls (time)', ${lit});
       EXECUTE format('SELECT max(time) FROM %I.llm_calls_legacy', ${lit}) INTO newest;
       IF newest IS NULL THEN
         EXECUTE format('DROP TABLE %I.llm_calls_legacy', ${lit});
       ELSE
         -- Its key becomes the parent's (span_id, time), built on attach; (span_id) alone cannot stay
         -- primary. Found by kind, not name: TypeORM's synchronize names it PK_<hash>.
         SELECT conname INTO pk FROM pg_constraint WHERE conrelid = format('%I.llm_calls_legacy', ${lit})::regclass AND contype = 'p';
         IF pk IS NOT NULL THEN EXECUTE format('ALTER TABLE %I.llm_calls_legacy DROP CONSTRAINT %I', ${lit}, pk); END IF;
         EXECUTE format('ALTER TABLE %I.llm_calls ATTACH PARTITION %I.llm_calls_legacy FOR VALUES FROM (MINVALUE) TO (%L)',
                        ${lit}, ${lit}, ((${s}.kostrack_month_start(newest) AT TIME ZONE 'UTC') + interval '1 month') AT TIME ZONE 'UTC');
       END IF;
     END $do$`,
    // This month and the next two exist before the first write needs them.
    `SELECT ${s}.kostrack_ensure_call_partition(now() + m * interval '1 month') FROM generate_series(0, 2) m`,

    // -- hourly rollups --------------------------------------------------------------------------
    `CREATE TABLE IF NOT EXISTS ${s}.llm_cost_hourly (
      hour timestamptz NOT NULL,
      dims uuid NOT NULL,
      service_id text NOT NULL,
      provider text NOT NULL,
      model text NOT NULL,
      feature text,
      project text,
      user_id text,
      cost_usd numeric NOT NULL DEFAULT 0,
      calls bigint NOT NULL DEFAULT 0,
      unpriced_calls bigint NOT NULL DEFAULT 0,
      error_calls bigint NOT NULL DEFAULT 0,
      input_tokens bigint NOT NULL DEFAULT 0,
      output_tokens bigint NOT NULL DEFAULT 0,
      cached_tokens bigint NOT NULL DEFAULT 0,
      PRIMARY KEY (hour, dims)
    )`,
    `CREATE OR REPLACE FUNCTION ${s}.kostrack_dims(p_service text, p_provider text, p_model text, p_feature text, p_project text, p_user text)
       RETURNS uuid LANGUAGE sql IMMUTABLE AS $f$ SELECT md5(ROW(p_service, p_provider, p_model, p_feature, p_project, p_user)::text)::uuid $f$`,
    `INSERT INTO ${s}.llm_cost_hourly AS h (hour, dims, service_id, provider, model, feature, project, user_id, cost_usd, calls,
            unpriced_calls, error_calls, input_tokens, output_tokens, cached_tokens)
     SELECT hour, ${s}.kostrack_dims(service_id, provider, model, feature, project, user_id), service_id, provider, model, feature, project, user_id,
            trim_scale(COALESCE(sum(cost_usd), 0)), count(*), count(*) FILTER (WHERE cost_usd IS NULL),
            count(*) FILTER (WHERE status NOT IN ('ok', 'blocked')), sum(input_tokens), sum(output_tokens), sum(cached_tokens)
       FROM (SELECT date_trunc('hour', time, 'UTC') AS hour, service_id, provider, model, tags->>'feature' AS feature,
                    tags->>'project' AS project, tags->>'user_id' AS user_id, cost_usd, status, input_tokens, output_tokens, cached_tokens
               FROM ${s}.llm_calls) c
      GROUP BY hour, service_id, provider, model, feature, project, user_id
     ON CONFLICT (hour, dims) DO NOTHING`,
    `CREATE INDEX IF NOT EXISTS llm_cost_hourly_model_idx ON ${s}.llm_cost_hourly (provider, model, hour)`,

    // -- trace list ------------------------------------------------------------------------------
    `DROP INDEX IF EXISTS ${s}.llm_traces_cost_idx`,
    `DROP INDEX IF EXISTS ${s}.llm_traces_started_idx`,
    `CREATE INDEX IF NOT EXISTS llm_traces_cost_id_idx ON ${s}.llm_traces (total_cost_usd DESC, trace_id DESC)`,
    `CREATE INDEX IF NOT EXISTS llm_traces_started_id_idx ON ${s}.llm_traces (started_at DESC, trace_id DESC)`,
    `CREATE INDEX IF NOT EXISTS llm_traces_user_idx ON ${s}.llm_traces ((tags->>'user_id'), started_at DESC, trace_id DESC)`,
    `CREATE INDEX IF NOT EXISTS llm_traces_feature_idx ON ${s}.llm_traces ((tags->>'feature'), started_at DESC, trace_id DESC)`,
    `CREATE INDEX IF NOT EXISTS llm_traces_tags_idx ON ${s}.llm_traces USING gin (tags jsonb_path_ops)`,
    // The writer finds the budgets a call is in by scope, not by reading every budget per call.
    `CREATE INDEX IF NOT EXISTS llm_budgets_scope_value_idx ON ${s}.llm_budgets (scope_tag, scope_value)`,
  ];
}

export function scaleDown(schema: string): string[] {
  const s = quoteSchema(schema);
  const lit = `'${schema}'`;
  return [
    `DROP INDEX IF EXISTS ${s}.llm_budgets_scope_value_idx`,
    `DROP INDEX IF EXISTS ${s}.llm_traces_tags_idx`,
    `DROP INDEX IF EXISTS ${s}.llm_traces_feature_idx`,
    `DROP INDEX IF EXISTS ${s}.llm_traces_user_idx`,
    `DROP INDEX IF EXISTS ${s}.llm_traces_started_id_idx`,
    `DROP INDEX IF EXISTS ${s}.llm_traces_cost_id_idx`,
    `CREATE INDEX IF NOT EXISTS llm_traces_cost_idx ON ${s}.llm_traces (total_cost_usd DESC)`,
    `CREATE INDEX IF NOT EXISTS llm_traces_started_idx ON ${s}.llm_traces (started_at DESC)`,
    `DROP TABLE IF EXISTS ${s}.llm_cost_hourly`,
    `DROP FUNCTION IF EXISTS ${s}.kostrack_dims(text, text, text, text, text, text)`,
    // Back to one plain table, rows copied (a down migration is for development, not for billions of rows).
    `DO $do$
     BEGIN
       IF NOT EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = format('%I.llm_calls', ${lit})::regclass) THEN RETURN; END IF;
       EXECUTE format('CREATE TABLE %I.llm_calls_plain (LIKE %I.llm_calls INCLUDING DEFAULTS)', ${lit}, ${lit});
       EXECUTE format('INSERT INTO %I.llm_calls_plain SELECT * FROM %I.llm_calls', ${lit}, ${lit});
       EXECUTE format('DROP TABLE %I.llm_calls', ${lit});
       EXECUTE format('ALTER TABLE %I.llm_calls_plain RENAME TO llm_calls', ${lit});
       EXECUTE format('ALTER TABLE %I.llm_calls ADD PRIMARY KEY (span_id)', ${lit});
       EXECUTE format('CREATE INDEX llm_calls_trace_time_idx ON %I.llm_calls (trace_id, time)', ${lit});
       EXECUTE format('CREATE INDEX llm_calls_time_idx ON %I.llm_calls (time)', ${lit});
     END $do$`,
    `DROP FUNCTION IF EXISTS ${s}.kostrack_drop_call_partitions(timestamptz)`,
    `DROP FUNCTION IF EXISTS ${s}.kostrack_ensure_call_partition(timestamptz)`,
    `DROP FUNCTION IF EXISTS ${s}.kostrack_covered_at(timestamptz)`,
    `DROP FUNCTION IF EXISTS ${s}.kostrack_month_start(timestamptz)`,
  ];
}
