/**
 * @module
 * workerd run by `npm start` itself, from the configuration prepare.ts made, with nothing of
 * Miniflare's Node side left: the registry's port is the only TCP socket; Miniflare's entry
 * socket (where crons are fired) and its "loopback" service (where workerd's storage simulators
 * send log lines and errors) are Unix sockets in a directory only this user can open.
 */

import { spawn, type ChildProcess } from "node:child_process";
import { createServer, request, type Server } from "node:http";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import type { Prepared } from "./prepare.js";

export interface WorkerdOptions {
  prepared: Prepared;
  /** 127.0.0.1 port of the socket bound straight to the Worker. */
  port: number;
  /** Unix socket paths for the entry socket and the loopback service. */
  entrySocket: string;
  loopbackSocket: string;
  inspectorPort?: number;
}

/** Starts workerd; resolves once the registry's socket listens, rejects if workerd exits first. */
export async function startWorkerd(options: WorkerdOptions): Promise<ChildProcess> {
  const { prepared } = options;
  const args = [
    "serve",
    "--binary",
    "--experimental", // as Miniflare runs it: compatibility flags without a default-on date
    `--socket-addr=${prepared.sockets.entry}=unix:${options.entrySocket}`,
    `--socket-addr=${prepared.sockets.direct}=127.0.0.1:${options.port}`,
    `--external-addr=${prepared.loopback}=unix:${options.loopbackSocket}`,
    "--control-fd=3",
    ...(options.inspectorPort ? [`--inspector-addr=127.0.0.1:${options.inspectorPort}`] : []),
    "-",
  ];
  const child = spawn(prepared.workerd, args, { stdio: ["pipe", "inherit", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (text: string) => {
    if (stderr.length < 64 * 1024) stderr += text;
    process.stderr.write(text);
  });
  child.stdin!.end(Buffer.from(prepared.config, "base64"));
  const exited = new Promise<never>((_, reject) =>
    child.once("exit", (code, signal) => reject(new Error(`workerd exited (${signal ?? `code ${code}`}) before it listened${stderr ? `: ${lastLine(stderr)}` : ""}`))),
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`workerd did not listen within ${LISTEN_TIMEOUT_MS / 1000} s`)), LISTEN_TIMEOUT_MS);
  });
  try {
    await Promise.race([listening(child.stdio[3] as Readable, prepared.sockets.direct), exited, timeout]);
  } catch (err) {
    child.kill("SIGKILL"); // not left running by a start that failed
    throw err;
  } finally {
    clearTimeout(timer);
  }
  exited.catch(() => undefined); // from now on, its exit is the caller's to watch
  return child;
}

/** How long workerd may take to listen (it loads the Worker and its simulators first). */
const LISTEN_TIMEOUT_MS = 60_000;

function lastLine(text: string): string {
  return text.trim().split("\n").filter(Boolean).pop() ?? "";
}

/** workerd reports each socket it listens on as a JSON line on the control descriptor. */
async function listening(control: Readable, socket: string): Promise<void> {
  for await (const line of createInterface(control)) {
    try {
      const message = JSON.parse(line as string) as { event?: string; socket?: string };
      if (message.event === "listen" && message.socket === socket) return;
    } catch {
      // not a control message
    }
  }
  throw new Error("workerd closed its control descriptor before it listened");
}

/**
 * Miniflare's "loopback" service, as its Node process would answer it: the storage simulators
 * POST log lines to /core/log (level in MF-Log-Level) and failures to /core/error. Printed to
 * stderr; anything else is 404.
 */
export function startLoopback(path: string): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (req.method === "POST" && (req.url === "/core/log" || req.url === "/core/error")) {
        const body = Buffer.concat(chunks).toString("utf8");
        process.stderr.write(`workerd: ${req.url === "/core/error" ? errorText(body) : body}\n`);
        res.writeHead(204).end();
      } else {
        res.writeHead(404).end();
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => resolve(server));
  });
}

function errorText(body: string): string {
  try {
    const error = JSON.parse(body) as { name?: string; message?: string; stack?: string };
    return error.stack ?? `${error.name ?? "Error"}: ${error.message ?? ""}`;
  } catch {
    return body;
  }
}

/** Fires the Worker's `scheduled` handler for `cron` at `at` through the entry socket. */
export function fireScheduled(entrySocket: string, cron: string, at: Date): Promise<void> {
  const query = new URLSearchParams({ cron, time: String(at.getTime()) });
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: entrySocket, path: `/cdn-cgi/handler/scheduled?${query}`, method: "GET", headers: { host: "localhost" }, timeout: 15 * 60_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (text: string) => (body += text));
      res.on("end", () => (res.statusCode === 200 ? resolve() : reject(new Error(`the scheduled handler answered ${res.statusCode}: ${body.slice(0, 200)}`))));
    });
    req.on("timeout", () => req.destroy(new Error("the scheduled handler did not answer within 15 minutes")));
    req.on("error", reject);
    req.end();
  });
}
