/**
 * Names of job input files in ComfyUI's one input folder. Jobs running side by side (CONCURRENCY ≥ 2) may each
 * bring a file of the same name: uploaded under it, the later one would replace the earlier while its prompt still
 * reads it, and one caller would get an image made from another's input. A name in use by a running job with other
 * bytes is given to this job as `stem (2).ext`, `(3)`…, the way ComfyUI names a clashing upload, and the job's
 * workflow is pointed at it. Names are reused once their job ends, so the folder holds at most CONCURRENCY copies
 * of a name, whatever the traffic.
 */
import type { ApiWorkflow } from "../workflow/api.ts";
import type { InputFile } from "./input-files.ts";

interface Lease {
  // the bytes themselves, held only while a job runs (it holds them anyway): exact, and no hash to pay per file
  bytes: Uint8Array;
  holders: number;
}

export class InputNames {
  #leases = new Map<string, Lease>();

  /**
   * Takes a name for each file for one job: its own when free or held with the same bytes, else the next free
   * variant. `release` hands them back when the job's prompt has ended.
   */
  lease(files: readonly InputFile[]): { files: InputFile[]; renamed: Map<string, string>; release: () => void } {
    const taken: string[] = [];
    const renamed = new Map<string, string>();
    const out = files.map((file) => {
      const wanted = _ref(file.subfolder, file.filename);
      for (let n = 1; ; n++) {
        const filename = n === 1 ? file.filename : _variant(file.filename, n);
        const ref = _ref(file.subfolder, filename);
        const lease = this.#leases.get(ref);
        if (lease && Buffer.compare(lease.bytes, file.bytes) !== 0) continue;
        if (lease) lease.holders += 1;
        else this.#leases.set(ref, { bytes: file.bytes, holders: 1 });
        taken.push(ref);
        if (ref !== wanted) renamed.set(wanted, ref);
        return { ...file, filename };
      }
    });
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      for (const ref of taken) {
        const lease = this.#leases.get(ref);
        if (lease && --lease.holders === 0) this.#leases.delete(ref);
      }
    };
    return { files: out, renamed, release };
  }
}

/**
 * Points the workflow's inputs at renamed files: a string input naming `from` (optionally with ComfyUI's
 * ` [input]` annotation) names `to` instead. `names` maps the name as the job wrote it to the name used.
 */
export function renameInputs(workflow: ApiWorkflow, names: ReadonlyMap<string, string>): void {
  if (names.size === 0) return;
  for (const node of Object.values(workflow)) {
    for (const [key, value] of Object.entries(node.inputs)) {
      if (typeof value !== "string") continue;
      const annotated = value.endsWith(" [input]");
      const to = names.get(annotated ? value.slice(0, -" [input]".length) : value);
      if (to !== undefined) node.inputs[key] = annotated ? `${to} [input]` : to;
    }
  }
}

function _ref(subfolder: string, filename: string): string {
  return subfolder ? `${subfolder}/${filename}` : filename;
}

// ComfyUI's own form for a clashing upload: "photo (2).png"
function _variant(filename: string, n: number): string {
  const dot = filename.lastIndexOf(".");
  return dot > 0 ? `${filename.slice(0, dot)} (${n})${filename.slice(dot)}` : `${filename} (${n})`;
}
