#!/usr/bin/env node
// The `ns-sandbox` command. A committed file, so that npm links the bin at install time,
// before the build has produced dist/.
import '../dist/cli/main.js'
