// bitsmith: the command line over core. Exit codes: 0 ok, 1 recipe or model errors,
// 2 usage errors. --json prints machine-readable results on stdout.

import { Command, CommanderError } from 'commander';
import { checkCommand } from './commands/check';
import { budgetCommand } from './commands/budget';
import { inspectCommand } from './commands/inspect';
import { runCommand, type RunOptions } from './commands/run';
import { exportCommand } from './commands/export';
import { allocateCommand, type AllocateOptions } from './commands/allocate';
import { version } from './version';

// A reader that goes away (`bitsmith budget r.quant | head`) is not an error of ours: stop quietly.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
}

const MODEL_HELP =
  "read this model instead of the recipe's: a path (relative to the current folder) or a Hugging Face id org/name[@revision] in the local cache";

const program = new Command();
program
  .name('bitsmith')
  .description('Quantization recipes for LLMs: check them, see their bit budget, inspect models.')
  .version(version)
  .exitOverride()
  .configureOutput({ writeErr: (s) => process.stderr.write(s) });

program
  .command('check')
  .description('report the problems in a recipe (exit 1 if there are errors)')
  .argument('<recipe>', 'a .quant file')
  .option('--json', 'print diagnostics as JSON (0-based LSP ranges)')
  .option('--model <model>', MODEL_HELP)
  .action((recipe: string, opts: { json?: boolean; model?: string }) => {
    process.exitCode = checkCommand(recipe, opts);
  });

program
  .command('budget')
  .description('per-rule and per-tensor bits per weight and bytes of a recipe')
  .argument('<recipe>', 'a .quant file')
  .option('--json', 'print the plan as JSON')
  .option('--model <model>', MODEL_HELP)
  .action((recipe: string, opts: { json?: boolean; model?: string }) => {
    process.exitCode = budgetCommand(recipe, opts);
  });

program
  .command('inspect')
  .description('architecture, tensors (shape, dtype), parameters and size of a model')
  .argument('<model>', 'a Hugging Face folder, .safetensors, .gguf or llama2.c .bin')
  .option('--json', 'print as JSON')
  .action((model: string, opts: { json?: boolean }) => {
    process.exitCode = inspectCommand(model, opts);
  });

program
  .command('run')
  .description('quantize the model as the recipe says: per-tensor error, bits, and the fake-quant output')
  .argument('<recipe>', 'a .quant file')
  .option('--json', 'print the report as JSON')
  .option('--events', 'print progress events as JSON lines (then the report)')
  .option('--threads <n>', "worker threads (default: the recipe's threads, else all cores)")
  .option('--report-dir <dir>', 'where to save the report (default: <recipe folder>/.bitsmith/reports)')
  .option('--force-memory', 'run even when the estimated peak memory exceeds the available memory')
  .option('--model <model>', MODEL_HELP)
  .action((recipe: string, opts: RunOptions) =>
    runCommand(recipe, opts).then(
      (code) => {
        process.exitCode = code;
      },
      (e) => {
        process.stderr.write(`bitsmith: ${(e as Error).stack ?? e}\n`);
        process.exitCode = 1;
      },
    ),
  );

program
  .command('allocate')
  .description(
    'choose a format per tensor under the budget (allocate { formats ... }): measures what is not cached, then prints the mix',
  )
  .argument('<recipe>', 'a .quant file')
  .option('--json', 'print the allocation as JSON')
  .option('--frontier', 'also print the size-error frontier over budgets')
  .option('--events', 'print measuring progress as JSON lines, then the allocation')
  .option('--threads <n>', 'worker threads for measuring')
  .option('--model <model>', MODEL_HELP)
  .action((recipe: string, opts: AllocateOptions) =>
    allocateCommand(recipe, opts).then(
      (code) => {
        process.exitCode = code;
      },
      (e) => {
        process.stderr.write(`bitsmith: ${(e as Error).stack ?? e}\n`);
        process.exitCode = 1;
      },
    ),
  );

program
  .command('export')
  .description("write the recipe's translations (export llm_compressor / llama_quantize) without running it")
  .argument('<recipe>', 'a .quant file')
  .option('--json', 'print the written files and what did not translate as JSON')
  .option('--model <model>', MODEL_HELP)
  .action((recipe: string, opts: { json?: boolean; model?: string }) => {
    process.exitCode = exportCommand(recipe, opts);
  });

try {
  program.parse(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // --help and --version exit 0; everything else commander rejects is a usage error.
    process.exitCode = e.exitCode === 0 ? 0 : 2;
  } else {
    process.stderr.write(`bitsmith: ${(e as Error).stack ?? e}\n`);
    process.exitCode = 2;
  }
}
