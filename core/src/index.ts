// Public API of core: the recipe language and model headers, pure TypeScript, no vscode.
export * from './syntax/ast';
export { lex } from './syntax/lexer';
export { parse, UNIT_WORDS, TOP_LEVEL_ONLY } from './syntax/parser';
export * from './language/formats';
export * from './language/schema';
export * from './analysis/diagnostic';
export * from './analysis/recipe';
export * from './analysis/bits';
export * from './analysis/resolve';
export { checkPlan, checkRecipe, formatBytes } from './analysis/checks';
export * from './analysis/analyze';
export { compilePattern } from './analysis/pattern';
export * from './plan';
export * from './text';
export * from './models/types';
export { readModelHeader } from './models/load';
export * from './serialize';
export { notExecutable, RUN_METHODS, RUN_OUTPUTS } from './analysis/executable';
