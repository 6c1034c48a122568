#!/usr/bin/env bash
# Every "design §N[.M]" and "conventions §N" cited in the source tree names a
# section that exists in docs/design.md ("## N." / "### N.M") or
# docs/conventions.md ("### N."), and every relative link between the
# project's Markdown files points at a file that exists. A citation to a
# section that was renumbered or never written fails here.
# Usage: citations_test.sh SOURCE_DIR
set -euo pipefail
root=$1
cd "$root"
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

sections() {  # "N" and "N.M" headings of a Markdown file, one per line
  sed -nE 's/^#{2,4} +([0-9]+(\.[0-9]+)*)\.? .*/\1/p' "$1"
}
mapfile -t design < <(sections docs/design.md)
mapfile -t conventions < <(sections docs/conventions.md)
[ "${#design[@]}" -ge 8 ] || fail "docs/design.md: expected numbered sections, found ${#design[@]}"
[ "${#conventions[@]}" -ge 8 ] || fail "docs/conventions.md: expected numbered sections, found ${#conventions[@]}"

has() { local want=$1; shift; local s; for s in "$@"; do [ "$s" = "$want" ] && return 0; done; return 1; }

checked=0
while IFS=: read -r file line text; do
  while read -r doc number; do
    [ -n "$doc" ] || continue
    checked=$((checked + 1))
    case $doc in
      design) has "$number" "${design[@]}" || fail "$file:$line cites design §$number, which docs/design.md does not have" ;;
      conventions) has "$number" "${conventions[@]}" || fail "$file:$line cites conventions §$number, which docs/conventions.md does not have" ;;
    esac
  done < <(grep -oE '(design|conventions)(\.md)? §[0-9]+(\.[0-9]+)*' <<<"$text" | sed -E 's/\.md//; s/ §/ /')
done < <(git ls-files -- controller tests scripts bench helm manifests crds docs README.md .ci 2>/dev/null \
           | grep -v '^tests/docs/' | xargs grep -nE '(design|conventions)(\.md)? §[0-9]' /dev/null || true)
[ "$checked" -gt 10 ] || fail "expected the source tree to cite design/conventions sections, found $checked citations"

# Relative links in Markdown: [text](path) and [text](path#anchor).
links=0
while IFS= read -r md; do
  dir=$(dirname "$md")
  while read -r target; do
    links=$((links + 1))
    path=${target%%#*}
    [ -n "$path" ] || continue
    [ -e "$dir/$path" ] || fail "$md links to $target, which does not exist"
  done < <(grep -oE '\]\([^)[:space:]]+\)' "$md" | sed -E 's/^\]\((.*)\)$/\1/' | grep -vE '^(https?:|mailto:|#)' || true)
done < <(git ls-files -- '*.md')

echo "citations checked: $checked, Markdown links checked: $links, failures: $failures"
[ "$failures" -eq 0 ]
