import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { ParkedResults } from "../../src/server/parked-results.ts";
import { ResultFiles } from "../../src/server/result-files.ts";

const parent = mkdtempSync(join(tmpdir(), "cw-parked-"));
afterAll(() => rmSync(parent, { recursive: true, force: true }));

const record = (id: string, expiresAt: number) => ({
  id,
  status: "COMPLETED" as const,
  createdAt: 1,
  startedAt: 2,
  finishedAt: 3,
  expiresAt,
  streamText: '[{"node":"9","note":"ünïcödé"}]',
});

test("a parked record comes back whole, with its output's place in the same file", async () => {
  const files = new ResultFiles({ parent });
  const parked = new ParkedResults(files);
  const output = JSON.stringify({ images: [{ data: "é".repeat(1000) }] });
  const n = (await parked.write(record("a", 100), output)) as number;
  parked.add("a", n, 100);
  const read = parked.read("a", 50);
  expect(read?.record).toEqual(record("a", 100));
  const file = read?.outputFile;
  expect(file?.bytes).toBe(Buffer.byteLength(output));
  expect(
    await Bun.file(file?.path as string)
      .slice(file?.offset)
      .text(),
  ).toBe(output);
  // a read leaves it parked: read again, the same; once /stream delivered its chunks, they are gone from reads
  expect(parked.read("a", 50)).toEqual(read);
  expect(parked.size).toBe(1);
  parked.streamDelivered("a");
  expect(parked.read("a", 50)?.record).toEqual({ ...record("a", 100), streamText: undefined });
  // past its time it is gone, file and all
  expect(parked.read("a", 100)).toBeUndefined();
  expect(parked.size).toBe(0);
  for (let i = 0; i < 100 && readdirSync(files.dir).length > 0; i++) await Bun.sleep(5);
  expect(readdirSync(files.dir)).toEqual([]);
  files.close();
});

test("an expired or damaged parked file is removed when read, an output-less one kept; sweeping goes in order", async () => {
  const files = new ResultFiles({ parent });
  const parked = new ParkedResults(files);
  const park = async (id: string, expiresAt: number, output?: string) =>
    parked.add(id, (await parked.write(record(id, expiresAt), output)) as number, expiresAt);
  await park("late", 10, "{}");
  await park("none", 100);
  await park("bad", 100, "{}");
  writeFileSync(files.path(3), "00000009{not json");
  expect(parked.read("late", 10)).toBeUndefined();
  expect(parked.read("none", 10)).toEqual({ record: record("none", 100) });
  expect(parked.read("bad", 10)).toBeUndefined();
  for (let i = 0; i < 100 && readdirSync(files.dir).length > 1; i++) await Bun.sleep(5);
  expect(readdirSync(files.dir)).toEqual([basename(files.path(2))]);
  parked.sweep(100);
  for (let i = 0; i < 100 && readdirSync(files.dir).length > 0; i++) await Bun.sleep(5);
  expect(readdirSync(files.dir)).toEqual([]);

  // past 4,096 swept ids the order list is cut down; what is left still goes in order
  for (let i = 0; i < 5_000; i++) parked.add(`id${i}`, 1_000 + i, i);
  parked.sweep(4_997);
  expect(parked.size).toBe(2);
  await park("next", 6_000, "{}");
  parked.sweep(5_000);
  expect(parked.size).toBe(1);
  expect(parked.read("next", 5_000)?.outputFile?.bytes).toBe(2);
  files.close();
});
