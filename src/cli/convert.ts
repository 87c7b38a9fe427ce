import { readFile, writeFile } from "node:fs/promises";
import { defineCommand } from "citty";
import { createComfyClient } from "../comfy/client.ts";
import { CORE_OBJECT_INFO_VERSION, coreObjectInfo, type ObjectInfo } from "../comfy/object-info.ts";
import { ObjectInfoBody } from "../comfy/schemas.ts";
import { WorkerError } from "../errors.ts";
import { writeError } from "../lib/output-files.ts";
import { stdout } from "../lib/stdio.ts";
import { apiWorkflowOf } from "../workflow/convert.ts";
import { parseJsonText } from "../workflow/json-text.ts";
import { loadWorkflowFile } from "../workflow/load.ts";
import { commonArgs } from "./_args.ts";
import { createCommandContext } from "./_context.ts";

const URL_RE = /^https?:\/\//i;
const OBJECT_INFO_PATH_RE = /\/(?:api\/)?object_info\/?$/;

export default defineCommand({
  meta: {
    name: "convert",
    description: "Convert a UI-format workflow (JSON, or a PNG/WebP with one embedded) to API format",
  },
  args: {
    ...commonArgs,
    workflow: {
      type: "positional",
      description: "workflow file: UI or API JSON, or a PNG/WebP saved by ComfyUI",
      required: true,
    },
    "object-info": {
      type: "string",
      description: `a saved GET /object_info JSON, or a ComfyUI URL to fetch it from (default: the bundled core nodes of ComfyUI ${CORE_OBJECT_INFO_VERSION})`,
      valueHint: "FILE|URL",
    },
    out: { type: "string", description: "write the API JSON here instead of stdout", valueHint: "FILE" },
  },
  async run({ args }) {
    const { log } = createCommandContext({ args });
    const loaded = await loadWorkflowFile(args.workflow);
    const objectInfo = await _loadObjectInfo(args["object-info"]);
    if (!args["object-info"])
      log.info(
        `node types: built-in list of ComfyUI ${CORE_OBJECT_INFO_VERSION} core nodes (--object-info adds custom nodes)`,
      );
    const result = apiWorkflowOf(loaded, objectInfo);
    if (loaded.format === "api") log.info(`${args.workflow} is already in API format; printed as it is`);
    for (const warning of result.warnings) log.warn(warning);
    for (const node of result.unknownNodes) {
      log.warn(`unknown node type "${node.class_type}"${node.pack ? ` (node pack: ${node.pack})` : ""}`);
    }
    // ComfyUI refuses a prompt without nodes; printing `{}` would only move the error to the queue
    if (Object.keys(result.api).length === 0) {
      throw new WorkerError(
        "E_INPUT",
        `${args.workflow}: no node is left to convert (the workflow is empty, or every node is muted or bypassed)`,
      );
    }
    const json = `${JSON.stringify(result.api, null, 2)}\n`;
    if (args.out)
      await writeFile(args.out, json).catch((error: unknown) => {
        throw writeError(error, String(args.out));
      });
    else stdout.write(json);
  },
});

// the bundled snapshot works offline; a live /object_info also knows custom nodes and newer inputs
async function _loadObjectInfo(source: string | undefined): Promise<ObjectInfo> {
  if (!source) return coreObjectInfo();
  if (URL_RE.test(source)) {
    const url = new URL(source);
    url.pathname = url.pathname.replace(OBJECT_INFO_PATH_RE, "");
    return createComfyClient({ url: url.toString().replace(/\/+$/, "") }).objectInfo();
  }
  const text = await readFile(source, "utf8").catch((error: NodeJS.ErrnoException) => {
    throw new WorkerError("E_USAGE", `--object-info ${source}: cannot be read (${error.code ?? error.message})`);
  });
  const parsed = ObjectInfoBody.safeParse(parseJsonText(text, source));
  if (!parsed.success || Object.keys(parsed.data).length === 0) {
    throw new WorkerError(
      "E_INPUT",
      `--object-info ${source}: not a GET /object_info response ({"KSampler": {"input": …}, …})`,
    );
  }
  return parsed.data as ObjectInfo;
}
