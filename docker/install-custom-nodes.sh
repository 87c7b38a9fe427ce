#!/usr/bin/env bash
# Installs the custom nodes listed in custom-nodes.txt ("<git URL> <ref>" per line) into ComfyUI's
# custom_nodes folder, with their Python requirements. Any error fails the image build.
set -euo pipefail
list=$1
dest=$2
while read -r url ref extra; do
  [[ -z "${url}" || "${url}" == \#* ]] && continue
  if [[ -z "${ref}" || -n "${extra}" ]]; then
    echo "custom-nodes.txt: expected '<git URL> <ref>', got: ${url} ${ref} ${extra}" >&2
    exit 1
  fi
  name=$(basename "${url}" .git)
  echo "installing ${name} at ${ref}"
  git clone --filter=blob:none --no-checkout "${url}" "${dest}/${name}"
  git -C "${dest}/${name}" checkout --quiet "${ref}"
  if [[ -f "${dest}/${name}/requirements.txt" ]]; then
    uv pip install -r "${dest}/${name}/requirements.txt"
  fi
done < "${list}"
