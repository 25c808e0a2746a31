// Each workerd test file gets its own storage; apply the witness's migrations to it first.
import { applyD1Migrations, env } from "cloudflare:test";

await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
