import { describe, expect, test } from "bun:test";
import { validatePrompt } from "../../src/emulator/validate.ts";
import { addModel, postPrompt, sd15Workflow, useEmulator, waitForHistory } from "../helpers/emulator.ts";

const emu = useEmulator([["checkpoints", "dreamshaper_8.safetensors"]]);

const json = emu.json;

describe("POST /prompt", () => {
  test("history is {} until the prompt finishes, then has prompt tuple, outputs, status and meta", async () => {
    const workflow = sd15Workflow();
    workflow["3"].inputs.seed = 2002;
    const { body } = await postPrompt(emu.url, { prompt: workflow, client_id: "hist" });
    const id = body.prompt_id as string;
    expect(await json(`/history/${id}`)).toEqual({});
    const entry = await waitForHistory(emu.url, id);
    expect(entry.prompt).toEqual([body.number, id, workflow, expect.objectContaining({ client_id: "hist" }), ["9"]]);
    expect(entry.prompt[3].create_time).toBeNumber();
    expect(entry.outputs["9"].images).toHaveLength(1);
    expect(entry.status.status_str).toBe("success");
    expect(entry.status.completed).toBe(true);
    expect(entry.status.messages.map((m: [string]) => m[0])).toEqual([
      "execution_start",
      "execution_cached",
      "execution_success",
    ]);
    expect(entry.status.messages[0][1].timestamp).toBeNumber();
    expect(entry.meta["9"]).toEqual({ node_id: "9", display_node: "9", parent_node: null, real_node_id: "9" });
    const last = await json("/history?max_items=1");
    expect(Object.keys(last)).toEqual([id]);
  });

  test("a client-chosen prompt_id and number are used as given", async () => {
    const workflow = sd15Workflow();
    workflow["3"].inputs.seed = 3003;
    // the default (new) profile takes only canonical UUIDs, as ComfyUI v0.25+ does
    const id = "0b6f1a3c-8d2e-4f5a-9b7c-1d2e3f4a5b6c";
    const { status, body } = await postPrompt(emu.url, { prompt: workflow, prompt_id: id, number: 77 });
    expect(status).toBe(200);
    expect(body).toEqual({ prompt_id: id, number: 77, node_errors: {} });
    expect((await waitForHistory(emu.url, id)).prompt[0]).toBe(77);
    expect(await json("/prompt")).toEqual({ exec_info: { queue_remaining: 0 } });
  });

  test("400 no_prompt when the body has no prompt", async () => {
    const { status, body } = await postPrompt(emu.url, { client_id: "x" });
    expect(status).toBe(400);
    const error = { type: "no_prompt", message: "No prompt provided", details: "No prompt provided", extra_info: {} };
    expect(body).toEqual({ error, node_errors: {} });
  });

  test("400 missing_node_type for a node without class_type and for an unknown one, as a running 0.28.2 answers", async () => {
    // the answers of a real 0.28.2 to these prompts; its title is the node's _meta.title, else its class
    const cases: Array<[prompt: object, error: object]> = [
      [
        { "1": { inputs: {} } },
        {
          type: "missing_node_type",
          message: "Node 'ID #1' has no class_type. The workflow may be corrupted or a custom node is missing.",
          details: "Node ID '#1'",
          extra_info: { node_id: "1", class_type: null, node_title: null },
        },
      ],
      [
        { "5": { class_type: "NoSuchCustomNode", inputs: {} } },
        {
          type: "missing_node_type",
          message: "Node 'NoSuchCustomNode' not found. The custom node may not be installed.",
          details: "Node ID '#5'",
          extra_info: { node_id: "5", class_type: "NoSuchCustomNode", node_title: "NoSuchCustomNode" },
        },
      ],
      [
        { "5": { class_type: "NoSuchCustomNode", inputs: {}, _meta: { title: "My node" } } },
        {
          type: "missing_node_type",
          message: "Node 'My node' not found. The custom node may not be installed.",
          details: "Node ID '#5'",
          extra_info: { node_id: "5", class_type: "NoSuchCustomNode", node_title: "My node" },
        },
      ],
    ];
    for (const [prompt, error] of cases) {
      const answer = await postPrompt(emu.url, { prompt });
      expect(answer.status).toBe(400);
      expect(answer.body).toEqual({ error, node_errors: {} });
    }
    // the 0.3 line's answer, kept by the older profiles
    const old = validatePrompt({ "5": { class_type: "NoSuchCustomNode", inputs: {} } } as never, {
      info: {},
      fileExists: () => false,
    });
    expect(old.ok ? undefined : old.error).toEqual({
      type: "invalid_prompt",
      message: "Cannot execute because node NoSuchCustomNode does not exist.",
      details: "Node ID '#5'",
      extra_info: {},
    });
  });

  test('a node whose id is "__proto__" runs and is in the history like any other, as in ComfyUI', async () => {
    // JSON.parse keeps the key; assigning it to a plain object would set the prototype and drop the node's outputs
    const prompt = JSON.parse(
      '{"1":{"class_type":"EmptyImage","inputs":{"width":8,"height":8,"batch_size":1,"color":0}},' +
        '"__proto__":{"class_type":"SaveImage","inputs":{"images":["1",0],"filename_prefix":"proto"}}}',
    );
    const { status, body } = await postPrompt(emu.url, { prompt });
    expect(status).toBe(200);
    const entry = await waitForHistory(emu.url, body.prompt_id as string);
    expect(entry.status.status_str).toBe("success");
    expect(Object.keys(entry.outputs)).toEqual(["__proto__"]);
    expect(Object.keys(entry.meta)).toEqual(["__proto__"]);
  });

  test("400 prompt_no_outputs when no node is an output node", async () => {
    const { status, body } = await postPrompt(emu.url, {
      prompt: { "5": { class_type: "EmptyLatentImage", inputs: { width: 64, height: 64, batch_size: 1 } } },
    });
    expect(status).toBe(400);
    expect(body.error).toEqual({
      type: "prompt_no_outputs",
      message: "Prompt has no outputs",
      details: "",
      extra_info: {},
    });
  });

  test("400 prompt_outputs_failed_validation with exact node_errors for a missing input and a bad enum", async () => {
    const workflow = sd15Workflow();
    delete workflow["3"].inputs.cfg;
    workflow["3"].inputs.sampler_name = "nope";
    const { status, body } = await postPrompt(emu.url, { prompt: workflow });
    expect(status).toBe(400);
    expect(body.error.type).toBe("prompt_outputs_failed_validation");
    expect(body.error.message).toBe("Prompt outputs failed validation");
    expect(Object.keys(body.node_errors)).toEqual(["3"]);
    expect(body.node_errors["3"].class_type).toBe("KSampler");
    expect(body.node_errors["3"].dependent_outputs).toEqual(["9"]);
    const [missing, notInList] = body.node_errors["3"].errors;
    expect(missing).toEqual({
      type: "required_input_missing",
      message: "Required input is missing",
      details: "cfg",
      extra_info: { input_name: "cfg" },
    });
    expect(notInList.type).toBe("value_not_in_list");
    expect(notInList.message).toBe("Value not in list");
    expect(notInList.details).toMatch(/^sampler_name: 'nope' not in \(list of length \d+\)$/);
    expect(notInList.extra_info).toEqual({ input_name: "sampler_name", input_config: null, received_value: "nope" });
  });

  test("value_not_in_list for a missing model, then success once the file is in the models folder", async () => {
    const workflow = sd15Workflow();
    workflow["4"].inputs.ckpt_name = "sub/later.safetensors";
    const before = await postPrompt(emu.url, { prompt: workflow });
    expect(before.status).toBe(400);
    const reason = before.body.node_errors["4"].errors[0];
    expect(reason.type).toBe("value_not_in_list");
    expect(reason.details).toBe("ckpt_name: 'sub/later.safetensors' not in ['dreamshaper_8.safetensors']");
    expect(reason.extra_info.received_value).toBe("sub/later.safetensors");
    expect(reason.extra_info.input_config[0]).toEqual(["dreamshaper_8.safetensors"]);
    expect(before.body.node_errors["4"].dependent_outputs).toEqual(["9"]);
    await addModel(emu.base, "checkpoints", "sub/later.safetensors");
    const after = await postPrompt(emu.url, { prompt: workflow });
    expect(after.status).toBe(200);
    expect(after.body.node_errors).toEqual({});
    await waitForHistory(emu.url, after.body.prompt_id);
  });

  test("LoadImage with a missing file fails custom validation", async () => {
    const prompt = {
      "1": { class_type: "LoadImage", inputs: { image: "missing.png" } },
      "2": { class_type: "PreviewImage", inputs: { images: ["1", 0] } },
    };
    const { status, body } = await postPrompt(emu.url, { prompt });
    expect(status).toBe(400);
    expect(body.node_errors["1"]).toEqual({
      errors: [
        {
          type: "custom_validation_failed",
          message: "Custom validation failed for node",
          details: "image - Invalid image file: missing.png",
          extra_info: { input_name: "image" },
        },
      ],
      dependent_outputs: ["2"],
      class_type: "LoadImage",
    });
  });

  test("200 with partial node_errors when only some outputs are invalid; only valid outputs run", async () => {
    const workflow = sd15Workflow();
    workflow["3"].inputs.seed = 4004;
    workflow["20"] = { class_type: "LoadImage", inputs: { image: "absent.png" } };
    workflow["21"] = { class_type: "SaveImage", inputs: { images: ["20", 0], filename_prefix: "never" } };
    const { status, body } = await postPrompt(emu.url, { prompt: workflow });
    expect(status).toBe(200);
    expect(Object.keys(body.node_errors)).toEqual(["20"]);
    expect(body.node_errors["20"].dependent_outputs).toEqual(["21"]);
    const entry = await waitForHistory(emu.url, body.prompt_id);
    expect(entry.prompt[4]).toEqual(["9"]);
    expect(Object.keys(entry.outputs)).toEqual(["9"]);
  });
});
