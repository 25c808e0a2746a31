// `npm run vectors`: rewrites docs/vectors.json from test/helpers/vectors.ts (after an intended protocol change).
import { writeFileSync } from "node:fs";
import { computeVectors } from "../test/helpers/vectors.js";

writeFileSync(new URL("../docs/vectors.json", import.meta.url), `${JSON.stringify(await computeVectors(), null, 2)}\n`);
process.stdout.write("docs/vectors.json written\n");
