#!/usr/bin/env bash
# scripts/set-image-tag.sh TAG: points every manifest at the release's images,
# ghcr.io/akosha/akosha{,-ingest,-query}:TAG (kubernetes/, knative/ and the
# functions' func.yaml), as the release workflow does after pushing them.
# Run `make deploy-check` afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

tag=${1:-}
image=${IMAGE:-ghcr.io/akosha/akosha}
[[ $tag =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]] \
  || { echo "usage: scripts/set-image-tag.sh TAG (a valid image tag, e.g. 0.2.0), got '$tag'" >&2; exit 2; }

mapfile -t files < <(grep -rlF "$image" kubernetes knative functions --include='*.yaml')
((${#files[@]})) || { echo "set-image-tag: no manifest names $image" >&2; exit 1; }
pattern=$(sed 's/[.]/\\./g' <<<"$image")
sed -E -i "s#($pattern(-ingest|-query)?):[A-Za-z0-9_.-]+#\\1:$tag#g" "${files[@]}"
# kustomize's images: override, quoted so a tag like 1.0 stays a string.
sed -E -i "s#^([[:space:]]*newTag:[[:space:]]*).*#\\1\"$tag\"#" kubernetes/kustomization.yaml
grep -q "newTag: \"$tag\"" kubernetes/kustomization.yaml || { echo "set-image-tag: kubernetes/kustomization.yaml has no newTag" >&2; exit 1; }
echo "set-image-tag: $image{,-ingest,-query}:$tag in ${#files[@]} files"
