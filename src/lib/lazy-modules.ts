/**
 * Modules loaded on first use, not at import. A compiled bundle loads every module any of its files imports when
 * the binary starts, used or not, so each of these cost every command its load time: `yaml` about 2 ms (most runs
 * read no YAML: a config file, extra_model_paths.yaml, a kit manifest), consola's full entry 8 (an Intl.Segmenter;
 * only pretty log lines need it, JSON lines use consola/core), `node:net` about 2, `node:zlib` 3,
 * `node:readline` 1.2 (a hello-world binary: 7 ms; with the Node ones and `node:crypto`: 12). `require` is bundled
 * like an import and caches what it loaded.
 */
export const yaml = (): typeof import("yaml") => require("yaml");
export const consolaFull = (): typeof import("consola") => require("consola");
export const nodeNet = (): typeof import("node:net") => require("node:net");
export const nodeZlib = (): typeof import("node:zlib") => require("node:zlib");
export const nodeDns = (): typeof import("node:dns/promises") => require("node:dns/promises");
export const nodeReadline = (): typeof import("node:readline/promises") => require("node:readline/promises");
