import { z } from "zod";
import type { UnknownNode } from "../workflow/convert.ts";
import type { LookupHttp } from "./http.ts";
import { cachedJson } from "./sources/manager.ts";

/** ComfyUI-Manager's extension-node-map.json: repo URL → [node class names, {title_aux, nodename_pattern?, …}]. */
const NodeMap = z.record(
  z.string(),
  z.tuple([z.array(z.string()), z.object({ nodename_pattern: z.string().optional() }).loose()]).rest(z.unknown()),
);
/** Comfy Registry `GET /nodes/{id}` (fields used). */
const RegistryNode = z.object({ id: z.string(), repository: z.string().optional() }).loose();
/** GitHub `GET /repos/{owner}/{repo}/commits/{ref}`. */
const Commit = z.object({ sha: z.string().regex(/^[0-9a-f]{40}$/) }).loose();

/** A node pack that provides missing node types, ready for docker/custom-nodes.txt and comfy-cli. */
export interface NodePackFix {
  repo?: string;
  /** Comfy Registry id, when known. */
  cnr_id?: string;
  commit?: string;
  node_types: string[];
  /** `https://github.com/o/r.git <commit>` for docker/custom-nodes.txt (absent when no repo was found). */
  line?: string;
  install?: string;
  /** Why it is not pinned or not found. */
  note?: string;
}

/** Where node-pack lookups go. */
export interface NodeLookup {
  http: LookupHttp;
  nodeMapUrl: string;
  nodeMapCache: string;
  registryUrl: string;
  githubApiUrl: string;
  githubToken?: string | undefined;
}

/**
 * Resolves missing node types to packs: the workflow's own `aux_id` (GitHub user/repo) or `cnr_id` (Comfy
 * Registry → its repository), else ComfyUI-Manager's node map (exact names, then its `nodename_pattern`). Each
 * repo is pinned to its current default-branch commit, as docker/custom-nodes.txt wants.
 */
export async function resolveNodePacks(nodes: readonly UnknownNode[], lookup: NodeLookup): Promise<NodePackFix[]> {
  const packs = new Map<string, NodePackFix>();
  let map: z.infer<typeof NodeMap> | { error: string } | undefined;
  for (const node of nodes) {
    let repo: string | undefined;
    let cnr: string | undefined;
    if (node.pack?.includes("/")) repo = `https://github.com/${node.pack}`;
    else if (node.pack) {
      cnr = node.pack;
      const found = await lookup.http.json(
        `${lookup.registryUrl.replace(/\/+$/, "")}/nodes/${encodeURIComponent(node.pack)}`,
        RegistryNode,
      );
      if (found.ok) repo = found.value.repository;
    }
    if (!repo) {
      map ??= await cachedJson(lookup.http, lookup.nodeMapUrl, lookup.nodeMapCache, NodeMap);
      repo = "error" in map ? undefined : _fromMap(map, node.class_type);
    }
    const key = repo ?? cnr ?? "";
    const pack = packs.get(key) ?? {
      ...(repo ? { repo: _normalRepo(repo) } : {}),
      ...(cnr ? { cnr_id: cnr } : {}),
      node_types: [],
    };
    pack.node_types.push(node.class_type);
    packs.set(key, pack);
  }
  for (const pack of packs.values()) await _finish(pack, lookup, map);
  return [...packs.values()];
}

function _fromMap(map: z.infer<typeof NodeMap>, classType: string): string | undefined {
  for (const [repo, [names]] of Object.entries(map)) if (names.includes(classType)) return repo;
  for (const [repo, [, meta]] of Object.entries(map)) {
    try {
      if (meta.nodename_pattern && new RegExp(meta.nodename_pattern).test(classType)) return repo;
    } catch {
      // a malformed pattern in the public list matches nothing
    }
  }
  return undefined;
}

async function _finish(pack: NodePackFix, lookup: NodeLookup, map: unknown): Promise<void> {
  if (!pack.repo) {
    pack.note =
      map && typeof map === "object" && "error" in map
        ? `node map unavailable (${(map as { error: string }).error})`
        : "no known node pack provides these node types";
    if (pack.cnr_id) pack.install = `comfy node install ${pack.cnr_id}`;
    return;
  }
  const gh = /^https:\/\/github\.com\/([^/]+)\/([^/]+?)(?:\.git)?$/.exec(pack.repo);
  const name = gh?.[2] ?? pack.repo.split("/").pop() ?? pack.repo;
  pack.install = `comfy node install ${pack.cnr_id ?? name.toLowerCase()}`;
  if (!gh) {
    pack.line = `${pack.repo}.git <commit>`;
    pack.note = "not on GitHub: pin the line to a commit by hand";
    return;
  }
  const headers: Record<string, string> = {
    accept: "application/vnd.github+json",
    ...(lookup.githubToken ? { authorization: `Bearer ${lookup.githubToken}` } : {}),
  };
  const commit = await lookup.http.json(
    `${lookup.githubApiUrl.replace(/\/+$/, "")}/repos/${gh[1]}/${gh[2]}/commits/HEAD`,
    Commit,
    headers,
  );
  if (commit.ok) {
    pack.commit = commit.value.sha;
    pack.line = `${pack.repo}.git ${commit.value.sha}`;
  } else {
    pack.line = `${pack.repo}.git <commit>`;
    pack.note = `could not read the current commit (${commit.reason}): pin with \`git ls-remote ${pack.repo} HEAD\``;
  }
}

function _normalRepo(repo: string): string {
  return repo.replace(/\.git$/, "").replace(/\/+$/, "");
}
