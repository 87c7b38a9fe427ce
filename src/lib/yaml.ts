/**
 * The yaml library, loaded on first use: it costs about 2 ms at import, and most runs of most commands read no
 * YAML at all (a config file, extra_model_paths.yaml, a kit manifest). `require` is bundled like an import.
 */
export function yaml(): typeof import("yaml") {
  return require("yaml") as typeof import("yaml");
}
