/**
 * @module
 * The raw tar header check behind `readPackage` (package.ts): what modern-tar's parsed entries
 * no longer show, and where tar extractors (modern-tar here, node-tar in npm) disagree, is
 * refused before any entry is read. Streamed: headers are checked as bytes pass.
 */

/** Largest pax extended header accepted (npm pack writes a few hundred bytes at most). */
const MAX_PAX_BYTES = 64 * 1024;
/**
 * pax keys both modern-tar and npm's node-tar read the same way (`size` only equal to the ustar
 * size, which npm pack writes anyway); `hdrcharset`, GNU sparse files and the rest are refused.
 */
const PAX_KEYS = new Set(["path", "linkpath", "size", "mtime", "atime", "ctime", "uid", "gid", "uname", "gname", "comment", "charset", "dev", "ino", "nlink", "mode"]);
const PAX_KEY_PREFIXES = ["SCHILY.", "LIBARCHIVE."];
const TYPE_NAMES: Record<string, string> = { "3": "character device", "4": "block device", "6": "FIFO", "7": "contiguous file", g: "pax global header", L: "GNU long name", K: "GNU long link name" };

/** A refusal found by the tar guard, carried through the stream pipeline. */
export class TarRefusal extends Error {}
/** The decompressed bytes do not start with a tar header at all: some other artifact. */
export class NotTar extends Error {}

/**
 * Checks the raw tar headers as they pass (before modern-tar sees them), for what the parsed
 * entries no longer show and extractors disagree on:
 * - type flags: only regular files (`0`, NUL), hard links (`1`), symbolic links (`2`),
 *   directories (`5`) and pax extended headers (`x`); modern-tar reads unknown flags (e.g. `7`)
 *   as regular files and node-tar extracts `7` as one, while devices and FIFOs are not package content;
 * - a pax `x` header carries well-formed records with known keys (a `size` equal to the ustar
 *   size, so both read the same body), and is directly
 *   followed by the entry it describes; global `g` headers are refused (node-tar ignores their
 *   path, modern-tar applies it);
 * - sizes are plain octal, and zero for links and directories (node-tar consumes a body that
 *   modern-tar does not, so a non-zero size would desynchronise the two);
 * - the ustar prefix field is only used with the exact POSIX magic `ustar\0` `00`.
 */
export function tarGuard(): { stream: TransformStream<Uint8Array, Uint8Array>; headers: () => number } {
  const pending: Uint8Array[] = [];
  let pendingBytes = 0;
  let skip = 0; // body bytes (with padding) of the current entry still to pass
  let paxBody: { size: number; padded: number } | null = null;
  let afterPax = false;
  let paxPathEndsWithSlash = false;
  let paxSize: string | undefined;
  let zeroBlocks = 0;
  let ended = false;
  let headers = 0;

  const take = (n: number): Uint8Array => {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const first = pending[0]!;
      const part = Math.min(first.length, n - filled);
      out.set(first.subarray(0, part), filled);
      filled += part;
      if (part === first.length) pending.shift();
      else pending[0] = first.subarray(part);
    }
    pendingBytes -= n;
    return out;
  };
  /** Discards n pending bytes without copying them (entry bodies may be large). */
  const drop = (n: number): void => {
    pendingBytes -= n;
    while (n > 0) {
      const first = pending[0]!;
      if (first.length <= n) {
        n -= first.length;
        pending.shift();
      } else {
        pending[0] = first.subarray(n);
        n = 0;
      }
    }
  };
  const ascii = (block: Uint8Array, from: number, length: number) => {
    const field = block.subarray(from, from + length);
    const nul = field.indexOf(0);
    return new TextDecoder().decode(nul === -1 ? field : field.subarray(0, nul));
  };

  function header(block: Uint8Array): void {
    if (block.every((b) => b === 0)) {
      if (afterPax) throw new TarRefusal("a pax extended header is not followed by an entry");
      if (++zeroBlocks === 2) ended = true;
      return;
    }
    zeroBlocks = 0;
    // The unsigned ustar checksum, as the strict decoder checks it: the first header decides
    // whether this is a tar archive at all.
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
    const stored = ascii(block, 148, 8).trim();
    if (!/^[0-7]+$/.test(stored) || parseInt(stored, 8) !== sum) {
      if (headers === 0) throw new NotTar("not a tar archive");
      throw new TarRefusal("a tar header has a bad checksum");
    }
    headers++;
    const flag = block[156] === 0 ? "0" : String.fromCharCode(block[156]!);
    const sizeField = ascii(block, 124, 12).trim();
    if (!/^[0-7]*$/.test(sizeField) || (block[124]! & 0x80) !== 0) throw new TarRefusal("an entry has a size that is not plain octal");
    const size = sizeField === "" ? 0 : parseInt(sizeField, 8);
    const name = ascii(block, 0, 100);
    const prefix = ascii(block, 345, 155);
    if (prefix !== "" && ascii(block, 257, 6) === "ustar" && !(block[262] === 0 && block[263] === 0x30 && block[264] === 0x30)) {
      throw new TarRefusal(`entry "${safe(name)}" has a ustar prefix with a non-POSIX magic`);
    }
    if (flag === "x") {
      if (afterPax) throw new TarRefusal("two pax extended headers in a row");
      if (size > MAX_PAX_BYTES) throw new TarRefusal(`a pax extended header is larger than ${MAX_PAX_BYTES} bytes`);
      paxBody = { size, padded: size + (-size & 511) };
      return;
    }
    const wasPax = afterPax;
    afterPax = false;
    if (!["0", "1", "2", "5"].includes(flag)) {
      const kind = TYPE_NAMES[flag] ?? `type "${safe(flag)}"`;
      throw new TarRefusal(`entry "${safe(name)}" is a ${kind}, not a file, directory or link`);
    }
    // The body length both extractors use is the ustar size: a pax size may only repeat it.
    if (wasPax && paxSize !== undefined && paxSize !== String(size)) throw new TarRefusal(`entry "${safe(name)}" has a pax size that differs from its header size`);
    const dirLike = flag !== "0" || name.endsWith("/") || (wasPax && paxPathEndsWithSlash);
    if (dirLike && size !== 0) throw new TarRefusal(`entry "${safe(name)}" is a link or directory with a non-zero size`);
    skip = size + (-size & 511);
  }

  /** Parses pax records (`<length> <key>=<value>\n`, the length in bytes) strictly. */
  function pax(body: Uint8Array): void {
    const utf8Strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    const malformed = () => new TarRefusal("a pax extended header has a malformed record");
    paxPathEndsWithSlash = false;
    paxSize = undefined;
    let offset = 0;
    while (offset < body.length) {
      const space = body.indexOf(0x20, offset);
      if (space === -1 || space - offset > 8) throw malformed();
      const digits = String.fromCharCode(...body.subarray(offset, space));
      if (!/^[1-9][0-9]*$/.test(digits)) throw malformed();
      const end = offset + Number(digits);
      if (end > body.length || end <= space + 1 || body[end - 1] !== 0x0a) throw malformed();
      let record: string;
      try {
        record = utf8Strict.decode(body.subarray(space + 1, end - 1));
      } catch {
        throw malformed();
      }
      const equals = record.indexOf("=");
      if (equals <= 0) throw malformed();
      const key = record.slice(0, equals);
      if (!PAX_KEYS.has(key) && !PAX_KEY_PREFIXES.some((p) => key.startsWith(p))) throw new TarRefusal(`a pax extended header sets "${safe(key)}", which is not allowed`);
      if (key === "path") paxPathEndsWithSlash = record.slice(equals + 1).endsWith("/");
      if (key === "size") paxSize = record.slice(equals + 1);
      offset = end;
    }
    afterPax = true;
  }

  /** Checks every complete header in what is pending; throws a TarRefusal. */
  function scan(): void {
    for (;;) {
      if (skip > 0) {
        const n = Math.min(skip, pendingBytes);
        if (n === 0) return;
        drop(n);
        skip -= n;
        continue;
      }
      if (paxBody) {
        if (pendingBytes < paxBody.padded) return;
        const body = take(paxBody.padded).subarray(0, paxBody.size);
        paxBody = null;
        pax(body);
        continue;
      }
      if (ended || pendingBytes < 512) return;
      header(take(512));
    }
  }

  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      // What follows the end blocks is checked (all zero) by the strict decoder.
      if (!ended) {
        pending.push(chunk);
        pendingBytes += chunk.length;
        scan();
      }
      // Passed on only once checked, so the decoder never sees a refused header.
      // (A header split across chunks is checked when its last byte arrives, before that chunk passes.)
      controller.enqueue(chunk);
    },
  });
  return { stream, headers: () => headers };
}

/** Attacker-supplied names, safe to echo in a one-line error. */
export function safe(text: string): string {
  return text.replace(/[^\x20-\x7e]/g, "?").slice(0, 120);
}
