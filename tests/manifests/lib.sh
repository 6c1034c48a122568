# Shared helpers of the `manifests` test tier. Objects are parsed by kubectl
# itself (`annotate --local` prints any object through JSONPath without a
# cluster), so the tests need nothing beyond kubectl, awk and the shell.
# Source this file; it expects `set -euo pipefail` in the caller.

KUBECTL=${KUBECTL:-kubectl}
# Byte order for sort and ls, whatever the machine's locale.
export LC_ALL=C
failures=0
checks=0
# A scratch directory per test, removed on exit.
work=$(mktemp -d "${TMPDIR:-/tmp}/schemaop-manifests.XXXXXX")
trap 'rm -rf "$work"' EXIT
# No cluster is contacted, but kubectl must not pick up a user's kubeconfig.
export KUBECONFIG="$work/no-kubeconfig"
: >"$KUBECONFIG"

# jp FILE JSONPATH: evaluates JSONPATH on every object of FILE; missing keys
# are an error (exit status 1), so a typo in a test cannot pass silently.
jp() {
  "$KUBECTL" annotate --local -f "$1" schemaop.dev/test=1 --allow-missing-template-keys=false \
    -o jsonpath="$2" 2>"$work/jp.err" || {
    echo "jsonpath $2 on $1 failed: $(head -c 300 "$work/jp.err")" >&2
    return 1
  }
}

# jp_opt FILE JSONPATH: like jp, but a missing key prints nothing.
jp_opt() {
  "$KUBECTL" annotate --local -f "$1" schemaop.dev/test=1 -o jsonpath="$2" 2>"$work/jp.err"
}

# render DIR OUT: `kubectl kustomize DIR` into OUT, failing loudly, also on
# any warning (a deprecated field such as `bases:` or `patchesJson6902:`
# warns on every apply with current kubectl).
render() {
  if ! "$KUBECTL" kustomize "$1" >"$2" 2>"$work/kustomize.err"; then
    echo "kubectl kustomize $1 failed:" >&2
    cat "$work/kustomize.err" >&2
    exit 1
  fi
  if [ -s "$work/kustomize.err" ]; then
    echo "kubectl kustomize $1 warned (use resources:/patches:, see manifests/README.md):" >&2
    cat "$work/kustomize.err" >&2
    exit 1
  fi
}

# split_objects RENDERED DIR: one file per object, named Kind_name.yaml.
# kustomize separates objects with a bare `---` line; block scalars are
# indented, so that line cannot occur inside an object.
split_objects() {
  local rendered=$1 dir=$2 doc name
  mkdir -p "$dir"
  awk -v dir="$dir" 'BEGIN { n = 0; f = sprintf("%s/doc-%03d", dir, n) }
    /^---$/ { close(f); n++; f = sprintf("%s/doc-%03d", dir, n); next }
    { print > f }' "$rendered"
  for doc in "$dir"/doc-*; do
    name=$(jp "$doc" '{.kind}_{.metadata.name}')
    mv "$doc" "$dir/$name.yaml"
  done
}

# permissions FILE: one sorted line per (apiGroup, resource, verb) granted.
permissions() {
  jp "$1" '{range .rules[*]}{.apiGroups}{"\t"}{.resources}{"\t"}{.verbs}{"\n"}{end}' |
    awk -F'\t' '
      # [""] is the core group: an empty name, still one item.
      function items(s, out,   n) { gsub(/[][" ]/, "", s); n = split(s, out, ",")
        if (n == 0) { out[1] = ""; n = 1 }
        return n }
      { ng = items($1, g); nr = items($2, r); nv = items($3, v)
        for (i = 1; i <= ng; i++) for (j = 1; j <= nr; j++) for (k = 1; k <= nv; k++)
          printf "%s %s %s\n", (g[i] == "" ? "core" : g[i]), r[j], v[k] }' | sort
}

# check DESCRIPTION COMMAND...: runs COMMAND, records the outcome.
check() {
  local description=$1
  shift
  checks=$((checks + 1))
  if "$@"; then
    echo "ok   $description"
  else
    failures=$((failures + 1))
    echo "FAIL $description"
  fi
}

# equals EXPECTED ACTUAL: string equality that shows both sides on failure.
equals() {
  if [ "$1" == "$2" ]; then
    return 0
  fi
  case "$1$2" in
    *$'\n'*) diff <(printf '%s\n' "$1") <(printf '%s\n' "$2") | sed 's/^/  /' || true ;;
    *) printf '  expected: %s\n  actual:   %s\n' "$1" "$2" ;;
  esac
  return 1
}

# contains HAYSTACK NEEDLE: substring test that shows the haystack on failure.
contains() {
  case "$1" in
    *"$2"*) return 0 ;;
  esac
  printf '  expected to find: %s\n  in: %s\n' "$2" "$1"
  return 1
}

# finish: prints the CTest-readable summary and sets the exit status.
finish() {
  echo "$((checks - failures)) passed, $failures failed"
  [ "$failures" -eq 0 ]
}
