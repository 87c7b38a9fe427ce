import { expect, test } from "bun:test";
import { IdleCollector } from "../../src/server/idle-collect.ts";

const DELAY_MS = 10;
const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await Bun.sleep(5);
  return check();
};

test("collects once after large values were dropped, and only when the worker is idle", async () => {
  let idle = false;
  let collections = 0;
  const collector = new IdleCollector(
    () => idle,
    DELAY_MS,
    () => collections++,
  );
  collector.dropped();
  collector.dropped();
  // busy: it keeps waiting instead of collecting
  await Bun.sleep(DELAY_MS * 5);
  expect(collections).toBe(0);
  idle = true;
  expect(await until(() => collections > 0)).toBe(true);
  await Bun.sleep(DELAY_MS * 5);
  expect(collections).toBe(1);
  collector.close();
});

test("nothing dropped, nothing collected; close stops a pending collection", async () => {
  let collections = 0;
  new IdleCollector(
    () => true,
    DELAY_MS,
    () => collections++,
  );
  const closed = new IdleCollector(
    () => true,
    DELAY_MS,
    () => collections++,
  );
  closed.dropped();
  closed.close();
  await Bun.sleep(DELAY_MS * 5);
  expect(collections).toBe(0);
});
