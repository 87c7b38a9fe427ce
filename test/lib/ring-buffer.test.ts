import { expect, test } from "bun:test";
import { RingBuffer } from "../../src/lib/ring-buffer.ts";

test("keeps exactly the newest items once full, oldest first", () => {
  const ring = new RingBuffer<number>(3);
  for (let i = 1; i <= 7; i++) ring.push(i);
  expect(ring.size).toBe(3);
  expect(ring.last()).toEqual([5, 6, 7]);
  expect(ring.last(2)).toEqual([6, 7]);
  expect(ring.last(10)).toEqual([5, 6, 7]);
  expect(ring.last(0)).toEqual([]);
});

test("returns what it has before it is full, and nothing after clear()", () => {
  const ring = new RingBuffer<string>(5);
  ring.push("a");
  ring.push("b");
  expect(ring.last()).toEqual(["a", "b"]);
  ring.clear();
  expect(ring.size).toBe(0);
  expect(ring.last()).toEqual([]);
});

test("rejects a capacity below one", () => {
  expect(() => new RingBuffer(0)).toThrow(RangeError);
});
