/** One node of an API-format prompt, as POST /prompt accepts it. */
export interface PromptNode {
  class_type: string;
  inputs: Record<string, unknown>;
  _meta?: Record<string, unknown>;
}
export type Prompt = Record<string, PromptNode>;

/** A link `[source_node_id, output_index]`; ComfyUI treats every list input as a link. */
export type Link = [string, number];

/** The link's `[source id, slot]` when it is well formed. */
export function asLink(value: unknown): Link | undefined {
  if (!Array.isArray(value) || value.length !== 2) return undefined;
  const [source, slot] = value;
  if ((typeof source !== "string" && typeof source !== "number") || typeof slot !== "number") return undefined;
  return [String(source), slot];
}

/** Ids of the nodes an output set depends on (themselves included), dependencies first, each once. */
export function executionOrder(prompt: Prompt, outputs: string[]): string[] {
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (id: string) => {
    if (state.has(id) || !prompt[id]) return;
    state.set(id, "visiting");
    for (const value of Object.values(prompt[id].inputs ?? {})) {
      const link = asLink(value);
      // a cycle would recurse forever; ComfyUI reports it at execution, we just stop descending
      if (link && state.get(link[0]) !== "visiting") visit(link[0]);
    }
    state.set(id, "done");
    order.push(id);
  };
  for (const id of outputs) visit(id);
  return order;
}

/**
 * A cache key like ComfyUI's input signature: class, literal inputs and, recursively, the signatures of
 * linked nodes; `salt` adds what IS_CHANGED would (e.g. an input file's mtime).
 */
export function nodeSignatures(prompt: Prompt, salt: (id: string) => string): Map<string, string> {
  const out = new Map<string, string>();
  const sign = (id: string, seen: Set<string>): string => {
    const known = out.get(id);
    if (known !== undefined) return known;
    const node = prompt[id];
    if (!node || seen.has(id)) return `missing:${id}`;
    seen.add(id);
    const inputs = Object.keys(node.inputs ?? {})
      .sort()
      .map((name) => {
        const value = node.inputs[name];
        const link = asLink(value);
        return [name, link ? { link: sign(link[0], seen), slot: link[1] } : value];
      });
    const signature = JSON.stringify([node.class_type, salt(id), inputs]);
    out.set(id, signature);
    return signature;
  };
  for (const id of Object.keys(prompt)) sign(id, new Set());
  return out;
}
