import { resolve } from "node:path";
import type { Config } from "../config.ts";
import { splitArgs } from "./command.ts";

/** Where a ComfyUI on this machine keeps the files /view serves, per `type`. */
export interface ComfyFileDirs {
  output: string;
  temp: string;
  input: string;
}

const FLAGS = {
  base: "--base-directory",
  output: "--output-directory",
  temp: "--temp-directory",
  input: "--input-directory",
} as const;

/**
 * ComfyUI's output, temp and input folders as folder_paths computes them: `<base>/output` etc., where base is
 * `--base-directory` or its checkout, each overridden by its own flag in COMFY_CMD or COMFY_ARGS (relative paths
 * resolve against ComfyUI's working directory, `cwd`). Only a guess from the command line; callers check the
 * files they read (see readLocalOutput).
 */
export function comfyFileDirs(
  config: Pick<Config, "COMFY_ARGS" | "COMFY_CMD">,
  baseDir: string,
  cwd: string = baseDir,
): ComfyFileDirs {
  const argv = [config.COMFY_CMD, config.COMFY_ARGS].flatMap((text) => (text ? splitArgs(text) : []));
  const flag = (name: string) => {
    let value: string | undefined;
    argv.forEach((word, i) => {
      if (word === name) value = argv[i + 1] ?? value;
      else if (word.startsWith(`${name}=`)) value = word.slice(name.length + 1);
    });
    return value === undefined ? undefined : resolve(cwd, value);
  };
  const base = flag(FLAGS.base) ?? resolve(baseDir);
  return {
    output: flag(FLAGS.output) ?? resolve(base, "output"),
    temp: flag(FLAGS.temp) ?? resolve(base, "temp"),
    input: flag(FLAGS.input) ?? resolve(base, "input"),
  };
}
