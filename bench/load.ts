/**
 * @module
 * The load generator of `bench:serve`, run as its own process so that its CPU is not the
 * orchestrator's: C keep-alive connections, each sending one request at a time (a new one as
 * soon as the last response is read whole) for a fixed time, cycling through the given targets.
 *
 *   node dist/bench/load.mjs '<json: { origin, targets: [{ path, accept? }], connections, durationMs }>'
 *
 * Prints one JSON line: requests, non-2xx, errors, bytes, req/s and latency percentiles (ms).
 */

import { Agent, request } from "node:http";

interface LoadSpec {
  origin: string;
  targets: { path: string; accept?: string }[];
  connections: number;
  durationMs: number;
}

const spec = JSON.parse(process.argv[2] ?? "{}") as LoadSpec;
const url = new URL(spec.origin);
const agent = new Agent({ keepAlive: true, maxSockets: spec.connections, maxFreeSockets: spec.connections });
const latencies: number[] = [];
let bytes = 0;
let non2xx = 0;
let errors = 0;
let next = 0;

function once(target: LoadSpec["targets"][number]): Promise<void> {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = request(
      { agent, host: url.hostname, port: url.port, path: target.path, method: "GET", headers: target.accept ? { accept: target.accept } : {} },
      (res) => {
        res.on("data", (chunk: Buffer) => (bytes += chunk.length));
        res.on("end", () => {
          latencies.push(performance.now() - started);
          if (res.statusCode! < 200 || res.statusCode! >= 300) non2xx++;
          resolve();
        });
        res.on("error", () => {
          errors++;
          resolve();
        });
      },
    );
    req.setTimeout(30_000, () => req.destroy(new Error("timeout")));
    req.on("error", () => {
      errors++;
      resolve();
    });
    req.end();
  });
}

const deadline = performance.now() + spec.durationMs;
const started = performance.now();
await Promise.all(
  Array.from({ length: spec.connections }, async () => {
    while (performance.now() < deadline) await once(spec.targets[next++ % spec.targets.length]!);
  }),
);
const elapsed = performance.now() - started;
agent.destroy();
latencies.sort((a, b) => a - b);
const at = (q: number) => Number((latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? NaN).toFixed(2));
process.stdout.write(
  `${JSON.stringify({ requests: latencies.length, non2xx, errors, bytes, seconds: Number((elapsed / 1000).toFixed(2)), rps: Math.round(latencies.length / (elapsed / 1000)), p50: at(0.5), p90: at(0.9), p99: at(0.99), max: at(1) })}\n`,
);
