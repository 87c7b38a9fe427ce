/**
 * A loaded workflow file as the API-format graph the weight extractor reads, with what /object_info does
 * not know about it. UI loaders of custom node types that /object_info lacks get their file widgets
 * back from the LOADERS table, since the converter cannot place their values without a definition.
 */
import type { ObjectInfo } from "../comfy/object-info.ts";
import type { ApiWorkflow } from "../workflow/api.ts";
import { convertUiToApi, type UnknownNode } from "../workflow/convert.ts";
import type { LoadedWorkflow } from "../workflow/load.ts";
import { flattenWorkflow } from "../workflow/subgraphs.ts";
import type { UiWorkflow } from "../workflow/ui.ts";
import { LOADERS } from "./loaders.ts";
import { literalString } from "./required.ts";

/** The graph to extract from, plus the UI (for metadata) and node types /object_info lacks. */
export interface PreparedWorkflow {
  api: ApiWorkflow;
  ui?: UiWorkflow;
  unknownNodes: UnknownNode[];
  warnings: string[];
}

/** Converts a UI workflow (or takes the API one) and lists unknown node types; never throws. */
export function prepareWorkflow(loaded: LoadedWorkflow, objectInfo: ObjectInfo): PreparedWorkflow {
  if (loaded.api) {
    const types = [...new Set(Object.values(loaded.api).map((node) => node.class_type))];
    const unknownNodes = types.filter((type) => !Object.hasOwn(objectInfo, type)).map((type) => ({ class_type: type }));
    return {
      api: loaded.api,
      ...(loaded.ui ? { ui: loaded.ui } : {}),
      unknownNodes: _sorted(unknownNodes),
      warnings: [],
    };
  }
  const ui = loaded.ui as UiWorkflow;
  const converted = convertUiToApi(ui, objectInfo);
  const restored = restoreLoaderWidgets(converted.api, ui, objectInfo);
  // the converter's "widget values were left out" note no longer holds for the loaders restored here
  const warnings = converted.warnings.filter(
    (w) => !restored.some((id) => w.startsWith(`node ${id} (`) && w.includes("left out")),
  );
  return { api: converted.api, ui, unknownNodes: _sorted(converted.unknownNodes), warnings };
}

/**
 * For converted nodes of a LOADERS type that /object_info lacks, sets each file input the converter left
 * out from the node's string widget values, in the table's input order (file pickers come first in
 * every such loader we know). Returns the ids of the nodes it completed.
 */
export function restoreLoaderWidgets(api: ApiWorkflow, ui: UiWorkflow, objectInfo: ObjectInfo): string[] {
  const restored: string[] = [];
  for (const entry of flattenWorkflow(ui).nodes.values()) {
    const node = api[entry.id];
    const type = node?.class_type ?? "";
    const row = !Object.hasOwn(objectInfo, type) && Object.hasOwn(LOADERS, type) ? LOADERS[type] : undefined;
    const saved = entry.node.widgets_values;
    if (!node || !row || !Array.isArray(saved)) continue;
    const strings = saved.map(literalString).filter((value): value is string => value !== undefined);
    for (const [i, input] of Object.keys(row).entries()) {
      const value = strings[i];
      if (value === undefined || input in node.inputs) continue;
      node.inputs[input] = value;
      if (!restored.includes(entry.id)) restored.push(entry.id);
    }
  }
  return restored;
}

function _sorted(nodes: UnknownNode[]): UnknownNode[] {
  return [...nodes].sort((a, b) => a.class_type.localeCompare(b.class_type));
}
