import { join } from "node:path";

const FIXTURES = join(import.meta.dir, "../fix/fixtures");
const fixture = async <T>(name: string): Promise<T> => (await Bun.file(join(FIXTURES, name)).json()) as T;
const sha256 = (bytes: Uint8Array) => new Bun.CryptoHasher("sha256").update(bytes).digest("hex");

/** A Hugging Face model repo of the fake. */
export interface FakeHfRepo {
  id: string;
  files: Record<string, Uint8Array>;
  gated?: boolean;
  downloads?: number;
}
/** A Civitai model (one version) of the fake. */
export interface FakeCivitaiModel {
  id: number;
  name: string;
  versionId: number;
  files: Record<string, Uint8Array>;
}
/** An entry of the fake ComfyUI-Manager model list. */
export interface FakeListModel {
  name: string;
  type: string;
  filename: string;
  bytes: Uint8Array;
}
/** What the fake hosts hold and which faults they inject. */
export interface FakeHostsOptions {
  hf?: FakeHfRepo[];
  civitai?: FakeCivitaiModel[];
  modelList?: FakeListModel[];
  /** Comfy Registry id → repository URL. */
  registry?: Record<string, string>;
  /** "owner/repo" → commit sha served by the fake GitHub API. */
  commits?: Record<string, string>;
  /** Paths (with query) answered 429 + Retry-After: 1 the first time. */
  rateLimitOnce?: RegExp;
  /** Paths never answered (a lookup past its deadline). */
  hang?: RegExp;
}

/**
 * Local fakes of Hugging Face's API (search, tree, repo info, resolve — gated repos answer 401 GatedRepo
 * without a token), Civitai's API (models search, by-hash, download), ComfyUI-Manager's model-list.json and
 * extension-node-map.json, the Comfy Registry and GitHub's commits API, built from the documented response
 * shapes kept in test/fix/fixtures. Every request is recorded.
 */
export async function startFakeHosts(options: FakeHostsOptions = {}) {
  const [searchItem] = await fixture<Array<Record<string, unknown>>>("hf-search.json");
  const treeShape = await fixture<Array<Record<string, unknown>>>("hf-tree.json");
  const repoShape = await fixture<Record<string, unknown>>("hf-repo.json");
  const civitaiShape = await fixture<{ items: Array<Record<string, unknown>>; metadata: unknown }>(
    "civitai-models.json",
  );
  const listShape = await fixture<{ models: Array<Record<string, unknown>> }>("model-list.json");
  const nodeMap = await fixture<Record<string, unknown>>("extension-node-map.json");
  const requests: string[] = [];
  /** Requests that carried an Authorization header (paths with query). */
  const authorized: string[] = [];
  const limited = new Set<string>();
  let base = "";

  const hfTree = (repo: FakeHfRepo) => [
    ...treeShape.filter((e) => !(e as { lfs?: unknown }).lfs),
    ...Object.entries(repo.files).map(([path, bytes]) => ({
      ...treeShape[2],
      path,
      size: bytes.length,
      lfs: { oid: sha256(bytes), size: bytes.length, pointerSize: 133 },
    })),
  ];
  const civitaiFile = (model: FakeCivitaiModel, name: string, bytes: Uint8Array) => {
    const shape =
      (civitaiShape.items[0] as { modelVersions: Array<{ files: Array<Record<string, unknown>> }> }).modelVersions[0]
        ?.files[0] ?? {};
    return {
      ...shape,
      name,
      sizeKB: bytes.length / 1024,
      hashes: { ...(shape.hashes as object), SHA256: sha256(bytes).toUpperCase() },
      downloadUrl: `${base}/api/download/models/${model.versionId}?file=${encodeURIComponent(name)}`,
    };
  };
  const civitaiVersion = (model: FakeCivitaiModel) => {
    const shape = (civitaiShape.items[0] as { modelVersions: Array<Record<string, unknown>> }).modelVersions[0];
    return {
      ...shape,
      id: model.versionId,
      modelId: model.id,
      files: Object.entries(model.files).map(([n, b]) => civitaiFile(model, n, b)),
      downloadUrl: `${base}/api/download/models/${model.versionId}`,
    };
  };

  const route = (url: URL, req: Request): Response | undefined => {
    const p = url.pathname;
    if (p === "/api/models") {
      const q = (url.searchParams.get("search") ?? "").toLowerCase();
      const hits = (options.hf ?? [])
        .filter((r) => r.id.toLowerCase().includes(q))
        .sort((a, b) => (b.downloads ?? 0) - (a.downloads ?? 0));
      return Response.json(hits.map((r) => ({ ...searchItem, id: r.id, modelId: r.id, downloads: r.downloads ?? 0 })));
    }
    const tree = /^\/api\/models\/(.+)\/tree\/main$/.exec(p);
    const repoOf = (id: string | undefined) => (options.hf ?? []).find((r) => r.id === id);
    if (tree) {
      const repo = repoOf(tree[1]);
      return repo ? Response.json(hfTree(repo)) : undefined;
    }
    const info = /^\/api\/models\/([^/]+\/[^/]+)$/.exec(p);
    if (info) {
      const repo = repoOf(info[1]);
      return repo
        ? Response.json({ ...repoShape, id: repo.id, modelId: repo.id, gated: repo.gated ? "manual" : false })
        : undefined;
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/main\/(.+)$/.exec(p);
    if (resolve) {
      const repo = repoOf(resolve[1]);
      const bytes = repo?.files[decodeURIComponent(resolve[2] ?? "")];
      if (repo?.gated && !req.headers.get("authorization"))
        return new Response("Access restricted", {
          status: 401,
          headers: { "x-error-code": "GatedRepo", "x-error-message": `Access to model ${repo.id} is restricted.` },
        });
      return bytes ? new Response(bytes, { headers: { "content-type": "application/octet-stream" } }) : undefined;
    }
    if (p === "/api/v1/models") {
      const q = (url.searchParams.get("query") ?? "").toLowerCase();
      const items = (options.civitai ?? []).filter(
        (m) => m.name.toLowerCase().includes(q) || Object.keys(m.files).some((f) => f.toLowerCase().includes(q)),
      );
      return Response.json({
        items: items.map((m) => ({
          ...civitaiShape.items[0],
          id: m.id,
          name: m.name,
          modelVersions: [civitaiVersion(m)],
        })),
        metadata: civitaiShape.metadata,
      });
    }
    const byHash = /^\/api\/v1\/model-versions\/by-hash\/([0-9a-fA-F]+)$/.exec(p);
    if (byHash) {
      const model = (options.civitai ?? []).find((m) =>
        Object.values(m.files).some((b) => sha256(b) === byHash[1]?.toLowerCase()),
      );
      return model
        ? Response.json({
            ...civitaiVersion(model),
            model: { name: model.name, type: "LORA", nsfw: false, poi: false },
          })
        : Response.json({ error: "Model not found" }, { status: 404 });
    }
    const download = /^\/api\/download\/models\/(\d+)$/.exec(p);
    if (download) {
      const model = (options.civitai ?? []).find((m) => m.versionId === Number(download[1]));
      const bytes = model?.files[url.searchParams.get("file") ?? ""] ?? Object.values(model?.files ?? {})[0];
      return bytes ? new Response(bytes, { headers: { "content-type": "application/octet-stream" } }) : undefined;
    }
    if (p === "/model-list.json")
      return Response.json({
        models: (options.modelList ?? []).map((m) => ({
          ...listShape.models[0],
          name: m.name,
          type: m.type,
          filename: m.filename,
          url: `${base}/files/${m.filename}`,
        })),
      });
    const listed = /^\/files\/(.+)$/.exec(p);
    if (listed) {
      const bytes = (options.modelList ?? []).find((m) => m.filename === decodeURIComponent(listed[1] ?? ""))?.bytes;
      return bytes ? new Response(bytes) : undefined;
    }
    if (p === "/extension-node-map.json") return Response.json(nodeMap);
    const node = /^\/nodes\/([^/]+)$/.exec(p);
    if (node) {
      const repository = options.registry?.[node[1] ?? ""];
      return repository
        ? Response.json({ id: node[1], name: node[1], repository, latest_version: { version: "1.0.0" } })
        : Response.json({ message: "not found" }, { status: 404 });
    }
    const commit = /^\/repos\/([^/]+\/[^/]+)\/commits\/HEAD$/.exec(p);
    if (commit) {
      const sha = options.commits?.[commit[1] ?? ""];
      return sha
        ? Response.json({ sha, commit: { message: "latest" } })
        : Response.json({ message: "Not Found" }, { status: 404 });
    }
    return undefined;
  };

  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 0,
    fetch(req) {
      const url = new URL(req.url);
      const what = `${url.pathname}${url.search}`;
      requests.push(what);
      if (req.headers.get("authorization")) authorized.push(what);
      if (options.hang?.test(what)) return new Promise<Response>(() => {});
      if (options.rateLimitOnce?.test(what) && !limited.has(what)) {
        limited.add(what);
        return new Response("Too Many Requests", { status: 429, headers: { "retry-after": "1" } });
      }
      return route(url, req) ?? Response.json({ error: "not found" }, { status: 404 });
    },
  });
  base = `http://127.0.0.1:${server.port}`;
  return {
    url: base,
    requests,
    authorized,
    /** Settings that point `fix` at these fakes. */
    env: {
      HF_ENDPOINT: base,
      CIVITAI_BASE_URL: base,
      MODEL_LIST_URL: `${base}/model-list.json`,
      NODE_MAP_URL: `${base}/extension-node-map.json`,
      GITHUB_API_URL: base,
      COMFY_REGISTRY_URL: base,
      LOOKUP_INTERVAL_MS: "0",
    },
    stop: () => server.stop(true),
  };
}
export type FakeHosts = Awaited<ReturnType<typeof startFakeHosts>>;
