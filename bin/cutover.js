#!/usr/bin/env node
// Runs the built CLI (npm run build); from a source checkout use `npx tsx src/cli.ts`.
import '../dist/cli.js'
