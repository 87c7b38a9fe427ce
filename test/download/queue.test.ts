import { expect, test } from "bun:test";
import { join } from "node:path";
import { downloadFile } from "../../src/download/download.ts";
import { createDownloadQueue } from "../../src/download/queue.ts";
import { tempDir } from "../helpers/download.ts";
import { contentSha256, startWeightHost } from "../helpers/weight-host.ts";

test("runs at most `limit` tasks at once, in order, and a failure does not stall the rest", async () => {
  const queue = createDownloadQueue(2);
  const started: number[] = [];
  const gates = Array.from({ length: 5 }, () => Promise.withResolvers<void>());
  const results = gates.map((gate, index) =>
    queue.add(async () => {
      started.push(index);
      await gate.promise;
      if (index === 1) throw new Error("boom");
      return index;
    }),
  );
  await Bun.sleep(0);
  expect([queue.active, queue.waiting, started]).toEqual([2, 3, [0, 1]]);
  gates[1]?.resolve();
  await expect(results[1] as Promise<number>).rejects.toThrow("boom");
  expect([queue.active, queue.waiting, started]).toEqual([2, 2, [0, 1, 2]]);
  for (const gate of gates) gate.resolve();
  expect(await Promise.allSettled(results)).toHaveLength(5);
  expect([queue.active, queue.waiting, started]).toEqual([0, 0, [0, 1, 2, 3, 4]]);
});

test("downloads through a queue of 2 never have more than 2 files in flight", async () => {
  const host = startWeightHost();
  using tmp = tempDir();
  const queue = createDownloadQueue(2);
  const names = ["a", "b", "c", "d", "e"];
  for (const [index, name] of names.entries())
    host.serve(`/${name}`, { size: 1_000_000, seed: index, throttleBytesPerSec: 4_000_000 });
  const results = await Promise.all(
    names.map((name) =>
      queue.add(() => downloadFile({ url: host.url(`/${name}`), dest: join(tmp.dir, name), connections: 1 })),
    ),
  );
  expect(results.map((result) => result.sha256)).toEqual(names.map((_, index) => contentSha256(index, 1_000_000)));
  expect(host.maxActivePaths).toBe(2);
  host.stop();
});
