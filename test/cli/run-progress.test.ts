import { expect, test } from "bun:test";
import { createProgressRenderer, describeProgress } from "../../src/cli/_progress.ts";

function fakeTty() {
  const writes: string[] = [];
  const stream = {
    isTTY: true,
    columns: 200,
    write: ((chunk: string) => writes.push(String(chunk)) > 0) as NodeJS.WriteStream["write"],
  };
  return { stream, writes, screen: () => writes.join("") };
}

const step = { node: "3", class_type: "KSampler", title: "Sampler", value: 6, max: 20, percent: 30 };

test("the live line shows node title, type, id, step and percent", () => {
  expect(describeProgress(step)).toBe('KSampler "Sampler" (node 3) [######--------------] 6/20 30%');
  expect(describeProgress({ node: "4", class_type: "CheckpointLoaderSimple", value: 0, max: 0, percent: 0 })).toBe(
    "CheckpointLoaderSimple (node 4)",
  );
  expect(describeProgress({ node: "download:checkpoints/a.safetensors", value: 5, max: 10, percent: 50 })).toBe(
    "downloading checkpoints/a.safetensors 50%",
  );
});

test("on a TTY a log line written mid-progress is printed on its own line and the live line is redrawn below it", () => {
  const tty = fakeTty();
  const view = createProgressRenderer(tty.stream, true);
  view.progress(step);
  tty.stream.write("WARN something happened\n");
  view.progress({ ...step, value: 7, percent: 35 });
  view.done();
  const screen = tty.screen();
  // the log line starts on a cleared line, never glued to the progress text
  expect(screen).toContain("\r\x1b[2KWARN something happened\n\r\x1b[2KKSampler");
  expect(screen).not.toMatch(/%WARN/);
  // after done the stream is plain again
  tty.stream.write("after\n");
  expect(tty.writes.at(-1)).toBe("after\n");
  expect(screen.endsWith("\r\x1b[2K")).toBe(true);
});

test("off a TTY each event is one JSON line", () => {
  const tty = fakeTty();
  const view = createProgressRenderer(tty.stream, false);
  view.phase("in queue");
  view.progress(step);
  expect(tty.writes.map((w) => JSON.parse(w))).toEqual([
    { event: "phase", phase: "in queue" },
    { event: "progress", ...step },
  ]);
});

test("a node that wrote files is announced once, as soon as it finishes", () => {
  const tty = fakeTty();
  const view = createProgressRenderer(tty.stream, false);
  const finished = [
    {
      node: "9",
      class_type: "SaveImage",
      title: "Save Image",
      files: [{ filename: "a.png", subfolder: "s", type: "output" }],
    },
  ];
  view.progress({ ...step, finished });
  view.progress({ ...step, value: 7, finished });
  const notes = tty.writes.map((w) => JSON.parse(w)).filter((e) => e.event === "note");
  expect(notes).toEqual([{ event: "note", message: 'SaveImage "Save Image" (node 9) finished: s/a.png' }]);
});
