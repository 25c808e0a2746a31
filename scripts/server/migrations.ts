/**
 * @module
 * D1 migrations applied in process, in wrangler's own bookkeeping (`d1_migrations`), so a local
 * database stays usable with `wrangler d1 migrations list --local` and the other way round.
 * Each migration and its bookkeeping row go in one batch: a failed migration leaves nothing.
 */

import type { D1Database } from "@cloudflare/workers-types";

export interface Migration {
  name: string;
  statements: string[];
}

/** wrangler's table, created the same way (wrangler/src/d1/migrations/helpers.ts). */
const BOOKKEEPING = `CREATE TABLE IF NOT EXISTS d1_migrations(
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  name       TEXT UNIQUE,
  applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP NOT NULL
)`;

/** Applies the migrations not yet recorded, in order; returns the names it applied. */
export async function applyMigrations(db: D1Database, migrations: Migration[]): Promise<string[]> {
  await db.prepare(BOOKKEEPING).run();
  const applied = new Set((await db.prepare("SELECT name FROM d1_migrations").all<{ name: string }>()).results.map((row) => row.name));
  const pending = migrations.filter((m) => !applied.has(m.name));
  for (const migration of pending) {
    try {
      await db.batch([...migration.statements.map((sql) => db.prepare(sql)), db.prepare("INSERT INTO d1_migrations (name) VALUES (?)").bind(migration.name)]);
    } catch (err) {
      throw new Error(`migration ${migration.name} failed: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  return pending.map((m) => m.name);
}
