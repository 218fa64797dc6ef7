// Scenarios that need a provider beyond age (the 1,000-key sops file) plug in here, so run.ts
// stays the same as providers land.
import type { Table } from './lib.js';

export interface ScenarioContext {
  quick: boolean;
  runs: number;
  workDir(): string;
}

import { fleetScenario } from './fleet.js';
import { runtimeScenario } from './runtime.js';
import { sopsScenario } from './sops.js';
import { bitwardenScenario } from './bitwarden.js';
import { onePasswordLatencyScenario, onePasswordLoadScenario } from './onepassword.js';

export const extraScenarios: ((context: ScenarioContext) => Table)[] = [sopsScenario, onePasswordLatencyScenario, onePasswordLoadScenario, bitwardenScenario, runtimeScenario, fleetScenario];
