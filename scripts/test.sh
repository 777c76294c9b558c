#!/usr/bin/env bash
# The whole test suite, as `npm test` runs it: static checks, unit and integration tests
# (Vitest), then end-to-end tests (Playwright) against a production build.
#
# Data-layer tests run on embedded PGlite always, and on the real Postgres at
# TEST_DATABASE_URL when it is set; Redis tests use TEST_REDIS_URL. Under CI=true a
# missing service fails the run instead of skipping its tests.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "Node $(node --version)"
step "Type check";  npm run --silent typecheck
step "Lint";        npm run --silent lint
step "Format";      npm run --silent format:check
# Found (or installed) first: the SFU's Vitest suite drives a Chromium too.
step "Browsers"
browsers=$(node scripts/ensure-browsers.mjs chromium firefox)
echo "$browsers"
while IFS='=' read -r name value; do export "$name=$value"; done <<<"$browsers"

step "Unit and integration tests (Vitest)"
npx vitest run

step "Production build"
npm run --silent build
step "End-to-end tests (Playwright)"
npx playwright test
