// The reference for `run` in bench/job-overhead.ts: a bare client as its own compiled process, one prompt from a
// workflow file (COMFY_URL, argv[2]) and its outputs written to a folder (argv[3]), then exit.
import { join } from "node:path";
import { BareClient } from "./_bare-client.ts";

// no top-level await: a bytecode build is CommonJS
async function main(): Promise<void> {
  const [file, out] = process.argv.slice(2) as [string, string];
  const client = await BareClient.open(process.env.COMFY_URL ?? "");
  const { files } = await client.run(JSON.parse(await Bun.file(file).text()));
  await Promise.all(files.map((f) => Bun.write(join(out, f.filename), f.bytes)));
  client.close();
}

void main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
