#!/usr/bin/env bash
# A first session with the lexigram-storage command line, on the zero-config default:
# no config file, so every command works on a local store under ./storage/data.
# Runs in a fresh temporary folder, so it leaves the checkout clean.
set -euo pipefail

work="$(mktemp -d -t lexigram-demo-XXXXXX)"
cd "$work"
echo "# in $work (empty: no lexigram-storage.yaml, so the local default ./storage/data is used)"

run() {
  echo
  echo "\$ lexigram-storage $*"
  lexigram-storage "$@"
}

printf 'month,revenue\noct,10\nnov,12\n' > q4.csv
mkdir -p site/css
echo '<h1>hello</h1>' > site/index.html
echo 'body { margin: 0 }' > site/css/style.css

run cp q4.csv local:reports/2026/q4.csv
run cp -r -q site local:site
run ls
run ls -r local:site
run stat local:reports/2026/q4.csv
run cat local:reports/2026/q4.csv
run sync -q site local:site
echo 'h1 { color: teal }' >> site/css/style.css
run sync -q --dry-run site local:site
run sync -q site local:site
run kv set flags:dark_mode true
run kv get flags:dark_mode
run health
run config check
run rm -r --yes local:site
run ls -r
echo
echo "# done; the store is in $work/storage"
