import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { postPrompt, useEmulator, waitForHistory } from "../helpers/emulator.ts";

const emu = useEmulator();

async function upload(name: string, content: string, fields: Record<string, string> = {}) {
  const form = new FormData();
  form.append("image", new File([content], name, { type: "image/png" }));
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  const res = await fetch(`${emu.url}/upload/image`, { method: "POST", body: form, signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: res.status === 200 ? ((await res.json()) as Record<string, string>) : undefined };
}

const view = (query: string) => fetch(`${emu.url}/view?${query}`, { signal: AbortSignal.timeout(5000) });

describe("POST /upload/image", () => {
  test("returns {name, subfolder, type}; same content keeps the name, different content gets (1), (2)", async () => {
    expect(await upload("cat.png", "AAA")).toEqual({
      status: 200,
      body: { name: "cat.png", subfolder: "", type: "input" },
    });
    expect((await upload("cat.png", "AAA")).body?.name).toBe("cat.png");
    expect((await upload("cat.png", "BBB")).body?.name).toBe("cat (1).png");
    expect((await upload("cat.png", "BBB")).body?.name).toBe("cat (1).png");
    expect((await upload("cat.png", "CCC")).body?.name).toBe("cat (2).png");
    expect(await Bun.file(join(emu.base, "input", "cat (1).png")).text()).toBe("BBB");
  });

  test("overwrite=true replaces the file under the same name", async () => {
    await upload("over.png", "one");
    expect((await upload("over.png", "two", { overwrite: "true" })).body?.name).toBe("over.png");
    expect(await Bun.file(join(emu.base, "input", "over.png")).text()).toBe("two");
  });

  test("subfolder and type choose the directory", async () => {
    const sub = await upload("dog.png", "DDD", { subfolder: "pets" });
    expect(sub.body).toEqual({ name: "dog.png", subfolder: "pets", type: "input" });
    expect(existsSync(join(emu.base, "input", "pets", "dog.png"))).toBe(true);
    const temp = await upload("t.png", "TTT", { type: "temp" });
    expect(temp.body).toEqual({ name: "t.png", subfolder: "", type: "temp" });
    expect(existsSync(join(emu.base, "temp", "t.png"))).toBe(true);
  });

  test("400 without an image part or when the subfolder escapes", async () => {
    const form = new FormData();
    form.append("subfolder", "x");
    expect((await fetch(`${emu.url}/upload/image`, { method: "POST", body: form })).status).toBe(400);
    expect((await upload("evil.png", "E", { subfolder: "../.." })).status).toBe(400);
  });

  test("an uploaded image (also in a subfolder) passes LoadImage validation and runs", async () => {
    await upload("run.png", "RRR", { subfolder: "jobs" });
    const prompt = {
      "1": { class_type: "LoadImage", inputs: { image: "jobs/run.png" } },
      "2": { class_type: "PreviewImage", inputs: { images: ["1", 0] } },
    };
    const { status, body } = await postPrompt(emu.url, { prompt });
    expect(status).toBe(200);
    const entry = await waitForHistory(emu.url, body.prompt_id);
    expect(entry.status.status_str).toBe("success");
    expect(entry.outputs["2"].images[0].type).toBe("temp");
  });
});

describe("GET /view", () => {
  test("serves a file by filename, type and subfolder with Content-Disposition", async () => {
    await upload("shown.png", "PNGDATA", { subfolder: "a/b" });
    const res = await view("filename=shown.png&type=input&subfolder=a/b");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toBe('filename="shown.png"');
    expect(res.headers.get("content-type")).toBe("image/png");
    expect(await res.text()).toBe("PNGDATA");
  });

  test("an annotated name picks the directory; type defaults to output", async () => {
    await upload("ann.png", "ANN");
    expect(await (await view(`filename=${encodeURIComponent("ann.png [input]")}`)).text()).toBe("ANN");
    expect((await view("filename=ann.png")).status).toBe(404);
    await Bun.write(join(emu.base, "output", "out.png"), "OUT");
    expect(await (await view("filename=out.png")).text()).toBe("OUT");
  });

  test("400 for '..' or a leading '/' in the name and for an unknown type", async () => {
    expect((await view("filename=..%2Fsecret.png&type=input")).status).toBe(400);
    expect((await view("filename=%2Fetc%2Fpasswd")).status).toBe(400);
    expect((await view("filename=out.png&type=models")).status).toBe(400);
  });

  test("403 when the subfolder escapes the directory, 404 when missing", async () => {
    expect((await view("filename=passwd&subfolder=../../../../etc")).status).toBe(403);
    expect((await view("filename=passwd&subfolder=/etc")).status).toBe(403);
    expect((await view("filename=nothing-here.png")).status).toBe(404);
    expect((await view("type=output")).status).toBe(404);
  });

  test("never serves html as html", async () => {
    await Bun.write(join(emu.base, "output", "page.html"), "<script>alert(1)</script>");
    expect((await view("filename=page.html")).headers.get("content-type")).toBe("application/octet-stream");
  });
});
