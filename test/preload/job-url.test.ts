import { expect, test } from "bun:test";
import { isWorkerError } from "../../src/errors.ts";
import { checkJobWeightUrl } from "../../src/preload/job-download.ts";

const allowHosts = ["huggingface.co", "civitai.com"];
const lookup = (table: Record<string, string[]>) => async (host: string) => table[host] ?? [];

async function refusal(url: string, table: Record<string, string[]> = {}): Promise<string | undefined> {
  try {
    await checkJobWeightUrl(url, "checkpoints/x.safetensors", { allowHosts, lookup: lookup(table) });
    return undefined;
  } catch (error) {
    if (isWorkerError(error) && error.code === "E_INPUT") return error.message;
    throw error;
  }
}

test("a job's weight URL is fetched only over https from an allowed host that resolves to public addresses", async () => {
  const hf = "https://huggingface.co/org/repo/resolve/main/x.safetensors";
  expect(await refusal(hf, { "huggingface.co": ["18.0.0.1"] })).toBeUndefined();
  expect(await refusal("https://cdn-lfs.huggingface.co/x", { "cdn-lfs.huggingface.co": ["18.0.0.2"] })).toBeUndefined();
  expect(await refusal("http://huggingface.co/x", { "huggingface.co": ["18.0.0.1"] })).toContain("only https");
  expect(await refusal("https://evil.example/x")).toContain(
    "is not on DOWNLOAD_ALLOW_HOSTS (huggingface.co, civitai.com)",
  );
  expect(await refusal(hf, { "huggingface.co": ["18.0.0.1", "10.0.0.5"] })).toContain("private address 10.0.0.5");
  expect(await refusal(hf, { "huggingface.co": ["::1"] })).toContain("private address ::1");
  expect(await refusal(hf)).toContain("does not resolve");
  expect(await refusal("https://user:pw@huggingface.co/x")).toContain("credentials");
  expect(await refusal("not a url")).toContain("is not a URL");
});
