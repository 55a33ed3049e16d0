// What analyze() knows about a recipe's allocation: its setup, where its measurements
// live, how many are missing, and (when none are) the allocation itself.

import type { Diagnostic } from '../analysis/diagnostic';
import { diag } from '../analysis/diagnostic';
import type { Recipe } from '../analysis/recipe';
import { modelFingerprint } from '../models/load';
import type { ModelHeader } from '../models/types';
import type { Plan } from '../plan';
import { allocate, missingMeasurements, type AllocationResult, type MissingMeasurement } from './allocate';
import { calibrationContext, loadMeasurements, measurementFile, type MeasureContext } from './measurements';
import { allocationSetup, type AllocationSetup } from './setup';

export interface AllocationState {
  setup: AllocationSetup;
  context?: MeasureContext;
  /** The measurement table's file (absent for a recipe with no path, e.g. unsaved). */
  file?: string;
  missing: MissingMeasurement[];
  /** Present when every figure is measured and the budget can be met. */
  result?: AllocationResult;
}

export function measureContextFor(
  recipe: Recipe,
  model: ModelHeader,
  calibrationFile: string | undefined,
): MeasureContext {
  return {
    model: model.path,
    modelFingerprint: modelFingerprint(model),
    calibration: calibrationContext(recipe.calibration, calibrationFile),
  };
}

/** The allocation of an analysed recipe, and the diagnostics it adds. */
export function allocationFor(
  recipe: Recipe,
  plan: Plan,
  model: ModelHeader,
  recipePath: string | undefined,
  calibrationFile: string | undefined,
): { state?: AllocationState; diagnostics: Diagnostic[] } {
  const setup = allocationSetup(recipe, plan);
  if (!setup || !recipe.allocate) return { diagnostics: [] };
  const diagnostics = [...setup.diagnostics];
  const state: AllocationState = { setup, missing: [] };
  if (diagnostics.some((d) => d.severity === 'error')) return { state, diagnostics };
  if (recipe.allocate.metric === 'output' && !recipe.calibration) {
    diagnostics.push(
      diag(
        'allocate/needs-calibration',
        'error',
        recipe.allocate.stmt,
        "metric output needs calibration data: add a 'calibration' statement (e.g. calibration generated), or use metric weight",
      ),
    );
    return { state, diagnostics };
  }
  state.context = measureContextFor(recipe, model, calibrationFile);
  if (recipePath) state.file = measurementFile(recipePath, state.context);
  const table = state.file ? loadMeasurements(state.file, state.context) : undefined;
  state.missing = missingMeasurements(recipe, plan, setup, table, recipe.allocate.metric);
  if (table && state.missing.length === 0) {
    state.result = allocate(recipe, plan, setup, table, recipe.allocate.metric);
  } else {
    const errors = state.missing.filter((m) => m.kind === 'error').length,
      klds = state.missing.length - errors;
    const what = [errors ? `${errors} (tensor, candidate) errors` : '', klds ? `${klds} KL divergences` : '']
      .filter(Boolean)
      .join(' and ');
    diagnostics.push(
      diag(
        'allocate/needs-measuring',
        'info',
        recipe.allocate.stmt,
        `${what} not measured yet: run bitsmith allocate on this recipe (or Run Recipe, which measures first). Until then sizes use the defaults' format`,
      ),
    );
  }
  return { state, diagnostics };
}
