import { expect, test } from "bun:test";
import { IdleCollector } from "../../src/server/idle-collect.ts";

const DELAY_MS = 10;
const MiB = 1_048_576;
const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await Bun.sleep(5);
  return check();
};

test("collects once after large values were dropped, and only when the worker is idle", async () => {
  let idle = false;
  let collections = 0;
  const collector = new IdleCollector(() => idle, {
    delayMs: DELAY_MS,
    collect: () => collections++,
    rss: () => 80 * MiB,
  });
  collector.settled();
  collector.settled();
  // busy: it keeps waiting instead of collecting
  await Bun.sleep(DELAY_MS * 5);
  expect(collections).toBe(0);
  idle = true;
  expect(await until(() => collections > 0)).toBe(true);
  await Bun.sleep(DELAY_MS * 5);
  expect(collections).toBe(1);
  collector.close();
});

test("while busy, a drop over the limit collects at once: at most every 250 ms, and only after RSS grew again", () => {
  let collections = 0;
  let rss = 90 * MiB;
  let afterCollect = 95 * MiB;
  let now = 1_000;
  const collector = new IdleCollector(() => false, {
    delayMs: DELAY_MS,
    busyRssLimitBytes: 100 * MiB,
    collect: () => {
      collections++;
      rss = afterCollect;
    },
    rss: () => rss,
    now: () => now,
  });
  collector.settled();
  expect(collections).toBe(0);
  rss = 130 * MiB;
  collector.settled();
  expect(collections).toBe(1);
  // too soon after the last one
  rss = 130 * MiB;
  now += 100;
  collector.settled();
  expect(collections).toBe(1);
  now += 150;
  collector.settled();
  expect(collections).toBe(2);
  // live data keeps RSS over the limit: no collection until it grew 4 MiB past what the last one left
  afterCollect = 120 * MiB;
  now += 300;
  rss = 126 * MiB;
  collector.settled();
  expect(collections).toBe(3);
  now += 300;
  rss = 123 * MiB;
  collector.settled();
  expect(collections).toBe(3);
  rss = 125 * MiB;
  collector.settled();
  expect(collections).toBe(4);
  collector.close();
});

test("nothing dropped, nothing collected; close stops a pending collection", async () => {
  let collections = 0;
  const options = { delayMs: DELAY_MS, collect: () => collections++, rss: () => 0 };
  new IdleCollector(() => true, options);
  const closed = new IdleCollector(() => true, options);
  closed.settled();
  closed.close();
  await Bun.sleep(DELAY_MS * 5);
  expect(collections).toBe(0);
});
