import { expect, test } from "bun:test";
import { warmUp } from "../../src/worker/job-deps.ts";

test("the warm-up job runs the given number of times, and stops at the first that fails", async () => {
  let calls = 0;
  expect(await warmUp(async () => ++calls > 0, 8)).toBe(8);
  expect(calls).toBe(8);
  calls = 0;
  expect(await warmUp(async () => ++calls < 3, 8)).toBe(3);
  expect(calls).toBe(3);
});
