// Prints the closing line the CI reads, "N passed, N failed", from vitest's JSON reports, added up:
//   node scripts/ci-summary.mjs <report.json> <exit status> [<report.json> <exit status>]...
// A run that stopped before vitest reported (typecheck or build failed), a test file that failed
// to load, or a non-zero exit with no failed test each count as a failure: never a false green.
import { existsSync, readFileSync } from "node:fs";

const args = process.argv.slice(2);
const runs = args.length ? [] : [["test-results.json", "0"]];
for (let i = 0; i < args.length; i += 2) runs.push([args[i], args[i + 1] ?? "0"]);
let passed = 0;
let failed = 0;
for (const [file, status] of runs) {
  if (!existsSync(file)) {
    console.log(`${file}: the test run stopped before the tests reported (exit ${status})`);
    failed += 1;
    continue;
  }
  const report = JSON.parse(readFileSync(file, "utf8"));
  let failedHere = report.numFailedTests;
  if (failedHere === 0) failedHere = report.numFailedTestSuites;
  if (failedHere === 0 && status !== "0") failedHere = 1;
  passed += report.numPassedTests;
  failed += failedHere;
}
console.log(`${passed} passed, ${failed} failed`);
