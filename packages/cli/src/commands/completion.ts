/**
 * `shmsnap completion bash|zsh` prints a completion script and `shmsnap man`
 * the man page, both generated from the program's own command definitions
 * (render/command-model.ts) at the time they run: what they list is what the
 * program parses.
 */
import { Argument, type Command } from 'commander';
import type { CliContext } from '../context.js';
import { EXIT_OK } from '../exit-codes.js';
import { describeProgram } from '../render/command-model.js';
import { completionScript, SHELLS, type Shell } from '../render/completion.js';
import { manPage } from '../render/man-page.js';

export function defineCompletionCommand(program: Command, context: CliContext): void {
  program
    .command('completion')
    .description('Print a shell completion script, generated from these commands and flags. bash: source <(shmsnap completion bash), or save it in /etc/bash_completion.d/shmsnap; zsh: save it as _shmsnap in a directory of $fpath.')
    .addArgument(new Argument('<shell>', 'the shell').choices(SHELLS))
    .action((shell: Shell) => {
      context.streams.stdout.write(completionScript(shell, describeProgram(program)));
      context.setExit(EXIT_OK);
    });
}

export function defineManCommand(program: Command, context: CliContext): void {
  program
    .command('man')
    .description('Print the man page (roff), generated from these commands and flags: shmsnap man | man -l -, or save it as shmsnap.1 in a man1 directory.')
    .action(() => {
      context.streams.stdout.write(manPage(describeProgram(program)));
      context.setExit(EXIT_OK);
    });
}
