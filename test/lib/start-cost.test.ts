// Start-up cost guards. A compiled bundle loads every Node module any of its files imports when the binary starts,
// used or not, and the first touch of process.stdout or process.stderr builds Node's stream objects: together they
// were about 6 ms of every command's start (`comfy-worker --version`: 13.9 → 9.8 ms). These scans fail when a file
// brings one back; the modules are reached through lib/lazy-modules.ts, the CLI's output through lib/stdio.ts.
import { expect, test } from "bun:test";
import { join, relative } from "node:path";

const SRC = join(import.meta.dir, "../../src");
const files = [...new Bun.Glob("**/*.ts").scanSync(SRC)].map((path) => join(SRC, path));
const read = (path: string) => Bun.file(path).text();

test("no source file imports node:net, zlib, crypto, readline or dns at the top (type imports aside)", async () => {
  const eager = /^import\s+(?!type\b)[^;]*from\s+"node:(net|zlib|crypto|readline(\/promises)?|dns(\/promises)?)"/m;
  const found: string[] = [];
  for (const path of files) if (eager.test(await read(path))) found.push(relative(SRC, path));
  expect(found).toEqual([]);
});

test("CLI commands write through lib/stdio.ts; only serve's logs and fix's prompt use Node's process streams", async () => {
  // serve is long-running (its writes must never wait for a reader); readline needs a Node stream
  const allowed = new Set(["cli/_context.ts", "cli/serve.ts", "cli/fix.ts"]);
  const found: string[] = [];
  for (const path of files.filter((p) => relative(SRC, p).startsWith("cli/"))) {
    const uses = (await read(path)).match(/process\.(stdout|stderr)\b/g) ?? [];
    if (uses.length > 0 && !allowed.has(relative(SRC, path))) found.push(relative(SRC, path));
  }
  expect(found).toEqual([]);
});

test("schemas a `run` of an API workflow never parses are built on first use, not at import", async () => {
  // zod builds a schema when its module is evaluated; these were about 3 ms of `run`'s start (bench/job-overhead.ts)
  const topLevel = /^(?:export )?const (\w+)(?::[^=]+)? = z\b/gm;
  const eager: Record<string, string[]> = {};
  for (const [file, allowed] of [
    ["workflow/ui.ts", []],
    ["weights/metadata.ts", []],
    ["download/part-state.ts", []],
    ["jobs/schema.ts", ["JobFile", "JobInput"]],
  ] as const) {
    const names = [...(await read(join(SRC, file))).matchAll(topLevel)].map((m) => m[1] as string);
    const extra = names.filter((name) => !(allowed as readonly string[]).includes(name));
    if (extra.length > 0) eager[file] = extra;
  }
  expect(eager).toEqual({});
});
