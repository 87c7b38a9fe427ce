import { expect, test } from "bun:test";
import { builtOnce } from "../../src/lib/built-once.ts";

test("builtOnce builds on the first call, not before, and hands back the same value after", () => {
  let builds = 0;
  const get = builtOnce(() => ({ n: ++builds }));
  expect(builds).toBe(0);
  const first = get();
  expect(get()).toBe(first);
  expect(builds).toBe(1);
});

test("builtOnce keeps a falsy value rather than building again", () => {
  let builds = 0;
  const get = builtOnce(() => {
    builds++;
    return undefined;
  });
  get();
  get();
  expect(builds).toBe(1);
});
