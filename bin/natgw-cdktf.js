#!/usr/bin/env node
// The app cdktf.json names: `cdktf synth` runs it with CDKTF_OUTDIR and the context set.
import { synthApp } from "../dist/cdktf.js";

process.exitCode = synthApp();
