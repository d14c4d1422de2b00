import { build } from "../../scripts/build.js";

/**
 * The CLI tests run the real `bin/natgw.js`, which loads the bundle in dist/:
 * build it once before any test, as `npm run build` does (type check included;
 * the compiler's type errors fail the run here).
 */
export default async function setup(): Promise<void> {
  await build();
}
