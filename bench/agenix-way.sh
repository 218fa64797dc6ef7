#!/usr/bin/env bash
# The baseline: what agenix's activation snippet does (per ../shared/notes/peers.md), written here
# from that description: generation N = target of the symlink + 1, then per secret one
# `age --decrypt` process into NAME.tmp with umask 0377, chmod, mv; then `ln -sfT` to switch and
# delete generation N-1.
# usage: agenix-way.sh IDENTITY MOUNT_POINT SECRETS_DIR LIST   (LIST: lines "name<TAB>file.age")
set -euo pipefail
identity=$1 mount_point=$2 secrets_dir=$3 list=$4
current=$(basename "$(readlink "$secrets_dir" 2>/dev/null || echo 0)")
gen=$((current + 1))
mkdir -p "$mount_point/$gen"
chmod 0751 "$mount_point/$gen"
while IFS=$'\t' read -r name file; do
  target="$mount_point/$gen/$name"
  mkdir -p "$(dirname "$target")"
  (umask u=r,g=,o= && age --decrypt -i "$identity" -o "$target.tmp" "$file")
  chmod 0400 "$target.tmp"
  mv -f "$target.tmp" "$target"
done <"$list"
ln -sfT "$mount_point/$gen" "$secrets_dir"
[ "$current" -gt 0 ] && rm -rf "${mount_point:?}/$current"
exit 0
