import pkg from "../package.json" with { type: "json" };

// stamped by scripts/build.ts through `define`; absent when running from source
declare const COMFY_WORKER_VERSION: string | undefined;

/** The version of this build: the stamped one in a compiled binary, `<package>-dev` from source. */
export const VERSION: string = typeof COMFY_WORKER_VERSION === "string" ? COMFY_WORKER_VERSION : `${pkg.version}-dev`;
