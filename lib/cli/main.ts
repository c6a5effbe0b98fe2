// The k6-ha command line: a thin commander layer over lib/sidecar (run, sidecar), lib/stack
// (stack up) and lib/tools (setup). Exit codes: 0 ok, 99 a gate failed (k6's own), 2 bad input,
// 3 a required tool is missing, 1 anything else.
import { Command } from 'commander';
import { CompareInterruptedError, ToolMissingError, UsageError } from '../shared/errors.ts';
import { registerCompareCommand } from '../compare/cli.ts';
import { registerRunCommands } from './run-commands.ts';
import { registerStackCommands } from './stack-commands.ts';
import { registerOperatorCommand } from './operator-command.ts';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('k6-ha')
    .description('HA experiments for stateful systems: k6 load at a fixed rate, a timed chaos plan, a gated verdict.')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    .addHelpText(
      'after',
      `
Examples:
  k6-ha run experiments/steady-state.json                 steady 150 events/s into a local 3-node JetStream cluster
  k6-ha run experiments/jetstream-r1-leader-pod-deleted.json   delete the stream leader's pod (R1) and see what it costs
  k6-ha run experiments/jetstream-r3-leader-pod-deleted.json --preset seed   the seed's 5-minute timings
  k6-ha run experiments/jetstream-r3-leader-crash.json    SIGKILL the leader instead (no lame-duck hand-over)
  k6-ha run experiments/x.json --dry-run                   show the plan with resolved targets; change nothing
  k6-ha sidecar experiments/x.json                          stack + sidecar only; run k6 yourself with the printed -e flags
  k6-ha run experiments/x.json --runners 3                  3 k6 runners as k6-operator starts them, one merged verdict
  k6-ha operator experiments/kyma-leader-pod-deleted.json --parallelism 3   k6-operator TestRun + in-cluster sidecar manifests

Exit codes: 0 all gates passed · 99 a gate failed · 2 invalid input · 3 a tool is missing · 130 interrupted`,
    );
  // Before the subcommands exist: they copy it, so a usage error in any of them exits 2, not 1.
  program.exitOverride();
  registerRunCommands(program);
  registerStackCommands(program);
  registerCompareCommand(program);
  registerOperatorCommand(program);
  return program;
}

export function exitCodeFor(err: unknown): number {
  if (err instanceof UsageError) return 2;
  if (err instanceof ToolMissingError) return 3;
  if (err instanceof CompareInterruptedError) return 130;
  return 1;
}

export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (typeof code === 'string' && code.startsWith('commander.')) {
      return ['commander.helpDisplayed', 'commander.help', 'commander.version'].includes(code) ? 0 : 2;
    }
    process.stderr.write(`k6-ha: ${(err as Error).message}\n`);
    if (exitCodeFor(err) === 1 && process.env['K6HA_DEBUG']) process.stderr.write(`${(err as Error).stack}\n`);
    return exitCodeFor(err);
  }
}

const invokedDirectly =
  process.argv[1] !== undefined &&
  /(?:lib\/cli\/main\.ts|build\/k6-ha\.mjs|bin\/k6-ha(?:\.js)?)$/.test(process.argv[1]);
if (invokedDirectly) {
  const code = await main(process.argv);
  // Exit explicitly once output is flushed: a lingering socket must not keep a finished run alive.
  process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
}
