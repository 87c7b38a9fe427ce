/**
 * Bun's Node modules that cost start-up time merely by being imported: a bundle loads every module any of its
 * files imports, used or not, when the binary starts. Imported at the top, `node:net` cost every command about
 * 2 ms, `node:zlib` 3, `node:readline` 1.2, `node:crypto` 2.2 (a hello-world binary: 7 ms; with those five: 12).
 * Each is loaded on first use instead; `require` caches it.
 */
export const nodeNet = (): typeof import("node:net") => require("node:net");
export const nodeZlib = (): typeof import("node:zlib") => require("node:zlib");
export const nodeDns = (): typeof import("node:dns/promises") => require("node:dns/promises");
export const nodeReadline = (): typeof import("node:readline/promises") => require("node:readline/promises");
