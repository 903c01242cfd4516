#!/bin/bash
# An exec handler that writes the environment it was started with to $ENV_OUT, then
# answers ok to every record.
set -u
env > "$ENV_OUT.tmp" && mv "$ENV_OUT.tmp" "$ENV_OUT"
printf '14 0\nStatus: ready\n'
export LC_ALL=C
while IFS=' ' read -r hlen blen; do
  [ "$hlen" -gt 0 ] && IFS= read -r -N "$hlen" _
  [ "$blen" -gt 0 ] && IFS= read -r -N "$blen" _
  printf '11 0\nStatus: ok\n'
done
