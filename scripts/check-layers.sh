#!/usr/bin/env bash
# The house's layering, checked on every include: app -> {supervisor, consumer, worker}
# -> {shm, config, process}, and consumer -> kafka -> config. consumer, worker and
# supervisor meet only in shm/, config/ and process/ (the supervisor starts the others
# as processes, not as code), and those depend on nothing of ours. A quoted include of another folder's header that is not allowed here fails.
# The build enforces only what each library links (each exports its own folder alone as
# an include root); this states the order those links must keep.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A allowed=(
  [shm]="shm"
  [config]="config"
  [process]="process"
  [kafka]="kafka config"
  [consumer]="consumer kafka shm config process"
  [worker]="worker shm config process sluice"
  [supervisor]="supervisor shm config process"
  [app]="app supervisor consumer worker kafka shm config process"
)
status=0
for dir in "${!allowed[@]}"; do
  while IFS=: read -r file line text; do
    used=$(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([a-z_]*\)\/.*/\1/p' <<<"$text")
    [ -z "$used" ] && continue
    if [[ " ${allowed[$dir]} " != *" $used "* ]]; then
      echo "$file:$line: $dir/ may not include $used/ ($text)" >&2
      status=1
    fi
  done < <(grep -rn --include='*.cpp' --include='*.hpp' --include='*.h' --include='*.c' '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$dir")
done
[ "$status" -eq 0 ] && echo "layers: every include points down"
exit "$status"
