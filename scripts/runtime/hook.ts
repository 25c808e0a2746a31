/**
 * @module
 * The runtime hook: `node --import countersign/hook app.js` (or the path of dist/hook.mjs).
 *
 * At start-up it works out what to enforce (state.ts: the project from the entry module, its pins,
 * the receipt and who signed it, swapped package directories), then checks every module file
 * before it runs (guard.ts): CommonJS through Module._extensions, ES modules through a loader
 * registered with module.register. An uncaught refusal prints one line and exits 1 (refusal.ts).
 */

import { readFileSync } from "node:fs";
import Module, { register } from "node:module";
import { createGuard } from "./guard.js";
import { entryModule } from "./project.js";
import { exitOnUncaughtRefusal } from "./refusal.js";
import { loadGuardState } from "./state.js";

const state = await loadGuardState({ env: process.env, entry: entryModule(process.argv, process.execArgv), cwd: process.cwd(), execArgv: process.execArgv });
if (state) {
  exitOnUncaughtRefusal();
  const check = createGuard(state);
  // CommonJS: check the bytes before the original loader compiles them.
  const extensions = (Module as unknown as { _extensions: Record<string, (module: unknown, filename: string) => void> })._extensions;
  for (const extension of [".js", ".cjs", ".mjs", ".json", ".node"]) {
    const original = extensions[extension];
    if (!original) continue;
    extensions[extension] = function (this: unknown, module: unknown, filename: string) {
      check(filename, readFileSync(filename));
      return original.call(this, module, filename);
    };
  }
  // ES modules: the same check in the loader thread, on the exact bytes it loads.
  register(new URL("./hook-loader.mjs", import.meta.url), { data: state });
}
