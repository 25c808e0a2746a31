// Prints the closing line the CI reads, "N passed, N failed", from vitest's JSON report.
// A run that stopped before vitest reported (typecheck or build failed), a test file that failed
// to load, or a non-zero exit with no failed test each count as a failure: never a false green.
import { existsSync, readFileSync } from "node:fs";

const [file = "test-results.json", status = "0"] = process.argv.slice(2);
if (!existsSync(file)) {
  console.log(`test run stopped before the tests reported (exit ${status})`);
  console.log("0 passed, 1 failed");
} else {
  const report = JSON.parse(readFileSync(file, "utf8"));
  let failed = report.numFailedTests;
  if (failed === 0) failed = report.numFailedTestSuites;
  if (failed === 0 && status !== "0") failed = 1;
  console.log(`${report.numPassedTests} passed, ${failed} failed`);
}
