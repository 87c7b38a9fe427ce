import { expect, test } from "bun:test";
import { readLines } from "../../src/lib/lines.ts";

function streamOf(...chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
      controller.close();
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>, maxLineChars?: number): Promise<string[]> {
  const lines: string[] = [];
  for await (const line of readLines(stream, { maxLineChars })) lines.push(line);
  return lines;
}

test("joins lines split across chunks and keeps a final unterminated line", async () => {
  expect(await collect(streamOf("al", "pha\nbe", "ta\n\ngam", "ma"))).toEqual(["alpha", "beta", "", "gamma"]);
});

test("strips CRLF endings, also when \\r and \\n arrive in different chunks", async () => {
  expect(await collect(streamOf("one\r\ntwo\r", "\nthree\r"))).toEqual(["one", "two", "three"]);
});

test("keeps only the last state of a line rewritten with bare \\r (progress bars)", async () => {
  const bar = "  0%|          | 0/20\r 50%|#####     | 10/20\r100%|##########| 20/20\n";
  expect(await collect(streamOf(bar, "done\n"))).toEqual(["100%|##########| 20/20", "done"]);
  expect(await collect(streamOf("a\rb", "\rc\r\r\n"))).toEqual(["c"]);
});

test("decodes multi-byte UTF-8 characters split between chunks", async () => {
  const bytes = new TextEncoder().encode("héllo ✓\n");
  expect(await collect(streamOf(bytes.slice(0, 2), bytes.slice(2, 9), bytes.slice(9)))).toEqual(["héllo ✓"]);
});

test("cuts a runaway line without newline into pieces of at most maxLineChars", async () => {
  const lines = await collect(streamOf("x".repeat(25), "y".repeat(5), "\nz"), 10);
  expect(lines).toEqual(["xxxxxxxxxx", "xxxxxxxxxx", "xxxxxyyyyy", "z"]);
});

test("an aborted signal ends the iteration of a stream that never closes", async () => {
  const controller = new AbortController();
  const stream = new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(new TextEncoder().encode("first\n"));
    },
  });
  const lines: string[] = [];
  setTimeout(() => controller.abort(), 50);
  for await (const line of readLines(stream, { signal: controller.signal })) lines.push(line);
  expect(lines).toEqual(["first"]);
});
