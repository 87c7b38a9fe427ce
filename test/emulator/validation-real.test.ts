import { expect, test } from "bun:test";
import { join } from "node:path";
import { type Json, postPrompt, useEmulator } from "../helpers/emulator.ts";

const emu = useEmulator();

// a prompt with a bad INT, a string where an INT goes, a missing input file, a node linking to a node the prompt
// lacks and an output linking to one, with a real ComfyUI 0.28.2's answer to it
const RECORDED = join(import.meta.dir, "../fixtures/comfy-0.28.2-validation.json");
const REAL_DEPENDENTS: Record<string, string[]> = { "1": ["2"], "3": ["4"], "5": ["6"], "6": ["6"], "7": ["7"] };

// tracebacks name the real server's files and input_config carries tooltips: neither is the emulator's business.
// dependent_outputs: validate_prompt appends every failed output checked after a node failed, in the order of a
// Python set of ids (hash-seeded per process), so only the outputs that really depend on a node are compared
function comparable(nodeErrors: Record<string, Json>) {
  const entries = Object.entries(nodeErrors).map(([id, entry]) => {
    const errors = (entry.errors as Json[]).map((error) => {
      const { traceback: _traceback, input_config: _config, ...extra } = error.extra_info as Json;
      return { ...error, extra_info: extra };
    });
    const dependents = (entry.dependent_outputs as string[]).filter((output) => REAL_DEPENDENTS[id]?.includes(output));
    return [id, { class_type: entry.class_type, dependent_outputs: dependents.sort(), errors }] as const;
  });
  return Object.fromEntries(entries.sort(([a], [b]) => a.localeCompare(b)));
}

test("validation errors are filed and worded as a real 0.28.2 files them (missing link targets, str() of values)", async () => {
  const recorded = await Bun.file(RECORDED).json();
  const { status, body } = await postPrompt(emu.url, { prompt: recorded.prompt });
  expect(status).toBe(recorded.status);
  expect(comparable(body.node_errors as Record<string, Json>)).toEqual(comparable(recorded.response.node_errors));
  const lines = (text: string) => text.split("\n").sort();
  expect(lines(body.error.details)).toEqual(lines(recorded.response.error.details));
  expect({ ...body.error, details: "" }).toEqual({ ...recorded.response.error, details: "" });
});

// ComfyUI 0.28.2 refuses a dependency loop at POST /prompt; the emulator used to run it
const CYCLES = join(import.meta.dir, "../fixtures/comfy-0.28.2-cycles.json");

test("a dependency loop is refused as a real 0.28.2 refuses it: each node of the loop filed with the path", async () => {
  const recorded = await Bun.file(CYCLES).json();
  expect(recorded.cases.length).toBe(3);
  for (const { name, prompt, status: realStatus, response } of recorded.cases) {
    const { status, body } = await postPrompt(emu.url, { prompt });
    expect([name, status]).toEqual([name, realStatus]);
    expect([name, body.node_errors]).toEqual([name, response.node_errors]);
    if (realStatus !== 200) expect([name, body.error]).toEqual([name, response.error]);
  }
});

// JSON.parse keeps "__proto__" as a key and ComfyUI's dicts treat it as any other; "constructor" is a key of every
// JS object. The emulator (and the proxy's pre-check) crashed on the first and took the second for a known node.
const ODD_IDS = join(import.meta.dir, "../fixtures/comfy-0.28.2-odd-ids.json");

test("node ids and class types that name prototype keys are answered as a real 0.28.2 answers them", async () => {
  const recorded = await Bun.file(ODD_IDS).json();
  expect(recorded.cases.length).toBe(3);
  for (const { name, prompt_text, status: realStatus, response } of recorded.cases) {
    const res = await fetch(`${emu.url}/prompt`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: `{"prompt":${prompt_text}}`,
    });
    const body = (await res.json()) as { error: Json; node_errors: Record<string, Json> };
    expect([name, res.status]).toEqual([name, realStatus]);
    expect([name, withoutTracebacks(body.node_errors)]).toEqual([name, withoutTracebacks(response.node_errors)]);
    // a node's missing inputs come from a Python set, whose order is seeded per process: compared as sets
    const lines = (error: Json) => String(error.details).split("\n").sort();
    expect([name, lines(body.error)]).toEqual([name, lines(response.error)]);
    expect([name, { ...body.error, details: "" }]).toEqual([name, { ...response.error, details: "" }]);
  }
});

// node errors as they are, whatever their ids, less what only a real install has (tracebacks, tooltips)
function withoutTracebacks(nodeErrors: Record<string, Json>) {
  const entries = Object.entries(nodeErrors).map(([id, entry]) => {
    const errors = (entry.errors as Json[]).map((error) => {
      const { traceback: _traceback, input_config: _config, ...extra } = error.extra_info as Json;
      return { ...error, extra_info: extra };
    });
    errors.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    return [id, { ...entry, errors }] as const;
  });
  return Object.fromEntries(entries);
}

// RETURN_TYPES[val[1]] raises IndexError for an output a node does not have: out of the output node's own
// validation, or out of an upstream one's (then filed under that node); the emulator called it a type mismatch
const OUTPUT_INDEX = join(import.meta.dir, "../fixtures/comfy-0.28.2-output-index.json");

test("a link to an output its node does not have is refused as a real 0.28.2 refuses it; a negative index is valid", async () => {
  const recorded = await Bun.file(OUTPUT_INDEX).json();
  expect(recorded.cases.length).toBe(3);
  for (const { name, prompt, status: realStatus, response } of recorded.cases) {
    const { status, body } = await postPrompt(emu.url, { prompt });
    expect([name, status]).toEqual([name, realStatus]);
    expect([name, withoutTracebacks(body.node_errors)]).toEqual([name, withoutTracebacks(response.node_errors)]);
    if (realStatus !== 200) expect([name, body.error]).toEqual([name, response.error]);
  }
});
