import type { Section } from "./section.js";
import { buildSection } from "./sections/build.js";
import { cliSection } from "./sections/cli.js";
import { connectionsSection } from "./sections/connections.js";
import { datapathSection } from "./sections/datapath.js";
import { failoverSection } from "./sections/failover.js";
import { natlogSection } from "./sections/natlog.js";
import { rulesetSection } from "./sections/ruleset.js";
import { scalingSection } from "./sections/scaling.js";
import { survivalSection } from "./sections/survival.js";

/**
 * Every section of `npm run bench`, in the order they run and print. A section is
 * a module in bench/sections/ exporting a Section; datapath, connections,
 * failover and survival run in the network lab (test/lab/).
 */
export const SECTIONS: readonly Section[] = [buildSection, cliSection, scalingSection, rulesetSection, datapathSection, connectionsSection, natlogSection, failoverSection, survivalSection];
