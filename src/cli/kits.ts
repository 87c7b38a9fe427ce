import { defineCommand } from "citty";
import { listKits, loadKit } from "../kits/manifest.ts";
import { stdout } from "../lib/stdio.ts";
import { commonArgs, jsonArgs } from "./_args.ts";
import { formatKit, formatKitList } from "./_kits-table.ts";

export default defineCommand({
  meta: {
    name: "kits",
    description: "List the built-in model kits, or show one kit's files, sizes and sources",
  },
  args: {
    ...commonArgs,
    ...jsonArgs,
    name: {
      type: "positional",
      description: "a kit to show (e.g. flux1-dev); without it, every kit is listed",
      required: false,
    },
  },
  run({ args }) {
    // an unknown NAME throws E_USAGE with the list of kits, which run-cli turns into exit status 2
    if (args.name) {
      const kit = loadKit(args.name);
      stdout.write(args.json ? `${JSON.stringify(kit, null, 2)}\n` : formatKit(kit));
      return;
    }
    const kits = listKits();
    stdout.write(args.json ? `${JSON.stringify(kits, null, 2)}\n` : formatKitList(kits));
  },
});
