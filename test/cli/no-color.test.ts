import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Redactor } from "../../src/lib/redact.ts";
import { createLogger } from "../../src/log.ts";
import { runCliCaptured } from "../helpers/cli.ts";

const ROOT = join(import.meta.dir, "../..");

test("with colour off, pretty log lines are plain text (no badges, no escape codes)", () => {
  const out: string[] = [];
  const stream = { write: (text: string) => out.push(text) > 0 } as unknown as NodeJS.WritableStream;
  const log = createLogger({ level: "info", format: "pretty", redactor: new Redactor(), stream, color: false });
  log.warn("disk almost full");
  log.info("ready");
  expect(out.join("")).toBe("[warn] disk almost full\n[info] ready\n");
});

test("commands honour NO_COLOR in pretty logs", async () => {
  const example = join(ROOT, "examples/sd15-txt2img.json");
  const env = { NO_COLOR: "1", LOG_FORMAT: "pretty", LOG_LEVEL: "info", COMFY_DIR: "/nonexistent" };
  const { stderr } = await runCliCaptured(["check", example], env, { captureStderr: true });
  expect(stderr).toContain("[info] node types:");
  expect(stderr).not.toContain("\x1b[");
});

test("Biome's configuration is migrated (no deprecation notice) and CI logs get no colour codes", () => {
  const biome = JSON.parse(readFileSync(join(ROOT, "biome.json"), "utf8"));
  expect(biome.linter.rules.recommended).toBeUndefined();
  expect(biome.linter.rules.preset).toBe("recommended");
  const ci = readFileSync(join(ROOT, ".ci/run"), "utf8");
  expect(ci).toContain("export NO_COLOR=1");
  expect(ci).toContain("--colors=off");
});
