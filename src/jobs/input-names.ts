/**
 * Names of job input files in ComfyUI's one input folder. Jobs running side by side (CONCURRENCY ≥ 2) may each
 * bring a file of the same name: uploaded under it, the later one would replace the earlier while its prompt still
 * reads it, and one caller would get an image made from another's input. A name in use by a running job with other
 * bytes is given to this job as `stem (cw-2).ext`, `(cw-3)`…, and the job's workflow is pointed at it; the form is
 * ours so that no user's own file (ComfyUI names a clashing upload `stem (2).ext`) is replaced, and a name the job's
 * workflow itself uses is skipped. Names are reused once their job ends, so the folder holds at most CONCURRENCY
 * copies of a name, whatever the traffic.
 */
import type { ApiWorkflow } from "../workflow/api.ts";
import { type InputFile, inputNameParts } from "./input-files.ts";

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
  lease(
    files: readonly InputFile[],
    used: ReadonlySet<string> = new Set(),
  ): { files: InputFile[]; renamed: Map<string, string>; release: () => void } {
    const taken: string[] = [];
    const renamed = new Map<string, string>();
    const out = files.map((file) => {
      const wanted = _ref(file.subfolder, file.filename);
      for (let n = 1; ; n++) {
        const filename = n === 1 ? file.filename : _variant(file.filename, n);
        const ref = _ref(file.subfolder, filename);
        // a variant the workflow names for a file of its own is that file, not a free name
        if (n > 1 && used.has(ref)) continue;
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
 * ` [input]` annotation, spelt `./from` or with doubled slashes, as ComfyUI accepts) names `to` instead. `names`
 * maps the name as the upload normalised it to the name used.
 */
export function renameInputs(workflow: ApiWorkflow, names: ReadonlyMap<string, string>): void {
  if (names.size === 0) return;
  for (const node of Object.values(workflow)) {
    for (const [key, value] of Object.entries(node.inputs)) {
      if (typeof value !== "string") continue;
      const annotated = value.endsWith(ANNOTATION);
      const to = names.get(_normal(annotated ? value.slice(0, -ANNOTATION.length) : value));
      if (to !== undefined) node.inputs[key] = annotated ? `${to}${ANNOTATION}` : to;
    }
  }
}

/** Every string the workflow's inputs hold, normalised as file names are: the names a variant must not take. */
export function namesUsed(workflow: ApiWorkflow): Set<string> {
  const used = new Set<string>();
  for (const node of Object.values(workflow))
    for (const value of Object.values(node.inputs))
      if (typeof value === "string")
        used.add(_normal(value.endsWith(ANNOTATION) ? value.slice(0, -ANNOTATION.length) : value));
  return used;
}

const ANNOTATION = " [input]";

// the name as the upload wrote it
function _normal(name: string): string {
  return inputNameParts(name).join("/");
}

function _ref(subfolder: string, filename: string): string {
  return subfolder ? `${subfolder}/${filename}` : filename;
}

// "photo (cw-2).png": unlike ComfyUI's "photo (2).png", a form no user file is likely to have
function _variant(filename: string, n: number): string {
  const dot = filename.lastIndexOf(".");
  return dot > 0 ? `${filename.slice(0, dot)} (cw-${n})${filename.slice(dot)}` : `${filename} (cw-${n})`;
}
