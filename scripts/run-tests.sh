#!/usr/bin/env bash
# Runs the whole vitest suite and ends with one plain "N passed, N failed" line that any CI can read.
set -uo pipefail
cd "$(dirname "$0")/.."
results="$(mktemp -t sharp-eyes-tests-XXXXXX.json)"
trap 'rm -f "$results"' EXIT
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@"
rc=$?
node -e '
  const fs = require("fs");
  let r;
  try { r = JSON.parse(fs.readFileSync(process.argv[1], "utf8")); } catch { console.log("0 passed, 1 failed"); process.exit(0); }
  const skipped = (r.numPendingTests || 0) + (r.numTodoTests || 0);
  console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$results"
if [ "$rc" -eq 0 ]; then
  node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); process.exit(r.numTotalTests>0?0:1)' "$results" || { echo "no tests ran" >&2; exit 1; }
fi
exit "$rc"
