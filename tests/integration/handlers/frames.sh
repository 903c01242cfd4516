#!/bin/bash
# An exec handler in bash: any language that can read and write its stdin and stdout
# can be a handler. Answers ok to every record, except that a value containing
# "garbage" gets an answer that is not a frame, and one containing "silent" none at all
# (it exits). A header block over the protocol's 64 KiB ends it (exit 4).
# With --body-only it lists that feature, and any header sent to it ends it (exit 5).
set -u
export LC_ALL=C  # read -N counts bytes
body_only=${1:-}
if [ "$body_only" = --body-only ]; then
  printf '34 0\nStatus: ready\nFeatures: body-only\n'
else
  printf '14 0\nStatus: ready\n'
fi
while IFS=' ' read -r hlen blen; do
  headers="" body=""
  # The protocol's promise, which a handler may rely on.
  [ "$hlen" -gt 65536 ] && { echo "frames.sh: header block of $hlen bytes" >&2; exit 4; }
  [ "$body_only" = --body-only ] && [ "$hlen" -gt 0 ] && { echo "frames.sh: $hlen header bytes for body-only" >&2; exit 5; }
  [ "$hlen" -gt 0 ] && IFS= read -r -N "$hlen" headers
  [ "$blen" -gt 0 ] && IFS= read -r -N "$blen" body
  case "$body" in
    *garbage*) printf 'this is not a frame\n' ;;
    *silent*) exit 3 ;;
    *) printf '11 0\nStatus: ok\n' ;;
  esac
done
